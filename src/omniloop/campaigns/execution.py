"""Wave execution (波次执行): the chunk step shared by batch waves, real-time passes and trigger firings.

``run_chunk`` takes ≤ 10 000 (customer, occasion) pairs and, in the caller's transaction: drops customers
outside the campaign owner's org subtree, on the campaign filters or on its suppression lists; assigns the
cells (``assignment.cell``) and writes ``campaign_members``; asks the contact policy
(``contacts.service.evaluate``, which takes the contact lock) about the cells that are contacted;
reserves the benefit for the allowed ones (a customer the inventory cannot serve is skipped with
``benefit_exhausted``); and hands decisions and grants to ``contacts.service.record`` (decisions + outbox).
Every insert is ``ON CONFLICT DO NOTHING`` on its unique key, so running a chunk twice writes nothing twice.

``run_wave`` freezes the wave's audience as a snapshot, then commits one chunk a transaction and moves
``campaign_waves.cursor`` (the last customer id done) in the same transaction — a restart continues
after the last committed chunk. The wave row is locked at the start of each chunk, so two workers running
the same wave (an expired lease) do each chunk once. The wave funnel is counted from the rows written.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pyroaring import BitMap
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from omniloop.audiences import service as audience_service
from omniloop.audiences.engine import AudienceEngine
from omniloop.audiences.models import Audience
from omniloop.benefits import service as benefit_service
from omniloop.campaigns import assignment, holdout
from omniloop.campaigns.models import Campaign, CampaignMember, CampaignWave
from omniloop.campaigns.service import assert_launchable
from omniloop.contacts import service as contact_service
from omniloop.contacts import suppression
from omniloop.contacts.models import ContactDecision
from omniloop.contacts.policy import Decision, Proposal
from omniloop.content.models import MessageTemplate, MessageTemplateVersion
from omniloop.core.db import insert_for, utcnow
from omniloop.core.errors import Forbidden
from omniloop.customers.models import Customer
from omniloop.org import service as org_service
from omniloop.org.auth import Principal
from omniloop.org.models import Org, User

log = logging.getLogger(__name__)

CHUNK_SIZE = 10_000
BENEFIT_EXHAUSTED = "benefit_exhausted"
# Funnel steps a member can be filtered at, in order (campaign_members.filtered_reason).
FILTER_REASONS = ("out_of_scope", "campaign_filter", "suppression_list")


def occasion_of_wave(wave_id: int) -> str:
    return f"wave:{wave_id}"


def occasion_of_firing(firing_id: int) -> str:
    return f"firing:{firing_id}"


@dataclass
class RunContext:
    """What every chunk of one wave needs, computed once."""

    campaign: Campaign
    wave_id: int | None
    contact_cells: frozenset[str]  # cells contacted in this wave; the others are only recorded
    record_cells: frozenset[str]  # cells whose membership this wave records (and filtered customers)
    excluded: BitMap = field(default_factory=BitMap)  # matched the campaign filters
    holdout_salt: str | None = None
    holdout_pct: int = 0
    template_versions: dict[str, int] = field(default_factory=dict)
    owner_path: str = "/"


def template_versions(session: Session, campaign: Campaign) -> dict[str, int]:
    """channel → id of the current version of the campaign's template for it."""
    ids = {channel: tid for channel, tid in (campaign.template_ids or {}).items() if channel in campaign.channels}
    if not ids:
        return {}
    rows = session.execute(
        select(MessageTemplate.id, MessageTemplateVersion.id)
        .join(MessageTemplateVersion, (MessageTemplateVersion.template_id == MessageTemplate.id)
              & (MessageTemplateVersion.version == MessageTemplate.current_version))
        .where(MessageTemplate.id.in_(set(ids.values())))).all()
    by_template = dict(rows)
    return {channel: by_template[tid] for channel, tid in ids.items() if tid in by_template}


def campaign_principal(session: Session, campaign: Campaign) -> Principal:
    """The user the campaign runs as (who launched it, else who created it): scope of its snapshots."""
    user = session.get(User, campaign.launched_by_id or campaign.created_by_id or 0)
    if user is None or not user.is_active:
        raise Forbidden("活动发起人已停用，无法执行", "The campaign's launcher is no longer active",
                        code="launcher_inactive", details={"campaign_id": campaign.id})
    return Principal(user=user, org=session.get(Org, user.org_id), token_hash="")


