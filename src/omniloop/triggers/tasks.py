"""Trigger jobs (触发器作业): breakpoint deadlines (durable timers), the daily key dates, threshold scans.
All are safe to run twice: firings are unique per (trigger, customer, occurrence)."""

from __future__ import annotations

from datetime import date

from omniloop.core.clock import Clock
from omniloop.core.db import utcnow
from omniloop.jobs.registry import JobContext, job
from omniloop.settings import get_settings
from omniloop.triggers import bus, keydates, thresholds
from omniloop.triggers.engine import DEADLINE_JOB, Decisions, load_active, resolve_state
from omniloop.triggers.models import TriggerState


@job(DEADLINE_JOB)
def breakpoint_deadline(ctx: JobContext, state_id: int) -> dict:
    """At a breakpoint's deadline: fire unless B came (or the trigger worker's sweep settled it already)."""
    with ctx.session_factory() as session:
        state = session.get(TriggerState, state_id, with_for_update=session.get_bind().dialect.name == "postgresql")
        if state is None:
            return {"outcome": "gone"}
        decisions = Decisions(session, utcnow())
        outcome = resolve_state(decisions, load_active(session), state)
        session.commit()
    bus.publish(decisions.fired)
    if outcome == "not_due":
        raise RuntimeError("deadline not reached yet")  # retried after a back-off
    return {"outcome": outcome, "fired": len(decisions.fired)}


@job("triggers.key_dates")
def key_dates(ctx: JobContext, day: str | None = None, trigger_ids: list[int] | None = None) -> dict:
    """Fire key-date triggers for ``day`` (default today, bank time)."""
    timezone = get_settings().display_timezone
    today = date.fromisoformat(day) if day else Clock(timezone).today()
    with ctx.session_factory() as session:
        decisions = keydates.evaluate_key_dates(session, today=today, now=utcnow(), timezone=timezone,
                                                trigger_ids=trigger_ids)
        session.commit()
    bus.publish(decisions.fired)
    return {"day": today.isoformat(), "fired": len(decisions.fired)}


@job("triggers.threshold_scan")
def threshold_scan(ctx: JobContext) -> dict:
    """Find AUM threshold crossings among the customers changed since the last scan."""
    with ctx.session_factory() as session:
        decisions = thresholds.scan(session, now=utcnow())
        session.commit()
    bus.publish(decisions.fired)
    return {"fired": len(decisions.fired)}
