"""Preview (预演 / dry run): who would get what through which channel, and who is filtered out and why.

Nothing is written: the audience is evaluated now in the caller's scope, the filters and cells are the
ones a wave would apply, and the contact policy runs with ``dry_run=True`` (no lock, no decision rows).
The policy reads each customer's history, so for large audiences it runs on a deterministic sample of
at most ``POLICY_SAMPLE`` contacted customers and its counts are scaled up (``policy_sampled`` says so).
Sample messages are rendered with masked personal data.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

from pyroaring import BitMap
from sqlalchemy.orm import Session

from omniloop.audiences.engine import AudienceEngine
from omniloop.audiences.models import Audience
from omniloop.benefits.models import Benefit
from omniloop.campaigns import execution
from omniloop.campaigns.models import Campaign
from omniloop.campaigns.schemas import FunnelStep, PreviewRead, SampleMessage
from omniloop.contacts import service as contact_service
from omniloop.core.db import utcnow
from omniloop.customers.models import Customer
from omniloop.org.auth import Principal
from omniloop.triggers import service as trigger_service

POLICY_SAMPLE = 2_000
TRIGGER_LOOKBACK = timedelta(days=7)

STEP_LABELS = {
    "audience": ("目标人群", "Audience"),
    "out_of_scope": ("超出活动机构范围", "Outside the campaign's org"),
    "campaign_filter": ("活动过滤条件", "Campaign filters"),
    "suppression_list": ("活动屏蔽名单", "Campaign suppression lists"),
    "global_holdout": ("全局对照组", "Global holdout"),
    "control": ("活动对照组", "Control group"),
    "cell": ("试点 / 主体分组", "Test / main cell"),
    "contact_policy": ("接触控制", "Contact policy"),
    "benefit_inventory": ("权益库存", "Benefit inventory"),
}


def _step(step: str, remaining: int, removed: int = 0, reasons: dict[str, int] | None = None) -> FunnelStep:
    zh, en = STEP_LABELS[step]
    return FunnelStep(step=step, label_zh=zh, label_en=en, remaining=remaining, removed=removed,
                      reasons=reasons or {})


def _audience(session: Session, principal: Principal, engine: AudienceEngine, campaign: Campaign,
              now: datetime, notes: list[str]) -> BitMap:
    if campaign.mode == "triggered":
        notes.append("事件触发活动：以近 7 天触发器命中的客户估算 / Triggered: estimated from the trigger's "
                     "firings of the last 7 days")
        if campaign.trigger_id is None:
            return BitMap()
        fired = trigger_service.fired_customers(session, trigger_id=campaign.trigger_id,
                                                since=now - TRIGGER_LOOKBACK, until=now)
        return BitMap(fired)
    if campaign.audience_id is None:
        return BitMap()
    audience = session.get(Audience, campaign.audience_id)
    return engine.prepare(session, principal, audience.expression, audience_id=audience.id).members()


def preview(*, session: Session, principal: Principal, engine: AudienceEngine, campaign: Campaign,
            wave_kind: str = "full", now: datetime | None = None, sample_size: int = POLICY_SAMPLE) -> PreviewRead:
    now = now or utcnow()
    notes: list[str] = []
    members = _audience(session, principal, engine, campaign, now, notes)
    ctx = execution.make_context(session, campaign=campaign, wave=None, engine=engine, principal=principal)
    if wave_kind == "test":
        ctx.contact_cells = frozenset({"test"})
    ids = list(members)
    filtered: Counter[str] = Counter()
    cells: Counter[str] = Counter()
    contacted: list[int] = []
    for start in range(0, len(ids), execution.CHUNK_SIZE):
        part = ids[start:start + execution.CHUNK_SIZE]
        classified = execution.classify(session, ctx, part, now=now)
        filtered.update(classified.filtered.values())
        cells.update(classified.cells.values())
        contacted += [cid for cid, cell in classified.cells.items() if cell in ctx.contact_cells]
    remaining = len(ids)
    funnel = [_step("audience", remaining)]
    for reason in execution.FILTER_REASONS:
        if reason == "out_of_scope" and not filtered[reason]:
            continue
        remaining -= filtered[reason]
        funnel.append(_step(reason, remaining, filtered[reason]))
    for cell in ("global_holdout", "control"):
        remaining -= cells[cell]
        funnel.append(_step(cell, remaining, cells[cell]))
    not_now = {c: n for c, n in cells.items() if c in ("test", "main") and c not in ctx.contact_cells}
    remaining = len(contacted)
    funnel.append(_step("cell", remaining, sum(not_now.values()), not_now))

    sampled = len(contacted) > sample_size
    sample = sorted(random.Random(campaign.id).sample(contacted, sample_size)) if sampled else contacted
    scale = len(contacted) / len(sample) if sample else 0.0
    decisions = contact_service.evaluate(
        session, proposals=execution.proposals_for(campaign, [(cid, "preview") for cid in sample], now),
        now=now, dry_run=True) if sample else []
    reasons: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    chosen: dict[str, int] = {}
    for decision in decisions:
        if decision.outcome == "skipped":
            reasons[decision.reason or "skipped"] += 1
        else:
            channels[decision.channel or "?"] += 1
            chosen.setdefault(decision.channel or "?", decision.customer_id)
    reasons_scaled = {k: round(v * scale) for k, v in reasons.items()}
    channels_scaled = {k: round(v * scale) for k, v in channels.items()}
    allowed = sum(channels_scaled.values())
    funnel.append(_step("contact_policy", allowed, len(contacted) - allowed, reasons_scaled))
    if sampled:
        notes.append(f"接触控制按 {len(sample)} 人样本估算后放大 / Contact policy evaluated on a sample of "
                     f"{len(sample)} and scaled up")
    benefit = session.get(Benefit, campaign.benefit_id) if campaign.benefit_id else None
    if benefit is not None:
        short = max(0, allowed - benefit.inventory_left)
        if short:  # who loses out is the last in order; take it off the channels proportionally
            keep = (allowed - short) / allowed
            channels_scaled = {k: int(v * keep) for k, v in channels_scaled.items()}
        funnel.append(_step("benefit_inventory", allowed - short, short,
                            {execution.BENEFIT_EXHAUSTED: short} if short else {}))
    samples = _samples(session, campaign, ctx.template_versions, chosen, contacted, benefit)
    return PreviewRead(campaign_id=campaign.id, wave_kind=wave_kind, audience_size=len(ids), funnel=funnel,
                       channels=channels_scaled, policy_sampled=sampled, policy_sample_size=len(sample),
                       samples=samples, notes=notes)


def _samples(session: Session, campaign: Campaign, versions: dict[str, int], chosen: dict[str, int],
             contacted: list[int], benefit: Benefit | None) -> list[SampleMessage]:
    """One rendered message per configured channel, for a customer the policy sent there (else any)."""
    from omniloop.content import render

    out = []
    for channel in campaign.channels or []:
        version_id = versions.get(channel)
        cid = chosen.get(channel) or (contacted[0] if contacted else None)
        if version_id is None or cid is None:
            out.append(SampleMessage(channel=channel, error="no_template" if version_id is None else "no_customer"))
            continue
        customer = session.get(Customer, cid)
        try:
            message = render.render_message(session, template_version_id=version_id, customer=customer,
                                            benefit=benefit, reveal_pii=False)
            out.append(SampleMessage(channel=channel, customer_no=customer.customer_no,
                                     subject=getattr(message, "subject", None), body=getattr(message, "body", None)))
        except Exception as exc:  # a template problem is part of what the preview shows
            out.append(SampleMessage(channel=channel, customer_no=customer.customer_no, error=str(exc)[:300]))
    return out