def filter_members(session: Session, principal: Principal, engine: AudienceEngine | None,
                   campaign: Campaign) -> BitMap:
    """Customers matching the campaign filters (过滤条件): they are excluded."""
    if not campaign.filters or engine is None:
        return BitMap()
    return engine.prepare(session, principal, campaign.filters).members()


ALL_CELLS = frozenset({"test", "main", "control", "global_holdout"})


def make_context(session: Session, *, campaign: Campaign, wave: CampaignWave | None,
                 engine: AudienceEngine | None, principal: Principal | None = None,
                 stream: bool = False) -> RunContext:
    """``stream``: a triggered / real-time campaign — every occasion is new, so all cells are recorded; while
    testing only the test cell is contacted, once running the test and main cells."""
    kind = wave.kind if wave is not None else "full"
    if stream:
        contact = frozenset({"test"}) if campaign.status == "testing" else frozenset({"test", "main"})
        record = ALL_CELLS
    elif kind == "test":
        contact, record = frozenset({"test"}), frozenset({"test"})
    else:
        test_done = session.scalar(select(CampaignWave.id).where(
            CampaignWave.campaign_id == campaign.id, CampaignWave.kind == "test",
            CampaignWave.status.in_(("running", "paused", "done")))) is not None
        contact = frozenset({"main"} if test_done else {"main", "test"})
        record = frozenset({"main", "control", "global_holdout"} | (set() if test_done else {"test"}))
    salt, pct = holdout.active(session)
    principal = principal or campaign_principal(session, campaign)
    owner_path = session.scalar(select(Org.path).where(Org.id == campaign.owner_org_id)) or "/"
    return RunContext(campaign=campaign, wave_id=wave.id if wave is not None else None, contact_cells=contact,
                      record_cells=record, excluded=filter_members(session, principal, engine, campaign),
                      holdout_salt=salt, holdout_pct=pct, template_versions=template_versions(session, campaign),
                      owner_path=owner_path)


def _in_scope(session: Session, owner_path: str, customer_ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(customer_ids), CHUNK_SIZE):
        part = list(customer_ids[start:start + CHUNK_SIZE])
        found.update(session.scalars(select(Customer.id).join(Org, Org.id == Customer.org_id).where(
            Customer.id.in_(part), org_service.subtree_condition(Org.path, owner_path))))
    return found


@dataclass
class Classified:
    """A chunk's customers after the filters and the cell assignment (no database writes)."""

    filtered: dict[int, str]  # customer → filter reason
    cells: dict[int, str]  # customer → cell, for those not filtered


def classify(session: Session, ctx: RunContext, customer_ids: Sequence[int], *, now: datetime) -> Classified:
    campaign = ctx.campaign
    scope = _in_scope(session, ctx.owner_path, customer_ids)
    on_lists = suppression.suppressed(session, customer_ids=list(customer_ids),
                                      list_ids=list(campaign.suppression_list_ids or []), now=now)
    filtered: dict[int, str] = {}
    cells: dict[int, str] = {}
    for cid in customer_ids:
        if cid not in scope:
            filtered[cid] = "out_of_scope"
        elif cid in ctx.excluded:
            filtered[cid] = "campaign_filter"
        elif cid in on_lists:
            filtered[cid] = "suppression_list"
        else:
            cells[cid] = assignment.cell(campaign.assignment_salt or "", campaign.id, cid, campaign.test_pct,
                                         campaign.control_pct, holdout_salt=ctx.holdout_salt,
                                         holdout_pct=ctx.holdout_pct)
    return Classified(filtered, cells)


def proposals_for(campaign: Campaign, items: Iterable[tuple[int, str]], now: datetime) -> list[Proposal]:
    return [Proposal(campaign_id=campaign.id, occasion=occasion, customer_id=cid, channels=tuple(campaign.channels),
                     campaign_type=campaign.campaign_type, priority=campaign.priority,
                     expected_value_fen=campaign.expected_value_fen or 0, at=now) for cid, occasion in items]


