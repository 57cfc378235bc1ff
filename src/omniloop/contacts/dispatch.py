"""Outbox dispatch (发送调度): due outbox rows → render → channel adapter → status; receipts and fallback.

Every status change is a conditional UPDATE on the status the row is expected to have, so no row is sent
twice across restarts or by two dispatchers: ``pending`` → ``sending`` is the claim (PostgreSQL
``FOR UPDATE SKIP LOCKED``, SQLite a compare-and-set) and is committed *before* the adapter is called;
a dispatcher that dies after claiming leaves the rows ``sending``, and they are treated like a missing
receipt once the campaign's ``fallback_timeout_minutes`` has passed (next channel), never sent again.

Fallback: a ``failed`` receipt, a failed send, or no delivery receipt within the timeout moves on to the
next channel in the row's ``fallback`` — after asking the contact policy again (``service.evaluate`` for
the remaining channels, so consent withdrawn meanwhile, DND and caps are honoured); the new contact is a
new outbox row (with its own decision) carrying the rest of the fallback and the same benefit grant. When
nothing is left, the grant is released (``benefits.service.release``); a delivered row confirms it.

Rendering goes through ``content.render.render_many`` (masked PII: the payload is stored). Adapters
(``contacts.channels``) get the rendered messages; the built-in sink is the default for every channel.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from omniloop.campaigns.models import Campaign
from omniloop.contacts import channels as channel_registry
from omniloop.contacts import service
from omniloop.contacts.models import OutboxMessage
from omniloop.contacts.policy import Proposal
from omniloop.core.errors import NotFound, ValidationFailed

log = logging.getLogger(__name__)
BATCH = 500
RECEIPT_STATUSES = ("delivered", "failed")
HELD_STATUSES = ("paused",)  # campaign statuses whose pending outbox rows are not dispatched


def _renderer() -> Callable:
    """The content package's batch renderer (an indirection so tests can swap it)."""
    from omniloop.content.render import render_many as content_render_many

    return content_render_many


render_many: Callable | None = None  # tests may set a fake; None = content.render.render_many


