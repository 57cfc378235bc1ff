"""Threshold triggers (资产阈值): a customer's AUM crossing a value, up or down.

Customer data changes in batches (bulk loads, the daily feed), not as events, so crossings are found by
scanning the customers changed since the last scan (``customers.updated_at`` after the ``thresholds``
cursor, with a small overlap) and comparing with the side each was on before: ``trigger_threshold_marks``
holds, per trigger, the customers at or above its value. Activating (or changing) a threshold trigger
takes a baseline of who is above now, so nobody fires for where they already were.

Occurrence key: the direction and the customer's ``updated_at`` of the change, so a customer who goes up,
down and up again fires each time, and a rescan of the same change fires nobody twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert, literal, select
from sqlalchemy.orm import Session

from omniloop.customers.models import Customer
from omniloop.org.models import Org
from omniloop.triggers import definitions as defs
from omniloop.triggers.engine import ActiveTrigger, Decisions, get_cursor, load_active, save_cursor
from omniloop.triggers.models import Trigger, TriggerThresholdMark

CURSOR = "thresholds"
OVERLAP = timedelta(seconds=5)
CHUNK = 2000


def _metric(spec: defs.ThresholdSpec):
    return getattr(Customer, spec.metric)


def baseline(session: Session, trigger: Trigger, *, now: datetime) -> int:
    """Record who is at or above the threshold now (on activation or a changed value)."""
    spec = defs.parse(trigger.kind, trigger.definition)
    assert isinstance(spec, defs.ThresholdSpec)
    session.execute(delete(TriggerThresholdMark).where(TriggerThresholdMark.trigger_id == trigger.id))
    column = _metric(spec)
    org_path = session.scalar(select(Org.path).where(Org.id == trigger.owner_org_id))
    source = (select(literal(trigger.id), Customer.id, column, literal(now, type_=TriggerThresholdMark.since.type))
              .join(Org, Org.id == Customer.org_id)
              .where(column >= spec.value_fen, Org.path.like(org_path + "%")))
    result = session.execute(insert(TriggerThresholdMark).from_select(
        ["trigger_id", "customer_id", "value_fen", "since"], source))
    return result.rowcount or 0


def _in_scope(trigger: ActiveTrigger, path: str) -> bool:
    return trigger.whole_bank or path.startswith(trigger.org_path)


def scan(session: Session, *, now: datetime) -> Decisions:
    """Compare the customers changed since the last scan with their marks; fire crossings; move the cursor."""
    decisions = Decisions(session, now)
    triggers = load_active(session, kinds=["threshold"]).triggers
    cursor = get_cursor(session, CURSOR)
    since = cursor.last_at - OVERLAP if cursor is not None and cursor.last_at is not None else None
    if not triggers:
        save_cursor(session, CURSOR, last_at=now, now=now)
        return decisions
    stmt = (select(Customer.id, Customer.updated_at, Customer.aum_fen, Org.path)
            .join(Org, Org.id == Customer.org_id).where(Customer.updated_at <= now).order_by(Customer.id))
    if since is not None:
        stmt = stmt.where(Customer.updated_at > since)
    rows = session.execute(stmt).all()
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        ids = [r.id for r in chunk]
        for trigger in triggers:
            spec = trigger.spec
            assert isinstance(spec, defs.ThresholdSpec)
            above_before = dict(session.execute(
                select(TriggerThresholdMark.customer_id, TriggerThresholdMark.value_fen)
                .where(TriggerThresholdMark.trigger_id == trigger.id, TriggerThresholdMark.customer_id.in_(ids))).all())
            for row in chunk:
                if not _in_scope(trigger, row.path):
                    continue
                value = getattr(row, spec.metric)
                was, now_above = row.id in above_before, value >= spec.value_fen
                if was == now_above:
                    continue
                if now_above:
                    session.add(TriggerThresholdMark(trigger_id=trigger.id, customer_id=row.id, value_fen=value,
                                                     since=now))
                else:
                    session.execute(delete(TriggerThresholdMark).where(
                        TriggerThresholdMark.trigger_id == trigger.id, TriggerThresholdMark.customer_id == row.id))
                direction = "up" if now_above else "down"
                if spec.direction in (direction, "both"):
                    decisions.fire(trigger.id, row.id, f"{direction}:{row.updated_at.isoformat()}", [],
                                   row.updated_at, {"direction": direction, "value_fen": value,
                                                    "previous_fen": above_before.get(row.id),
                                                    "threshold_fen": spec.value_fen})
        session.flush()
    save_cursor(session, CURSOR, last_at=now, now=now)
    return decisions