def run_chunk(session: Session, ctx: RunContext, items: Sequence[tuple[int, str]], *,
              now: datetime | None = None) -> dict[str, int]:
    """One chunk of (customer, occasion) pairs through filters, cells, policy, benefit and outbox.

    Runs in the caller's transaction; the caller commits right after (that releases the contact lock).
    Returns counts (members written by cell, decisions by outcome) for logs and tests.
    """
    now = now or utcnow()
    campaign = ctx.campaign
    occasions = dict(items)
    classified = classify(session, ctx, list(occasions), now=now)
    rows = [dict(campaign_id=campaign.id, occasion=occasions[cid], wave_id=ctx.wave_id, customer_id=cid,
                 cell="filtered", filtered_reason=reason, assigned_at=now)
            for cid, reason in classified.filtered.items()]
    rows += [dict(campaign_id=campaign.id, occasion=occasions[cid], wave_id=ctx.wave_id, customer_id=cid, cell=cell,
                  filtered_reason=None, assigned_at=now)
             for cid, cell in classified.cells.items() if cell in ctx.record_cells]
    counts: Counter[str] = Counter()
    if rows:  # executemany: one compiled statement (a multi-row VALUES would compile every row's parameters)
        result = session.connection().execute(
            insert_for(session)(CampaignMember.__table__).on_conflict_do_nothing(), rows)
        counts["members"] = max(result.rowcount or 0, 0)
    contacted = [(cid, occasions[cid]) for cid, cell in classified.cells.items() if cell in ctx.contact_cells]
    if not contacted:
        return dict(counts)
    decisions = contact_service.evaluate(session, proposals=proposals_for(campaign, contacted, now), now=now)
    by_occasion: dict[str, list[Decision]] = {}
    for decision in decisions:
        by_occasion.setdefault(decision.occasion or occasions[decision.customer_id], []).append(decision)
    for occasion, group in by_occasion.items():
        grants: dict[int, int] = {}
        if campaign.benefit_id is not None:
            wanted = [d.customer_id for d in group if d.outcome != "skipped"]
            grants = benefit_service.reserve(session, benefit_id=campaign.benefit_id, campaign_id=campaign.id,
                                             occasion=occasion, customer_ids=wanted, now=now) if wanted else {}
            group = [d if d.outcome == "skipped" or d.customer_id in grants else dataclasses.replace(
                d, outcome="skipped", reason=BENEFIT_EXHAUSTED, defer_until=None,
                detail={**(d.detail or {}), "benefit_id": campaign.benefit_id}) for d in group]
        recorded = contact_service.record(session, campaign_id=campaign.id, wave_id=ctx.wave_id, occasion=occasion,
                                          decisions=group, template_versions=ctx.template_versions, grants=grants)
        counts.update({f"decisions_{k}": v for k, v in (recorded or {}).items()})
    return dict(counts)


# ---- waves ------------------------------------------------------------------------------------------------

def wave_funnel(session: Session, wave: CampaignWave) -> dict:
    """Counts of the wave's members by cell and filter reason, and of its decisions by outcome and reason."""
    members = session.execute(select(CampaignMember.cell, CampaignMember.filtered_reason, func.count())
                              .where(CampaignMember.wave_id == wave.id)
                              .group_by(CampaignMember.cell, CampaignMember.filtered_reason)).all()
    decisions = session.execute(select(ContactDecision.outcome, ContactDecision.reason, ContactDecision.channel,
                                       func.count())
                                .where(ContactDecision.wave_id == wave.id)
                                .group_by(ContactDecision.outcome, ContactDecision.reason,
                                          ContactDecision.channel)).all()
    cells: Counter[str] = Counter()
    filtered: Counter[str] = Counter()
    for cell, reason, n in members:
        cells[cell] += n
        if cell == "filtered":
            filtered[reason or "filtered"] += n
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    for outcome, reason, channel, n in decisions:
        outcomes[outcome] += n
        if outcome != "allowed" and reason:
            reasons[reason] += n
        if outcome != "skipped" and channel:
            channels[channel] += n
    return {"snapshot_size": None, "cells": dict(cells), "filtered": dict(filtered), "outcomes": dict(outcomes),
            "reasons": dict(reasons), "channels": dict(channels)}


def _hold_reason(campaign: Campaign, wave: CampaignWave) -> str | None:
    """Why the wave must not run a chunk now (None: it may)."""
    if campaign.status == "running" or (campaign.status == "testing" and wave.kind == "test"):
        return None
    return campaign.status