def claim(session: Session, *, now: datetime, limit: int = BATCH) -> list[int]:
    """Claim up to ``limit`` due pending rows (``not_before ≤ now``) of campaigns not on hold:
    pending → sending, attempts + 1. A paused campaign's rows stay pending until it resumes."""
    due = (select(OutboxMessage.id)
           .join(Campaign, Campaign.id == OutboxMessage.campaign_id)
           .where(OutboxMessage.status == "pending", OutboxMessage.not_before <= now,
                  Campaign.status.notin_(HELD_STATUSES))  # a paused campaign's rows wait in the outbox
           .order_by(OutboxMessage.not_before, OutboxMessage.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.scalars(due.with_for_update(skip_locked=True)))
    else:
        ids = list(session.scalars(due))
    if not ids:
        return []
    claimed = session.execute(
        update(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.status == "pending")
        .values(status="sending", attempts=OutboxMessage.attempts + 1, updated_at=now)
        .returning(OutboxMessage.id).execution_options(synchronize_session=False)
    ).scalars().all()
    return sorted(claimed)


def _payloads(session: Session, rows: list[OutboxMessage]) -> dict[int, dict | None | Exception]:
    from omniloop.benefits.models import Benefit, BenefitGrant
    from omniloop.customers.models import Customer

    render = render_many or _renderer()
    out: dict[int, dict | None | Exception] = {}
    groups: dict[tuple[int, int, int | None], list[OutboxMessage]] = defaultdict(list)
    grant_benefit = dict(session.execute(
        select(BenefitGrant.id, BenefitGrant.benefit_id)
        .where(BenefitGrant.id.in_([r.benefit_grant_id for r in rows if r.benefit_grant_id]))).all()) \
        if any(r.benefit_grant_id for r in rows) else {}
    for row in rows:
        if row.template_version_id is None:
            out[row.id] = None
        else:
            groups[(row.template_version_id, row.campaign_id, grant_benefit.get(row.benefit_grant_id))].append(row)
    for (version_id, campaign_id, benefit_id), members in groups.items():
        customers = {c.id: c for c in session.scalars(
            select(Customer).where(Customer.id.in_([r.customer_id for r in members])))}
        present = [r for r in members if r.customer_id in customers]
        try:
            rendered = render(session, template_version_id=version_id,
                              customers=[customers[r.customer_id] for r in present],
                              benefit=session.get(Benefit, benefit_id) if benefit_id else None,
                              campaign=session.get(Campaign, campaign_id))
        except Exception as exc:
            for r in members:
                out[r.id] = exc
            continue
        for r, message in zip(present, rendered, strict=True):
            out[r.id] = {"subject": message.subject, "body": message.body, "fields": message.fields}
    return out


def dispatch_once(factory: sessionmaker[Session], *, now: datetime | None = None, limit: int = BATCH) -> dict:
    """One pass: claim due rows (committed), render and send them per channel, apply the results;
    then move timed-out rows to their fallback. Returns counts."""
    now = now or datetime.now(UTC)
    counts = {"claimed": 0, "sent": 0, "delivered": 0, "failed": 0, "fallback": 0, "released": 0}
    with factory() as session:
        ids = claim(session, now=now, limit=limit)
        session.commit()
    counts["claimed"] = len(ids)
    if ids:
        with factory() as session:
            rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))
                                        .order_by(OutboxMessage.id)))
            payloads = _payloads(session, rows)
            by_channel: dict[str, list[OutboxMessage]] = defaultdict(list)
            results: dict[int, channel_registry.SendResult] = {}
            for row in rows:
                payload = payloads.get(row.id)
                if isinstance(payload, Exception):
                    results[row.id] = channel_registry.SendResult(row.id, "failed", error=f"render: {payload}"[:500])
                    continue
                row.payload = payload
                by_channel[row.channel].append(row)
            session.flush()
            for channel, members in by_channel.items():
                adapter = channel_registry.adapter_for(channel)
                messages = [channel_registry.OutgoingMessage(r.id, r.campaign_id, r.customer_id, r.channel,
                                                             r.payload, r.attempts) for r in members]
                try:
                    for result in adapter.send(messages):
                        results[result.outbox_id] = result
                except Exception as exc:
                    log.exception("adapter %s failed", adapter.name)
                    for r in members:
                        results.setdefault(r.id, channel_registry.SendResult(r.id, "failed", error=str(exc)[:500]))
            for row in rows:
                result = results.get(row.id) or channel_registry.SendResult(row.id, "failed", error="no result")
                _apply(session, row, result, now=now, counts=counts, expected=("sending",))
            session.commit()
    with factory() as session:
        _timeouts(session, now=now, counts=counts)
        session.commit()
    return counts


def _apply(session: Session, row: OutboxMessage, result, *, now: datetime, counts: dict,
           expected: tuple[str, ...]) -> bool:
    values: dict = {"updated_at": now, "provider_message_id": result.provider_message_id or row.provider_message_id}
    if result.status == "sent":
        values.update(status="sent", sent_at=now)
    elif result.status == "delivered":
        values.update(status="delivered", delivered_at=now, sent_at=row.sent_at or now)
    else:
        values.update(status="failed", last_error=(result.error or "failed")[:500])
    changed = session.execute(
        update(OutboxMessage).where(OutboxMessage.id == row.id, OutboxMessage.status.in_(expected))
        .values(**values).execution_options(synchronize_session=False)).rowcount
    if not changed:
        return False
    counts[result.status] = counts.get(result.status, 0) + 1
    if result.status == "delivered" and row.benefit_grant_id:
        from omniloop.benefits import service as benefit_service

        benefit_service.confirm(session, grant_ids=[row.benefit_grant_id], now=now)
    if result.status == "failed":
        _fall_back(session, row, now=now, counts=counts, reason=result.error or "failed")
    return True


