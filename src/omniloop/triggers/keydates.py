"""Key-date triggers (关键日期): birthday, account anniversary, product maturity − N days, salary day.

Evaluated once a day (the ``triggers.key_dates`` job, 08:00 bank time) for ``today``; a trigger with
``days_before`` N fires for the customers whose date falls on today + N. The occurrence key is that date
(plus the product code for maturities), so running the job again the same day fires nobody twice, and a
day missed while no worker ran can be evaluated later with ``today`` set to it.

Salary day: the customer's ``payroll_flag`` plus either the configured ``payroll_day`` or, per customer,
the most frequent day of month of their ``salary_credited`` events in the last 120 days. A day beyond the
end of a short month falls on its last day. 29 February birthdays and anniversaries fall on 28 February in
other years.
"""

from __future__ import annotations

import calendar
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omniloop.customers.models import Customer, CustomerHolding
from omniloop.events.models import Event
from omniloop.org.models import Org
from omniloop.triggers import definitions as defs
from omniloop.triggers.engine import ActiveTrigger, Decisions, load_active

SALARY_LOOKBACK_DAYS = 120


def _month_day(session: Session, column):
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "MM-DD")
    return func.strftime("%m-%d", column)


def _same_day_keys(target: date) -> list[str]:
    """Month-day strings whose date falls on ``target`` this year (29 Feb → 28 Feb in common years)."""
    keys = [f"{target.month:02d}-{target.day:02d}"]
    if target.month == 2 and target.day == 28 and not calendar.isleap(target.year):
        keys.append("02-29")
    return keys


def _scope(stmt, trigger: ActiveTrigger):
    if trigger.whole_bank:
        return stmt
    return stmt.join(Org, Org.id == Customer.org_id).where(Org.path.like(trigger.org_path + "%"))


def payroll_days(session: Session, *, customer_ids: list[int] | None, salary_event: str, today: date,
                 timezone: str) -> dict[int, int]:
    """Each customer's usual salary day (day of month, bank time) from their salary events."""
    since = datetime.combine(today - timedelta(days=SALARY_LOOKBACK_DAYS), time(), ZoneInfo(timezone)).astimezone(UTC)
    stmt = select(Event.customer_id, Event.ts).where(
        Event.name == salary_event, Event.customer_id.is_not(None), Event.ts >= since,
        Event.day >= since.date() - timedelta(days=1))
    if customer_ids is not None:
        stmt = stmt.where(Event.customer_id.in_(customer_ids))
    zone = ZoneInfo(timezone)
    counts: dict[int, Counter] = defaultdict(Counter)
    for customer_id, ts in session.execute(stmt):
        counts[customer_id][ts.astimezone(zone).day] += 1
    # Most frequent day; ties go to the latest day (a salary moved earlier by a weekend counts less).
    return {cid: max(c.items(), key=lambda kv: (kv[1], kv[0]))[0] for cid, c in counts.items()}


def _payroll_hits(day_of_month: int, target: date) -> bool:
    last = calendar.monthrange(target.year, target.month)[1]
    return min(day_of_month, last) == target.day


def candidates(session: Session, trigger: ActiveTrigger, *, today: date, timezone: str) -> list[tuple[int, str, dict]]:
    """(customer id, occurrence key, details) of everyone the key-date trigger fires for on ``today``."""
    spec = trigger.spec
    assert isinstance(spec, defs.KeyDateSpec)
    target = today + timedelta(days=spec.days_before)
    out: list[tuple[int, str, dict]] = []
    base = {"date_kind": spec.date_kind, "date": target.isoformat(), "days_before": spec.days_before}
    if spec.date_kind in ("birthday", "anniversary"):
        column = Customer.birth_date if spec.date_kind == "birthday" else Customer.first_account_date
        stmt = _scope(select(Customer.id, column).where(column.is_not(None),
                                                        _month_day(session, column).in_(_same_day_keys(target))),
                      trigger)
        for customer_id, when in session.execute(stmt):
            years = target.year - when.year
            if years <= 0:
                continue
            out.append((customer_id, target.isoformat(), {**base, "years": years}))
    elif spec.date_kind == "maturity":
        stmt = _scope(select(CustomerHolding.customer_id, CustomerHolding.product_code, CustomerHolding.product_name,
                             CustomerHolding.amount_fen)
                      .join(Customer, Customer.id == CustomerHolding.customer_id)
                      .where(CustomerHolding.maturity_date == target,
                             CustomerHolding.product_type.in_(spec.product_types)), trigger)
        for customer_id, code, name, amount in session.execute(stmt):
            out.append((customer_id, f"{target.isoformat()}:{code}",
                        {**base, "product_code": code, "product_name": name, "amount_fen": amount}))
    else:  # payroll
        stmt = _scope(select(Customer.id).where(Customer.payroll_flag.is_(True)), trigger)
        customer_ids = list(session.scalars(stmt))
        if spec.payroll_day is not None:
            days = dict.fromkeys(customer_ids, spec.payroll_day)
        else:
            days = {}
            for i in range(0, len(customer_ids), 5000):
                days.update(payroll_days(session, customer_ids=customer_ids[i:i + 5000],
                                         salary_event=spec.salary_event, today=today, timezone=timezone))
        for customer_id in customer_ids:
            day = days.get(customer_id)
            if day is not None and _payroll_hits(day, target):
                out.append((customer_id, target.isoformat(), {**base, "payroll_day": day}))
    return out


def evaluate_key_dates(session: Session, *, today: date, now: datetime, timezone: str,
                       trigger_ids: list[int] | None = None,
                       progress: Callable[[float, str], None] | None = None) -> Decisions:
    """Fire every active key-date trigger for ``today``; the caller commits."""
    triggers = [t for t in load_active(session, kinds=["key_date"]).triggers
                if trigger_ids is None or t.id in trigger_ids]
    decisions = Decisions(session, now)
    for i, trigger in enumerate(triggers):
        for customer_id, key, details in candidates(session, trigger, today=today, timezone=timezone):
            # No accepted_at: a key date is decided by the calendar, not by an event, so it has no latency.
            decisions.fire(trigger.id, customer_id, key, [], None, details)
        if progress:
            progress((i + 1) / len(triggers), f"{i + 1}/{len(triggers)}")
    return decisions
