"""The campaign state machine (活动状态): draft → ready → testing → running ⇄ paused → stopped | completed.

| action      | from                       | to        | what else happens                                        |
|-------------|----------------------------|-----------|----------------------------------------------------------|
| ready       | draft                      | ready     | configuration complete (``config.missing`` empty)        |
| launch_test | ready                      | testing   | needs test_pct > 0 (and a test wave in batch mode)       |
| launch      | ready, testing             | running   | due waves are queued; later ones start at scheduled_at   |
| pause       | testing, running           | paused    | no further chunk starts; pending outbox rows are *held*  |
| resume      | paused                     | running / testing (what it was)                                      |
| stop        | ready, testing, running, paused | stopped | waves cancelled; pending outbox rows cancelled        |
| (automatic) | running                    | completed | a batch campaign whose waves have all finished           |

Pause holds rather than cancels: no further chunk (or trigger firing) is processed, and the outbox rows
already decided stay ``pending`` — nothing is cancelled or released, so resuming carries on exactly where
the wave stopped. Holding those rows back from the dispatcher needs ``contacts.dispatch.claim`` to skip
campaigns that are not testing / running (reported to the contacts owner); with the built-in sink they are
delivered within seconds of their decision anyway. Stopping cancels pending rows and releases their
benefits (``contacts.dispatch.cancel``).
Every launch path calls ``service.assert_launchable`` (409 ``plan_not_approved``). Every transition is
audited. Illegal transitions answer 409 ``illegal_transition`` with the allowed actions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.campaigns import config
from omniloop.campaigns.models import Campaign, CampaignWave
from omniloop.campaigns.service import assert_launchable
from omniloop.core import audit
from omniloop.core.audit import Actor
from omniloop.core.db import utcnow
from omniloop.core.errors import Conflict
from omniloop.jobs import service as job_service
from omniloop.jobs.models import Job

TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "ready": (("draft",), "ready"),
    "launch_test": (("ready",), "testing"),
    "launch": (("ready", "testing"), "running"),
    "pause": (("testing", "running"), "paused"),
    "resume": (("paused",), "running"),
    "stop": (("ready", "testing", "running", "paused"), "stopped"),
}
WAVE_JOB = "campaigns.wave"
TICK_JOB = "campaigns.tick"


class IllegalTransition(Conflict):
    code = "illegal_transition"
    message_zh = "活动当前状态不允许此操作"
    message_en = "This action is not allowed in the campaign's current status"


class NotReady(Conflict):
    code = "campaign_incomplete"
    message_zh = "活动配置不完整"
    message_en = "The campaign's configuration is incomplete"


def allowed_actions(campaign: Campaign) -> list[str]:
    return [action for action, (sources, _) in TRANSITIONS.items() if campaign.status in sources]


def declare_schedules(session: Session) -> None:
    """The minute tick that starts scheduled waves and feeds triggered / real-time campaigns."""
    job_service.upsert_schedule(session, key=TICK_JOB, job_name=TICK_JOB, cron="* * * * *")


def _job_active(session: Session, job_id: int | None) -> bool:
    if job_id is None:
        return False
    return session.scalar(select(Job.status).where(Job.id == job_id)) in ("queued", "running")


def queue_due_waves(session: Session, campaign: Campaign, *, now: datetime | None = None) -> list[CampaignWave]:
    """Queue a ``campaigns.wave`` job for every wave of the campaign that may run now and has none live."""
    now = now or utcnow()
    if campaign.mode != "batch" or campaign.status not in ("testing", "running"):
        return []
    kinds = ("test",) if campaign.status == "testing" else ("test", "full")
    waves = session.scalars(select(CampaignWave).where(
        CampaignWave.campaign_id == campaign.id, CampaignWave.kind.in_(kinds),
        CampaignWave.status.in_(("scheduled", "running", "paused"))).order_by(CampaignWave.seq)).all()
    queued = []
    for wave in waves:
        if wave.scheduled_at is not None and wave.scheduled_at > now:
            continue
        if _job_active(session, wave.job_id):
            continue
        job = job_service.enqueue(session, name=WAVE_JOB, args={"wave_id": wave.id}, created_by=campaign.launched_by_id)
        wave.job_id = job.id
        queued.append(wave)
    session.flush()
    return queued


def _guard(campaign: Campaign, action: str) -> str:
    sources, target = TRANSITIONS[action]
    if campaign.status not in sources:
        raise IllegalTransition(details={"status": campaign.status, "action": action,
                                         "allowed_actions": allowed_actions(campaign)})
    return target


def transition(session: Session, *, campaign: Campaign, action: str, actor: Actor, reason: str | None = None,
               now: datetime | None = None) -> Campaign:
    """Apply ``action``; raises 409 on an illegal transition, an incomplete configuration or an unapproved plan."""
    now = now or utcnow()
    if action not in TRANSITIONS:
        raise IllegalTransition(details={"action": action})
    target = _guard(campaign, action)
    before = {"status": campaign.status}
    if action in ("ready", "launch_test", "launch", "resume"):
        needed = config.missing(campaign, session)
        if needed:
            raise NotReady(details={"missing": needed})
    if action in ("launch_test", "launch", "resume"):
        assert_launchable(session, campaign.id)
    if action == "launch_test":
        if campaign.test_pct <= 0:
            raise NotReady("试点组比例为 0，无法发布试点", "The test cell is 0 %; there is nothing to test",
                           code="no_test_cell")
        if campaign.mode == "batch" and session.scalar(select(CampaignWave.id).where(
                CampaignWave.campaign_id == campaign.id, CampaignWave.kind == "test").limit(1)) is None:
            raise NotReady("请先添加试点波次", "Add a test wave first", code="no_test_wave")
    if action == "resume":
        target = "running" if campaign.launched_at is not None else "testing"
    if action == "launch":
        campaign.launched_at = now
        campaign.launched_by_id = actor.user_id
    if action == "launch_test" and campaign.launched_by_id is None:
        campaign.launched_by_id = actor.user_id
    if action == "stop":
        campaign.ended_at = now
    campaign.status = target
    campaign.updated_at = now
    session.flush()
    if action == "stop":
        _stop_execution(session, campaign, actor=actor, now=now)
    if target in ("testing", "running"):
        declare_schedules(session)
        if campaign.mode == "batch":
            queue_due_waves(session, campaign, now=now)
        else:
            from omniloop.campaigns.streams import stream_wave
            stream_wave(session, campaign)
            job_service.enqueue(session, name=TICK_JOB, args={"campaign_id": campaign.id},
                                created_by=actor.user_id)
    audit.record(session, actor=actor, action=f"campaign.{action}", entity_type="campaign", entity_id=campaign.id,
                 before=before, after={"status": campaign.status, **({"reason": reason} if reason else {})})
    return campaign


def _stop_execution(session: Session, campaign: Campaign, *, actor: Actor, now: datetime) -> None:
    for wave in session.scalars(select(CampaignWave).where(
            CampaignWave.campaign_id == campaign.id, CampaignWave.status.in_(("scheduled", "running", "paused")))):
        wave.status, wave.finished_at = "cancelled", now
        if _job_active(session, wave.job_id):
            try:  # the wave's job stops at its next chunk anyway; this only saves it a start
                job_service.cancel(session, job_id=wave.job_id, actor=actor, now=now)
            except Conflict:
                pass
    from omniloop.contacts import dispatch  # imports campaigns.models: import late

    dispatch.cancel(session, campaign_id=campaign.id, reason="campaign_stopped", now=now)
    session.flush()