def _fall_back(session: Session, row: OutboxMessage, *, now: datetime, counts: dict, reason: str) -> None:
    remaining = [f for f in (row.fallback or []) if f.get("channel")]
    if remaining:
        campaign = session.get(Campaign, row.campaign_id)
        proposal = Proposal(row.campaign_id, row.occasion, row.customer_id, tuple(f["channel"] for f in remaining),
                            campaign.campaign_type if campaign else "marketing", campaign.priority if campaign else 5,
                            (campaign.expected_value_fen or 0) if campaign else 0, now)
        decision = service.evaluate(session, proposals=[proposal], now=now)[0]
        if decision.detail is None or not decision.detail.get("already_recorded"):
            decision.detail = {**(decision.detail or {}), "fallback_from": row.channel, "failure": reason[:200]}
        versions = {f["channel"]: f.get("template_version_id") for f in remaining}
        written = service.record(session, campaign_id=row.campaign_id, wave_id=row.wave_id, occasion=row.occasion,
                                 decisions=[decision], template_versions=versions,
                                 grants={row.customer_id: row.benefit_grant_id} if row.benefit_grant_id else {},
                                 now=now)
        if decision.outcome != "skipped" and written["outbox_written"]:
            counts["fallback"] += 1
            return
    if row.benefit_grant_id:
        from omniloop.benefits import service as benefit_service

        counts["released"] += benefit_service.release(session, grant_ids=[row.benefit_grant_id],
                                                      reason="delivery_failed", now=now)


def _timeouts(session: Session, *, now: datetime, counts: dict) -> None:
    """Rows sent (or stuck sending) longer than their campaign's fallback timeout without a delivery receipt
    and with a fallback left: fail them over. Rows without a fallback keep waiting for a receipt."""
    rows = session.execute(
        select(OutboxMessage, Campaign.fallback_timeout_minutes)
        .join(Campaign, Campaign.id == OutboxMessage.campaign_id)
        .where(OutboxMessage.status.in_(("sent", "sending")), OutboxMessage.fallback.is_not(None),
               OutboxMessage.updated_at < now - timedelta(minutes=1))
        .order_by(OutboxMessage.id).limit(BATCH)
    ).all()
    for row, timeout in rows:
        if not row.fallback:
            continue
        started = row.sent_at or row.updated_at
        if started > now - timedelta(minutes=timeout or 30):
            continue
        result = channel_registry.SendResult(row.id, "failed", error="timeout: no delivery receipt")
        _apply(session, row, result, now=now, counts=counts, expected=("sent", "sending"))


def receipt(session: Session, *, outbox_id: int, status: str, error: str | None = None,
            provider_message_id: str | None = None, now: datetime | None = None) -> OutboxMessage:
    """A delivery receipt from an adapter: ``delivered`` confirms, ``failed`` moves to the fallback.
    Idempotent: a receipt for a row already final changes nothing."""
    if status not in RECEIPT_STATUSES:
        raise ValidationFailed("回执状态只能是 delivered 或 failed", "Receipt status must be delivered or failed",
                               code="invalid_receipt_status", details={"status": status})
    now = now or datetime.now(UTC)
    row = session.get(OutboxMessage, outbox_id)
    if row is None:
        raise NotFound("发送记录不存在", "Outbox message not found", code="outbox_not_found")
    result = channel_registry.SendResult(outbox_id, status, provider_message_id, error)
    counts = {"sent": 0, "delivered": 0, "failed": 0, "fallback": 0, "released": 0}
    _apply(session, row, result, now=now, counts=counts, expected=("sending", "sent"))
    session.flush()
    session.refresh(row)
    return row


def cancel(session: Session, *, campaign_id: int, reason: str = "cancelled", now: datetime | None = None) -> int:
    """Cancel a campaign's pending outbox rows and release their grants; returns rows cancelled."""
    now = now or datetime.now(UTC)
    rows = session.execute(
        update(OutboxMessage).where(OutboxMessage.campaign_id == campaign_id, OutboxMessage.status == "pending")
        .values(status="cancelled", last_error=reason[:500], updated_at=now)
        .returning(OutboxMessage.id, OutboxMessage.benefit_grant_id).execution_options(synchronize_session=False)
    ).all()
    grants = [g for _, g in rows if g]
    if grants:
        from omniloop.benefits import service as benefit_service

        benefit_service.release(session, grant_ids=grants, reason=reason, now=now)
    return len(rows)


def pending_due(session: Session, *, now: datetime) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == "pending", OutboxMessage.not_before <= now)) or 0

