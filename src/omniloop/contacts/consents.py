"""Customer consent and opt-out history (营销授权与退订, PIPL): recorded with source and time, honoured at
the next decision (the policy reads the latest row; nothing is cached)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.contacts import consent
from omniloop.contacts.models import CHANNELS, CustomerConsent, SuppressionEntry, SuppressionList
from omniloop.contacts.schemas import ConsentCreate, ConsentOverview, ConsentRead, ConsentState
from omniloop.core import audit
from omniloop.core.audit import Actor
from omniloop.customers.models import Customer


def record(session: Session, *, actor: Actor, customer: Customer, data: ConsentCreate,
           now: datetime | None = None) -> CustomerConsent:
    row = CustomerConsent(customer_id=customer.id, channel=data.channel, status=data.status, source=data.source,
                          note=data.note, recorded_at=now or datetime.now(UTC), recorded_by_id=actor.user_id)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="consent", entity_type="customer", entity_id=customer.customer_no,
                 after={"channel": data.channel, "status": data.status, "source": data.source})
    return row


def overview(session: Session, *, customer: Customer, now: datetime | None = None) -> ConsentOverview:
    now = now or datetime.now(UTC)
    history = list(session.scalars(select(CustomerConsent).where(CustomerConsent.customer_id == customer.id)
                                   .order_by(CustomerConsent.recorded_at, CustomerConsent.id)))
    latest: dict[str, CustomerConsent] = {}
    for row in history:
        for channel in (CHANNELS if row.channel == "all" else (row.channel,)):
            latest[channel] = row
    current = []
    for channel in CHANNELS:
        if channel == "sink":
            continue
        row = latest.get(channel)
        status = row.status if row else None
        current.append(ConsentState(channel=channel, status=status, effective=consent.allowed(channel, status),
                                    default="blocked" if channel in consent.REQUIRES_GRANT else "allowed",
                                    source=row.source if row else None, recorded_at=row.recorded_at if row else None))
    lists = session.execute(
        select(SuppressionList.name, SuppressionList.kind).join(SuppressionEntry,
                                                                SuppressionEntry.list_id == SuppressionList.id)
        .where(SuppressionEntry.customer_id == customer.id)
        .where((SuppressionEntry.expires_at.is_(None)) | (SuppressionEntry.expires_at > now))).all()
    return ConsentOverview(current=current, history=[ConsentRead.model_validate(r) for r in reversed(history)],
                           dnd=any(kind == "dnd" for _, kind in lists), lists=[name for name, _ in lists])
