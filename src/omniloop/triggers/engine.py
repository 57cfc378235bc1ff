"""The trigger engine (触发引擎): decides, for a batch of committed events, which triggers fire for whom.

``process_events`` runs in one transaction with whatever moves the caller's cursor: firings are inserted
with ON CONFLICT DO NOTHING on (trigger, customer, occurrence), breakpoint/sequence state rows likewise on
their occurrence, deadline timers are jobs with an idempotency key. Processing the same events twice (a
re-delivered stream entry, a tail restarted from an older cursor, two workers) therefore changes nothing.

Decisions that depend on order are checked against the event table rather than only against in-memory
or state order: a breakpoint's deadline looks for B in the stored events, and a sequence's B looks for an
earlier A there when no state row is open. Two workers that see A and B of one customer in either order
reach the same decision.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from omniloop.core.db import insert_for
from omniloop.customers.models import Customer
from omniloop.events.models import Event, Identity, IdentityMerge
from omniloop.jobs import service as job_service
from omniloop.org.models import Org
from omniloop.triggers import definitions as defs
from omniloop.triggers.bus import Fired
from omniloop.triggers.models import Trigger, TriggerCursor, TriggerFiring, TriggerState

DEADLINE_JOB = "triggers.breakpoint_deadline"
HISTORY_SCAN_LIMIT = 5000
# A breakpoint is decided this long after its deadline: a B accepted just before the deadline has had time
# to commit (ingestion answers only after its commit, typically within tens of milliseconds).
DEADLINE_GRACE = timedelta(milliseconds=250)


@dataclass(frozen=True, slots=True)
class EventView:
    """What the engine needs of an event; built from a stored ``Event`` or a bus ``CommittedEvent``."""

    id: int
    source_id: int
    message_id: str
    type: str
    name: str | None
    customer_id: int | None
    ts: datetime
    received_at: datetime
    properties: dict | None

    @classmethod
    def of(cls, e) -> EventView:
        return cls(e.id, e.source_id, e.message_id, e.type, e.name, e.customer_id, e.ts, e.received_at,
                   e.properties)


def message_key(ev: EventView) -> str:
    return f"m:{ev.source_id}:{ev.message_id}"


@dataclass(frozen=True)
class ActiveTrigger:
    id: int
    kind: str
    spec: defs.Spec
    active_since: datetime
    org_path: str
    whole_bank: bool  # owned by the head office: no org check per customer


@dataclass
class TriggerSet:
    triggers: list[ActiveTrigger] = field(default_factory=list)
    by_name: dict[str, list[ActiveTrigger]] = field(default_factory=dict)
    by_id: dict[int, ActiveTrigger] = field(default_factory=dict)

    @property
    def scoped(self) -> bool:
        return any(not t.whole_bank for t in self.triggers)


def load_active(session: Session, kinds: Iterable[str] | None = None) -> TriggerSet:
    stmt = (select(Trigger, Org.path, Org.parent_id).join(Org, Org.id == Trigger.owner_org_id)
            .where(Trigger.status == "active"))
    if kinds is not None:
        stmt = stmt.where(Trigger.kind.in_(list(kinds)))
    out = TriggerSet()
    for trigger, path, parent_id in session.execute(stmt):
        try:
            spec = defs.parse(trigger.kind, trigger.definition)
        except Exception:  # a definition stored by an older release that no longer validates: skip it
            continue
        active = ActiveTrigger(trigger.id, trigger.kind, spec, trigger.active_since or trigger.updated_at, path,
                               parent_id is None)
        out.triggers.append(active)
        out.by_id[active.id] = active
        for name in defs.event_names(spec):
            out.by_name.setdefault(name, []).append(active)
    return out


class TriggerCache:
    """Active triggers, reloaded when any trigger changed; the change check runs at most every ``ttl`` s."""

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._set: TriggerSet | None = None
        self._signature: tuple | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def get(self, session: Session) -> TriggerSet:
        with self._lock:
            now = time.monotonic()
            if self._set is not None and now - self._checked < self.ttl:
                return self._set
            signature = tuple(session.execute(select(func.count(), func.max(Trigger.updated_at),
                                                     func.sum(Trigger.version))).one())
            if self._set is None or signature != self._signature:
                self._set = load_active(session)
                self._signature = signature
            self._checked = now
            return self._set

    def invalidate(self) -> None:
        with self._lock:
            self._set = None


class Decisions:
    """The writes of one transaction: firings (exactly once by their unique key) and what was fired."""

    def __init__(self, session: Session, now: datetime, *, worker: str | None = None) -> None:
        self.session = session
        self.now = now
        self.worker = worker  # which trigger worker decided (noted on each firing)
        self.fired: list[Fired] = []

    def fire(self, trigger_id: int, customer_id: int, occurrence_key: str, event_ids: Sequence[int],
             accepted_at: datetime | None, details: dict | None = None) -> int | None:
        if self.worker:
            details = {**(details or {}), "worker": self.worker}
        latency = None if accepted_at is None else max(0, int((self.now - accepted_at).total_seconds() * 1000))
        stmt = (insert_for(self.session)(TriggerFiring)
                .values(trigger_id=trigger_id, customer_id=customer_id, occurrence_key=occurrence_key[:200],
                        event_ids=list(event_ids), accepted_at=accepted_at, fired_at=self.now,
                        latency_ms=min(latency, 2**31 - 1) if latency is not None else None, details=details)
                .on_conflict_do_nothing(index_elements=["trigger_id", "customer_id", "occurrence_key"])
                .returning(TriggerFiring.id))
        firing_id = self.session.scalar(stmt)
        if firing_id is not None:
            self.fired.append(Fired(firing_id, trigger_id, customer_id, occurrence_key, tuple(event_ids),
                                    accepted_at, self.now))
        return firing_id


# ---- event-driven triggers --------------------------------------------------------------------------------

def customer_org_paths(session: Session, customer_ids: set[int]) -> dict[int, str]:
    if not customer_ids:
        return {}
    return dict(session.execute(select(Customer.id, Org.path).join(Org, Org.id == Customer.org_id)
                                .where(Customer.id.in_(customer_ids))).all())


def process_events(session: Session, triggers: TriggerSet, events: Sequence[EventView], *,
                   now: datetime, worker: str | None = None) -> Decisions:
    """Evaluate ``events`` (oldest first) against the active triggers; writes go into ``session``."""
    decisions = Decisions(session, now, worker=worker)
    relevant = {e.id: e for e in events if e.customer_id is not None and e.name in triggers.by_name}
    if triggers.by_name:
        for e in events:
            if e.type in ("identify", "alias") and e.customer_id is not None:
                for stitched in stitched_events(session, e, names=triggers.by_name):
                    relevant.setdefault(stitched.id, stitched)
    if not relevant:
        return decisions
    relevant = sorted(relevant.values(), key=lambda e: e.id)
    paths = customer_org_paths(session, {e.customer_id for e in relevant}) if triggers.scoped else {}
    for ev in relevant:
        for trigger in triggers.by_name[ev.name]:
            if ev.received_at < trigger.active_since:
                continue
            if not trigger.whole_bank and not paths.get(ev.customer_id, "").startswith(trigger.org_path):
                continue
            evaluate(decisions, trigger, ev)
    return decisions


def stitched_events(session: Session, ev: EventView, *, names) -> list[EventView]:
    """Events stored before the identify/alias ``ev`` that it attached to its customer (身份合并补判).

    They were decided on while they had no customer, so nothing fired for them; deciding on them now, when
    the engine meets the linking message, gives every delivery set-up (bus, tail, Redis) the same second
    look. The firings' unique keys keep it exactly once however often the linking message is processed.
    """
    merges = session.execute(select(IdentityMerge.identity, IdentityMerge.at).where(
        IdentityMerge.source_id == ev.source_id, IdentityMerge.message_id == ev.message_id,
        IdentityMerge.customer_id == ev.customer_id, IdentityMerge.events_attached > 0)).all()
    if not merges:
        return []
    values = {identity for identity, _ in merges}
    # Anonymous ids that had been identified as the linked user id follow it in the same transaction.
    values.update(session.scalars(select(Identity.value).where(
        Identity.customer_id == ev.customer_id, Identity.linked_at.in_({at for _, at in merges}))))
    values = sorted(values)
    rows = session.scalars(select(Event).where(
        Event.customer_id == ev.customer_id, Event.id < ev.id, Event.name.in_(list(names)),
        or_(Event.anonymous_id.in_(values), Event.user_id.in_(values)))
        .order_by(Event.id).limit(HISTORY_SCAN_LIMIT))
    return [EventView.of(row) for row in rows]


def evaluate(decisions: Decisions, trigger: ActiveTrigger, ev: EventView) -> None:
    session = decisions.session
    match trigger.spec:
        case defs.EventSpec(match=m):
            if m.matches(ev.name, ev.type, ev.properties):
                decisions.fire(trigger.id, ev.customer_id, message_key(ev), [ev.id], ev.received_at,
                               {"event": ev.name})
        case defs.FirstTimeSpec(match=m, window_days=window):
            if m.matches(ev.name, ev.type, ev.properties) and not seen_before(session, m, ev, window):
                key = "first" if window is None else message_key(ev)
                decisions.fire(trigger.id, ev.customer_id, key, [ev.id], ev.received_at,
                               {"event": ev.name, "window_days": window})
        case defs.PairSpec() as spec:
            if spec.then.matches(ev.name, ev.type, ev.properties):
                _on_then(decisions, trigger, spec, ev)
            if spec.first.matches(ev.name, ev.type, ev.properties):
                _on_first(decisions, trigger, spec, ev)


def _day_bounds(since: datetime | None, until: datetime | None) -> list:
    conditions = []
    if since is not None:
        conditions += [Event.ts >= since, Event.day >= since.date() - timedelta(days=1)]
    if until is not None:
        conditions += [Event.ts <= until, Event.day <= until.date() + timedelta(days=1)]
    return conditions


def seen_before(session: Session, m: defs.EventMatch, ev: EventView, window_days: int | None) -> bool:
    """Did the customer do a matching event before this one (within ``window_days`` before it)?"""
    since = ev.ts - timedelta(days=window_days) if window_days else None
    stmt = (select(Event.id, Event.type, Event.properties)
            .where(Event.customer_id == ev.customer_id, Event.name == m.event, Event.id != ev.id,
                   or_(Event.ts < ev.ts, and_(Event.ts == ev.ts, Event.id < ev.id)),
                   *_day_bounds(since, ev.ts)))
    if not m.filters and m.event_type is None:
        return session.execute(stmt.limit(1)).first() is not None
    for row in session.execute(stmt.order_by(Event.ts.desc()).limit(HISTORY_SCAN_LIMIT)):
        if m.matches(m.event, row.type, row.properties):
            return True
    return False


def find_event(session: Session, m: defs.EventMatch, spec: defs.PairSpec, *, customer_id: int, key: str,
               since: datetime, until: datetime, exclude_id: int) -> EventView | None:
    """The earliest stored event matching ``m`` with match-key value ``key`` in [since, until]."""
    stmt = (select(Event).where(Event.customer_id == customer_id, Event.name == m.event, Event.id != exclude_id,
                                *_day_bounds(since, until))
            .order_by(Event.ts, Event.id).limit(HISTORY_SCAN_LIMIT))
    for row in session.scalars(stmt):
        if m.matches(row.name, row.type, row.properties) and spec.key_of(row.properties) == key:
            return EventView.of(row)
    return None


def _occurrence(spec: defs.PairSpec, key: str, ev: EventView) -> str:
    return f"k:{key}" if spec.match_key else message_key(ev)


def _open_state(decisions: Decisions, trigger: ActiveTrigger, spec: defs.PairSpec, ev: EventView, key: str,
                status: str = "open") -> int | None:
    values = dict(trigger_id=trigger.id, customer_id=ev.customer_id, match_key=key,
                  occurrence_key=_occurrence(spec, key, ev)[:200], status=status, start_event_id=ev.id,
                  started_at=ev.ts, accepted_at=ev.received_at,
                  deadline_at=ev.ts + timedelta(seconds=spec.within_seconds), created_at=decisions.now,
                  updated_at=decisions.now)
    stmt = (insert_for(decisions.session)(TriggerState).values(**values)
            .on_conflict_do_nothing(index_elements=["trigger_id", "customer_id", "occurrence_key"])
            .returning(TriggerState.id))
    return decisions.session.scalar(stmt)


def _set_state(session: Session, state_id: int, status: str, *, closed_event_id: int | None = None,
               now: datetime) -> bool:
    """Compare-and-set from ``open``: True for the one writer that moved it."""
    result = session.execute(update(TriggerState).where(TriggerState.id == state_id, TriggerState.status == "open")
                             .values(status=status, closed_event_id=closed_event_id, updated_at=now)
                             .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _on_first(decisions: Decisions, trigger: ActiveTrigger, spec: defs.PairSpec, ev: EventView) -> None:
    session = decisions.session
    key = spec.key_of(ev.properties)
    if key is None:
        return  # no match key on the event: it cannot be paired
    if not spec.match_key:
        # Without a match key one open breakpoint per customer: a repeated A does not start another.
        waiting = session.scalar(select(TriggerState.id).where(
            TriggerState.trigger_id == trigger.id, TriggerState.customer_id == ev.customer_id,
            TriggerState.match_key == "", TriggerState.status == "open").limit(1))
        if waiting is not None:
            return
    state_id = _open_state(decisions, trigger, spec, ev, key)
    if state_id is None:
        return  # this occurrence was opened before (re-delivery, or the same flow started again)
    deadline = ev.ts + timedelta(seconds=spec.within_seconds)
    if spec.kind == "breakpoint":
        job_service.enqueue(session, name=DEADLINE_JOB, args={"state_id": state_id},
                            idempotency_key=f"{DEADLINE_JOB}:{state_id}",
                            run_at=max(deadline + DEADLINE_GRACE, decisions.now))
        return
    # A sequence whose B was processed first (another worker, or B stored with an earlier id).
    then = find_event(session, spec.then, spec, customer_id=ev.customer_id, key=key, since=ev.ts, until=deadline,
                      exclude_id=ev.id)
    if then is not None and _set_state(session, state_id, "fired", closed_event_id=then.id, now=decisions.now):
        decisions.fire(trigger.id, ev.customer_id, _occurrence(spec, key, ev), [ev.id, then.id],
                       max(ev.received_at, then.received_at), _pair_details(spec, key))


def _pair_details(spec: defs.PairSpec, key: str) -> dict:
    return {"first_event": spec.first.event, "then_event": spec.then.event, "within_seconds": spec.within_seconds,
            "match_key": spec.match_key, "match_value": key or None}


def _on_then(decisions: Decisions, trigger: ActiveTrigger, spec: defs.PairSpec, ev: EventView) -> None:
    session = decisions.session
    key = spec.key_of(ev.properties)
    if key is None:
        return
    states = session.scalars(select(TriggerState).where(
        TriggerState.trigger_id == trigger.id, TriggerState.customer_id == ev.customer_id,
        TriggerState.match_key == key, TriggerState.status == "open", TriggerState.started_at <= ev.ts,
        TriggerState.deadline_at >= ev.ts, TriggerState.start_event_id != ev.id)).all()
    if spec.kind == "breakpoint":
        for state in states:
            _set_state(session, state.id, "closed", closed_event_id=ev.id, now=decisions.now)
        return
    for state in states:
        if _set_state(session, state.id, "fired", closed_event_id=ev.id, now=decisions.now):
            decisions.fire(trigger.id, ev.customer_id, state.occurrence_key, [state.start_event_id, ev.id],
                           ev.received_at, _pair_details(spec, key))
    if states:
        return
    # No open state: A may not have been processed yet (another worker holds it). Look it up.
    first = find_event(session, spec.first, spec, customer_id=ev.customer_id, key=key,
                       since=ev.ts - timedelta(seconds=spec.within_seconds), until=ev.ts, exclude_id=ev.id)
    if first is None or first.received_at < trigger.active_since:
        return
    if _open_state(decisions, trigger, spec, first, key, status="fired") is not None:
        decisions.fire(trigger.id, ev.customer_id, _occurrence(spec, key, first), [first.id, ev.id],
                       max(ev.received_at, first.received_at), _pair_details(spec, key))


# ---- deadlines ----------------------------------------------------------------------------------------------

def resolve_state(decisions: Decisions, triggers: TriggerSet, state: TriggerState) -> str:
    """Settle an open breakpoint/sequence state whose deadline has passed; returns what happened."""
    session, now = decisions.session, decisions.now
    if state.status != "open":
        return "done"
    if state.deadline_at + DEADLINE_GRACE > now:
        return "not_due"
    trigger = triggers.by_id.get(state.trigger_id)
    if trigger is None or not isinstance(trigger.spec, defs.PairSpec):
        _set_state(session, state.id, "expired", now=now)  # the trigger was paused, archived or changed kind
        return "expired"
    spec = trigger.spec
    if spec.kind == "sequence":
        _set_state(session, state.id, "expired", now=now)
        return "expired"
    then = find_event(session, spec.then, spec, customer_id=state.customer_id, key=state.match_key,
                      since=state.started_at, until=state.deadline_at, exclude_id=state.start_event_id)
    if then is not None:
        _set_state(session, state.id, "closed", closed_event_id=then.id, now=now)
        return "closed"
    if not _set_state(session, state.id, "fired", now=now):
        return "done"
    decisions.fire(trigger.id, state.customer_id, state.occurrence_key, [state.start_event_id],
                   max(state.deadline_at, state.accepted_at),
                   {**_pair_details(spec, state.match_key), "deadline_at": state.deadline_at.isoformat()})
    return "fired"


def sweep_due(session: Session, triggers: TriggerSet, *, now: datetime, limit: int = 500) -> Decisions:
    """Settle open states whose deadline has passed (the trigger worker does this every tick; the durable
    deadline jobs do the same for each state, so a state is settled even with no trigger worker running)."""
    decisions = Decisions(session, now)
    due = session.scalars(select(TriggerState).where(TriggerState.status == "open",
                                                     TriggerState.deadline_at <= now - DEADLINE_GRACE)
                          .order_by(TriggerState.deadline_at).limit(limit)).all()
    for state in due:
        resolve_state(decisions, triggers, state)
    return decisions


# ---- cursors --------------------------------------------------------------------------------------------------

def get_cursor(session: Session, name: str) -> TriggerCursor | None:
    return session.get(TriggerCursor, name, populate_existing=True)


def save_cursor(session: Session, name: str, *, last_event_id: int | None = None,
                last_at: datetime | None = None, now: datetime) -> None:
    values: dict = {"updated_at": now}
    if last_event_id is not None:
        values["last_event_id"] = last_event_id
    if last_at is not None:
        values["last_at"] = last_at
    stmt = (insert_for(session)(TriggerCursor)
            .values(name=name, last_event_id=last_event_id or 0, last_at=last_at, updated_at=now)
            .on_conflict_do_update(index_elements=["name"], set_=values))
    session.execute(stmt)


# ---- replay (pure): the editor's "test against recent events" and the benchmark's cross-check --------------

def simulate(spec: defs.Spec, events: Sequence[EventView], *, window_start: datetime, until: datetime,
             seen_before_window: set[int] | frozenset[int] = frozenset()) -> list[tuple[int, str, list[int]]]:
    """The firings ``spec`` would make over ``events`` (any order; customer events only), as
    (customer id, occurrence key, causing event ids). Events before ``window_start`` are history only
    (first-time look-back); ``seen_before_window`` are customers with a matching event before the events
    given (first ever). Breakpoints whose deadline is after ``until`` have not fired yet."""
    ordered = sorted((e for e in events if e.customer_id is not None), key=lambda e: (e.ts, e.id))
    out: list[tuple[int, str, list[int]]] = []
    used: set[tuple[int, str]] = set()

    def emit(customer_id: int, key: str, ids: list[int]) -> None:
        if (customer_id, key) not in used:
            used.add((customer_id, key))
            out.append((customer_id, key, ids))

    match spec:
        case defs.EventSpec(match=m):
            for e in ordered:
                if e.ts >= window_start and m.matches(e.name, e.type, e.properties):
                    emit(e.customer_id, message_key(e), [e.id])
        case defs.FirstTimeSpec(match=m, window_days=window):
            last: dict[int, datetime] = {}
            for e in ordered:
                if not m.matches(e.name, e.type, e.properties):
                    continue
                previous = last.get(e.customer_id)
                last[e.customer_id] = e.ts
                if e.ts < window_start:
                    continue
                if window is None:
                    if previous is None and e.customer_id not in seen_before_window:
                        emit(e.customer_id, "first", [e.id])
                elif previous is None or e.ts - previous > timedelta(days=window):
                    emit(e.customer_id, message_key(e), [e.id])
        case defs.PairSpec() as pair:
            within = timedelta(seconds=pair.within_seconds)
            open_: dict[tuple[int, str], EventView] = {}

            def settle(slot: tuple[int, str], at: datetime) -> None:
                a = open_.get(slot)
                if a is not None and a.ts + within < at:
                    del open_[slot]
                    if pair.kind == "breakpoint":
                        emit(a.customer_id, _occurrence(pair, slot[1], a), [a.id])
                    else:
                        used.add((a.customer_id, _occurrence(pair, slot[1], a)))  # expired: not reopened

            for e in ordered:
                if e.ts < window_start:
                    continue
                key = pair.key_of(e.properties)
                if key is None:
                    continue
                slot = (e.customer_id, key)
                settle(slot, e.ts)
                if pair.then.matches(e.name, e.type, e.properties) and slot in open_:
                    a = open_.pop(slot)
                    if pair.kind == "sequence":
                        emit(a.customer_id, _occurrence(pair, key, a), [a.id, e.id])
                    else:
                        used.add((a.customer_id, _occurrence(pair, key, a)))
                if pair.first.matches(e.name, e.type, e.properties) and slot not in open_:
                    if (e.customer_id, _occurrence(pair, key, e)) not in used:
                        open_[slot] = e
            for slot in list(open_):
                settle(slot, until)
    return out
