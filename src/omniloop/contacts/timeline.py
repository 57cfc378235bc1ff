"""A customer's marketing contacts for the customer 360 (营销接触): every decision (allowed, deferred, skipped
with its reason) and every outbox message (status, times), newest first."""

from __future__ import annotations

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from omniloop.campaigns.models import Campaign
from omniloop.contacts.models import ContactDecision, OutboxMessage
from omniloop.contacts.reasons import label
from omniloop.contacts.schemas import ContactItem


def contacts(session: Session, *, customer_id: int, kind: str | None, offset: int, limit: int
             ) -> tuple[list[ContactItem], int]:
    d = select(literal("decision").label("kind"), ContactDecision.id, ContactDecision.decided_at.label("at")) \
        .where(ContactDecision.customer_id == customer_id)
    m = select(literal("message").label("kind"), OutboxMessage.id, OutboxMessage.created_at.label("at")) \
        .where(OutboxMessage.customer_id == customer_id)
    parts = [p for k, p in (("decision", d), ("message", m)) if kind in (None, k)]
    union = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    total = session.scalar(select(func.count()).select_from(union)) or 0
    page = session.execute(select(union.c.kind, union.c.id).order_by(union.c.at.desc(), union.c.id.desc())
                           .offset(offset).limit(limit)).all()
    decision_ids = [i for k, i in page if k == "decision"]
    message_ids = [i for k, i in page if k == "message"]
    decisions = {r.id: r for r in session.scalars(select(ContactDecision).where(ContactDecision.id.in_(decision_ids)))}
    messages = {r.id: r for r in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(message_ids)))}
    campaign_ids = {r.campaign_id for r in (*decisions.values(), *messages.values())}
    names = dict(session.execute(select(Campaign.id, Campaign.name).where(Campaign.id.in_(campaign_ids))).all())
    items = []
    for k, i in page:
        if k == "decision":
            r = decisions[i]
            items.append(ContactItem(kind="decision", id=r.id, campaign_id=r.campaign_id,
                                     campaign_name=names.get(r.campaign_id), occasion=r.occasion, channel=r.channel,
                                     outcome=r.outcome, reason=r.reason, reason_zh=label(r.reason, "zh") or None,
                                     reason_en=label(r.reason, "en") or None, detail=r.detail,
                                     defer_until=r.defer_until, at=r.decided_at))
        else:
            r = messages[i]
            items.append(ContactItem(kind="message", id=r.id, campaign_id=r.campaign_id,
                                     campaign_name=names.get(r.campaign_id), occasion=r.occasion, channel=r.channel,
                                     status=r.status, not_before=r.not_before, sent_at=r.sent_at,
                                     delivered_at=r.delivered_at, last_error=r.last_error, at=r.created_at))
    return items, total