def _finish(session: Session, campaign: Campaign, wave: CampaignWave, *, status: str, now: datetime,
            snapshot_size: int | None = None) -> None:
    funnel = wave_funnel(session, wave)
    funnel["snapshot_size"] = snapshot_size if snapshot_size is not None else (wave.funnel or {}).get("snapshot_size")
    wave.funnel = funnel
    wave.status = status
    wave.finished_at = now
    if status == "done" and campaign.status == "running" and campaign.mode == "batch":
        open_waves = session.scalar(select(func.count()).where(
            CampaignWave.campaign_id == campaign.id, CampaignWave.id != wave.id,
            CampaignWave.status.in_(("scheduled", "running", "paused"))))
        if not open_waves:
            campaign.status, campaign.ended_at = "completed", now


def _locked_wave(session: Session, wave_id: int) -> CampaignWave | None:
    stmt = select(CampaignWave).where(CampaignWave.id == wave_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    else:  # SQLite: a write takes the database lock now, so a second runner waits here
        session.execute(update(CampaignWave).where(CampaignWave.id == wave_id).values(cursor=CampaignWave.cursor))
    return session.scalar(stmt)


def run_wave(session_factory: sessionmaker[Session], *, wave_id: int, engine: AudienceEngine,
             chunk_size: int = CHUNK_SIZE, progress: Callable[[float, str], None] | None = None,
             now: Callable[[], datetime] = utcnow) -> dict:
    """Run (or continue) one batch wave; safe to call twice and after a crash. Returns a summary."""
    with session_factory() as session:
        wave = session.get(CampaignWave, wave_id)
        if wave is None:
            return {"skipped": "wave_not_found"}
        campaign = session.get(Campaign, wave.campaign_id)
        if wave.status in ("done", "cancelled", "failed"):
            return {"skipped": wave.status}
        if campaign.status == "stopped":
            wave.status, wave.finished_at = "cancelled", now()
            session.commit()
            return {"skipped": "stopped"}
        held = _hold_reason(campaign, wave)
        if held:
            if wave.status == "running":
                wave.status = "paused"
                session.commit()
            return {"held": held}
        assert_launchable(session, campaign.id)
        principal = campaign_principal(session, campaign)
        if wave.snapshot_id is None:
            audience = session.get(Audience, campaign.audience_id)
            snapshot = audience_service.create_snapshot(
                session=session, principal=principal, engine=engine, audience=audience,
                purpose=f"{campaign.code} 波次 {wave.seq} / wave {wave.seq}")
            wave.snapshot_id = snapshot.id
            wave.funnel = {"snapshot_size": snapshot.size}
        wave.status = "running"
        wave.started_at = wave.started_at or now()
        session.commit()
        from omniloop.audiences.models import AudienceSnapshot
        snapshot = session.get(AudienceSnapshot, wave.snapshot_id)
        members = audience_service.snapshot_members(snapshot)
        total = len(members)
        todo = [cid for cid in members if cid > wave.cursor]
        ctx = make_context(session, campaign=campaign, wave=wave, engine=engine, principal=principal)
        session.expunge_all()
    done_before = total - len(todo)
    chunks = 0
    for start in range(0, len(todo), chunk_size):
        chunk = todo[start:start + chunk_size]
        with session_factory() as session:
            wave = _locked_wave(session, wave_id)
            campaign = session.get(Campaign, wave.campaign_id, populate_existing=True)
            held = _hold_reason(campaign, wave)
            if held:
                wave.status = "cancelled" if held == "stopped" else "paused"
                if held == "stopped":
                    wave.finished_at = now()
                session.commit()
                return {"held": held, "cursor": wave.cursor, "chunks": chunks}
            fresh = [cid for cid in chunk if cid > wave.cursor]
            if fresh:
                ctx.campaign = campaign
                occasion = occasion_of_wave(wave.id)
                run_chunk(session, ctx, [(cid, occasion) for cid in fresh], now=now())
                wave.cursor = fresh[-1]
            session.commit()
            chunks += 1
        if progress is not None:
            progress((done_before + start + len(chunk)) / max(total, 1), f"{done_before + start + len(chunk)}/{total}")
    with session_factory() as session:
        wave = _locked_wave(session, wave_id)
        campaign = session.get(Campaign, wave.campaign_id, populate_existing=True)
        if wave.status == "running":
            _finish(session, campaign, wave, status="done", now=now())
        session.commit()
        return {"wave_id": wave_id, "status": wave.status, "chunks": chunks, "funnel": wave.funnel}
