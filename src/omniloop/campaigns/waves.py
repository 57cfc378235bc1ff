"""Campaign waves (营销波次): one row a wave with its kind (test | full) and schedule.

A wave can change until it starts; ``seq`` is unique within the campaign. Waves of a stopped or
completed campaign are history and do not change.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omniloop.campaigns.models import Campaign, CampaignWave
from omniloop.campaigns.schemas import WaveCreate, WaveUpdate
from omniloop.core import audit
from omniloop.core.errors import Conflict, NotFound
from omniloop.org.auth import Principal

CLOSED_CAMPAIGN = ("stopped", "completed")


def list_waves(session: Session, *, campaign_id: int) -> list[CampaignWave]:
    return list(session.scalars(select(CampaignWave).where(CampaignWave.campaign_id == campaign_id)
                                .order_by(CampaignWave.seq)))


def get_wave(session: Session, *, campaign: Campaign, wave_id: int) -> CampaignWave:
    wave = session.scalar(select(CampaignWave).where(CampaignWave.id == wave_id,
                                                     CampaignWave.campaign_id == campaign.id))
    if wave is None:
        raise NotFound("波次不存在", "Wave not found", code="wave_not_found", details={"wave_id": wave_id})
    return wave


def _open(campaign: Campaign) -> None:
    if campaign.status in CLOSED_CAMPAIGN:
        raise Conflict("活动已结束，波次不能修改", "The campaign has ended; its waves cannot change",
                       code="campaign_closed", details={"status": campaign.status})


def _seq_free(session: Session, campaign: Campaign, seq: int, exclude: int | None = None) -> None:
    stmt = select(CampaignWave.id).where(CampaignWave.campaign_id == campaign.id, CampaignWave.seq == seq)
    if exclude is not None:
        stmt = stmt.where(CampaignWave.id != exclude)
    if session.scalar(stmt) is not None:
        raise Conflict("波次序号已存在", "A wave with this number exists", code="wave_seq_taken",
                       details={"seq": seq})


def create_wave(*, session: Session, principal: Principal, campaign: Campaign, data: WaveCreate) -> CampaignWave:
    _open(campaign)
    seq = data.seq or (session.scalar(select(func.max(CampaignWave.seq))
                                      .where(CampaignWave.campaign_id == campaign.id)) or 0) + 1
    _seq_free(session, campaign, seq)
    wave = CampaignWave(campaign_id=campaign.id, seq=seq, name=data.name, kind=data.kind,
                        scheduled_at=data.scheduled_at, status="scheduled", cursor=0)
    session.add(wave)
    session.flush()
    audit.record(session, actor=principal.actor, action="campaign.wave.create", entity_type="campaign_wave",
                 entity_id=wave.id, after=audit.snapshot(wave))
    return wave


def _not_started(wave: CampaignWave) -> None:
    if wave.status != "scheduled" or wave.started_at is not None:
        raise Conflict("波次已开始执行，不能修改", "The wave has started; it cannot change", code="wave_started",
                       details={"wave_id": wave.id, "status": wave.status})


def update_wave(*, session: Session, principal: Principal, campaign: Campaign, wave: CampaignWave,
                data: WaveUpdate) -> CampaignWave:
    _open(campaign)
    _not_started(wave)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None or k == "scheduled_at"}
    if "seq" in changes:
        _seq_free(session, campaign, changes["seq"], exclude=wave.id)
    before = audit.snapshot(wave)
    for key, value in changes.items():
        setattr(wave, key, value)
    session.flush()
    audit.record(session, actor=principal.actor, action="campaign.wave.update", entity_type="campaign_wave",
                 entity_id=wave.id, before=before, after=audit.snapshot(wave))
    return wave


def delete_wave(*, session: Session, principal: Principal, campaign: Campaign, wave: CampaignWave) -> None:
    _open(campaign)
    _not_started(wave)
    before = audit.snapshot(wave)
    session.delete(wave)
    session.flush()
    audit.record(session, actor=principal.actor, action="campaign.wave.delete", entity_type="campaign_wave",
                 entity_id=before["id"], before=before)
