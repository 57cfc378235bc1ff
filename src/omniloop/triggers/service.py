"""Triggers (识客触发器): definitions and their lifecycle, firing history, the editor's test, and what other
domains use — ``firings_after`` (campaigns in event-triggered mode page through new firings by id),
``fired_customers`` (event-derived tags, B3: who fired a trigger in a window) and ``omniloop.triggers.bus``.

Definitions are visible to users of the owner org's subtree and of its ancestors' subtrees (a head-office
trigger is seen by every branch); editing needs ``triggers.manage`` and the owner org in your subtree.
Firings are customer data: they are read through ``customers.service.readable_customers`` and masked.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, literal, or_, select
from sqlalchemy.orm import Session

from omniloop.core import audit
from omniloop.core.errors import Conflict, Forbidden, NotFound
from omniloop.core.pagination import PageParams, paginate
from omniloop.customers import service as customer_service
from omniloop.customers.models import Customer
from omniloop.events import service as event_service
from omniloop.events.models import Event
from omniloop.jobs import service as job_service
from omniloop.org import service as org_service
from omniloop.org.auth import Principal
from omniloop.org.masking import mask_name
from omniloop.org.models import Org, User
from omniloop.org.roles import Permission
from omniloop.triggers import definitions as defs
from omniloop.triggers import keydates, thresholds
from omniloop.triggers.engine import EventView, get_cursor, save_cursor, simulate
from omniloop.triggers.models import Trigger, TriggerFiring, TriggerState
from omniloop.triggers.schemas import (
    CausingEvent,
    FiringRead,
    Option,
    TestCustomer,
    TriggerCatalog,
    TriggerCreate,
    TriggerRead,
    TriggerTest,
    TriggerTestResult,
    TriggerUpdate,
)

KEY_DATES_SCHEDULE = ("triggers.key_dates", "triggers.key_dates", "0 8 * * *")
THRESHOLD_SCHEDULE = ("triggers.thresholds", "triggers.threshold_scan", "* * * * *")
TEST_EVENT_LIMIT = 200_000
TEST_SAMPLE = 50

_TRANSITIONS = {
    "activate": ({"draft", "paused"}, "active"),
    "pause": ({"active"}, "paused"),
    "archive": ({"draft", "active", "paused"}, "archived"),
}


# ---- catalog ------------------------------------------------------------------------------------------------

def catalog() -> TriggerCatalog:
    def options(table: dict[str, tuple[str, str]]) -> list[Option]:
        return [Option(value=k, label_zh=zh, label_en=en) for k, (zh, en) in table.items()]

    return TriggerCatalog(kinds=options(defs.KIND_LABELS), operators=options(defs.OP_LABELS),
                          value_types=list(defs.VALUE_TYPES), date_kinds=options(defs.DATE_KIND_LABELS),
                          product_types=list(defs.PRODUCT_TYPES), directions=list(defs.DIRECTIONS))


# ---- definitions --------------------------------------------------------------------------------------------

def visible_statement(principal: Principal) -> Select:
    """Triggers owned in the caller's subtree or by one of the caller's ancestors."""
    return (select(Trigger).join(Org, Org.id == Trigger.owner_org_id)
            .where(or_(org_service.subtree_condition(Org.path, principal.org.path),
                       literal(principal.org.path).like(Org.path + "%"))))


def get_visible(*, session: Session, principal: Principal, trigger_id: int) -> Trigger:
    trigger = session.scalar(visible_statement(principal).where(Trigger.id == trigger_id))
    if trigger is None:
        raise NotFound("触发器不存在", "Trigger not found", details={"trigger_id": trigger_id})
    return trigger


def _editable(session: Session, principal: Principal, trigger: Trigger) -> bool:
    if not principal.can(Permission.triggers_manage):
        return False
    path = session.scalar(select(Org.path).where(Org.id == trigger.owner_org_id))
    return bool(path and path.startswith(principal.org.path))


def get_editable(*, session: Session, principal: Principal, trigger_id: int) -> Trigger:
    trigger = get_visible(session=session, principal=principal, trigger_id=trigger_id)
    if not _editable(session, principal, trigger):
        raise Forbidden("该触发器属于上级机构，您不能修改", "This trigger belongs to a parent org; you cannot change it",
                        details={"trigger_id": trigger_id})
    return trigger


def list_statement(principal: Principal, *, kind: str | None = None, status: str | None = None,
                   q: str | None = None) -> Select:
    stmt = visible_statement(principal)
    if kind:
        stmt = stmt.where(Trigger.kind == kind)
    if status:
        stmt = stmt.where(Trigger.status == status)
    else:
        stmt = stmt.where(Trigger.status != "archived")
    if q:
        stmt = stmt.where(Trigger.name.contains(q.strip(), autoescape=True))
    return stmt.order_by(Trigger.id.desc())


def _scoped_firings(principal: Principal):
    """Firing rows the principal may count or read (whole bank, or their readable customers)."""
    stmt = select(TriggerFiring)
    if not event_service.sees_whole_bank(principal):
        readable = customer_service.readable_customers(principal).with_only_columns(Customer.id)
        stmt = stmt.where(TriggerFiring.customer_id.in_(readable))
    return stmt


def _start_of_today(now: datetime, timezone: str) -> datetime:
    zone = ZoneInfo(timezone)
    return datetime.combine(now.astimezone(zone).date(), time(), zone)


def trigger_reads(session: Session, principal: Principal, triggers: list[Trigger], *, now: datetime,
                  timezone: str) -> list[TriggerRead]:
    ids = [t.id for t in triggers]
    if not ids:
        return []
    scoped = _scoped_firings(principal).where(TriggerFiring.trigger_id.in_(ids)).subquery()
    stats = {tid: (last, total) for tid, last, total in session.execute(
        select(scoped.c.trigger_id, func.max(scoped.c.fired_at), func.count()).group_by(scoped.c.trigger_id))}
    today = dict(session.execute(select(scoped.c.trigger_id, func.count())
                                 .where(scoped.c.fired_at >= _start_of_today(now, timezone))
                                 .group_by(scoped.c.trigger_id)).all())
    orgs = dict(session.execute(select(Org.id, Org.name).where(Org.id.in_({t.owner_org_id for t in triggers}))).all())
    user_ids = {t.created_by_id for t in triggers if t.created_by_id}
    users = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids))).all()) if user_ids else {}
    paths = dict(session.execute(select(Org.id, Org.path).where(Org.id.in_({t.owner_org_id for t in triggers}))).all())
    can_manage = principal.can(Permission.triggers_manage)
    out = []
    for t in triggers:
        last, total = stats.get(t.id, (None, 0))
        out.append(TriggerRead(
            id=t.id, name=t.name, description=t.description, kind=t.kind, definition=t.definition, status=t.status,
            owner_org_id=t.owner_org_id, owner_org_name=orgs.get(t.owner_org_id), version=t.version,
            active_since=t.active_since, created_at=t.created_at, updated_at=t.updated_at,
            created_by=users.get(t.created_by_id),
            editable=can_manage and paths.get(t.owner_org_id, "").startswith(principal.org.path),
            last_fired_at=last, firings_today=today.get(t.id, 0), firings_total=total,
        ))
    return out


def _normalised(kind: str, definition: Any) -> dict:
    return defs.to_json(defs.parse(kind, definition))


def _owner(session: Session, principal: Principal, owner_org_id: int | None) -> Org:
    if owner_org_id is None:
        return principal.org
    return org_service.get_visible_org(session=session, org_id=owner_org_id, root=principal.org)


def create_trigger(*, session: Session, principal: Principal, data: TriggerCreate, now: datetime) -> Trigger:
    definition = _normalised(data.kind, data.definition)
    owner = _owner(session, principal, data.owner_org_id)
    trigger = Trigger(name=data.name.strip(), description=data.description, kind=data.kind, definition=definition,
                      status="draft", owner_org_id=owner.id, version=1, created_by_id=principal.user.id,
                      updated_by_id=principal.user.id, created_at=now, updated_at=now)
    session.add(trigger)
    session.flush()
    audit.record(session, actor=principal.actor, action="create", entity_type="trigger", entity_id=trigger.id,
                 after=audit.snapshot(trigger))
    if data.status == "active":
        change_status(session=session, principal=principal, trigger=trigger, action="activate", now=now)
    return trigger


def update_trigger(*, session: Session, principal: Principal, trigger: Trigger, data: TriggerUpdate,
                   now: datetime) -> Trigger:
    if trigger.status == "archived":
        raise Conflict("已归档的触发器不能修改", "An archived trigger cannot be changed", code="trigger_archived")
    before = audit.snapshot(trigger)
    fields = data.model_dump(exclude_unset=True)
    if fields.get("name") is not None:
        trigger.name = fields["name"].strip()
    if "description" in fields:
        trigger.description = fields["description"]
    if fields.get("definition") is not None:
        definition = _normalised(trigger.kind, fields["definition"])
        if definition != trigger.definition:
            trigger.definition = definition
            trigger.version += 1
            if trigger.status == "active" and trigger.kind == "threshold":
                session.flush()
                thresholds.baseline(session, trigger, now=now)
    trigger.updated_by_id, trigger.updated_at = principal.user.id, now
    session.flush()
    audit.record(session, actor=principal.actor, action="update", entity_type="trigger", entity_id=trigger.id,
                 before=before, after=audit.snapshot(trigger))
    return trigger


def ensure_runtime(session: Session, *, now: datetime) -> None:
    """What an active trigger needs: the event cursors (started at the newest event, so activation does
    not replay history) and the daily key-date and threshold schedules."""
    newest = None
    for name in ("tail", "dispatch"):
        if get_cursor(session, name) is None:
            if newest is None:
                newest = session.scalar(select(func.coalesce(func.max(Event.id), 0)))
            save_cursor(session, name, last_event_id=newest, now=now)
    declare_schedules(session)


def declare_schedules(session: Session) -> None:
    for key, name, cron in (KEY_DATES_SCHEDULE, THRESHOLD_SCHEDULE):
        job_service.upsert_schedule(session, key=key, job_name=name, cron=cron)


def change_status(*, session: Session, principal: Principal, trigger: Trigger, action: str, now: datetime) -> Trigger:
    allowed, target = _TRANSITIONS[action]
    if trigger.status not in allowed:
        raise Conflict(f"当前状态（{trigger.status}）不能执行该操作", f"Cannot {action} a trigger that is {trigger.status}",
                       code="bad_status_transition", details={"status": trigger.status, "action": action})
    before = audit.snapshot(trigger)
    trigger.status = target
    trigger.updated_by_id, trigger.updated_at = principal.user.id, now
    if target == "active":
        trigger.active_since = now
        ensure_runtime(session, now=now)
        if trigger.kind == "threshold":
            session.flush()
            thresholds.baseline(session, trigger, now=now)
    else:
        # Open breakpoints of a trigger that stops deciding are closed; their timers then find nothing.
        session.execute(TriggerState.__table__.update()
                        .where(TriggerState.trigger_id == trigger.id, TriggerState.status == "open")
                        .values(status="expired", updated_at=now))
    session.flush()
    audit.record(session, actor=principal.actor, action=action, entity_type="trigger", entity_id=trigger.id,
                 before=before, after=audit.snapshot(trigger))
    return trigger


# ---- firings ------------------------------------------------------------------------------------------------

def firings_statement(principal: Principal, *, trigger_id: int, after_id: int | None = None,
                      customer_no: str | None = None) -> Select:
    readable = customer_service.readable_customers(principal).subquery()
    stmt = (select(TriggerFiring).join(readable, readable.c.id == TriggerFiring.customer_id)
            .where(TriggerFiring.trigger_id == trigger_id))
    if after_id is not None:
        stmt = stmt.where(TriggerFiring.id > after_id)
    if customer_no:
        stmt = stmt.where(readable.c.customer_no == customer_no)
    return stmt.order_by(TriggerFiring.id.desc())


def firing_reads(session: Session, principal: Principal, firings: list[TriggerFiring]) -> list[FiringRead]:
    customer_ids = {f.customer_id for f in firings}
    customers = {cid: (no, name, org) for cid, no, name, org in session.execute(
        select(Customer.id, Customer.customer_no, Customer.name, Org.name).join(Org, Org.id == Customer.org_id)
        .where(Customer.id.in_(customer_ids)))} if customer_ids else {}
    event_ids = {i for f in firings for i in (f.event_ids or [])}
    events = {e.id: e for e in session.scalars(select(Event).where(Event.id.in_(event_ids)))} if event_ids else {}
    unmask = principal.can(Permission.customers_pii)
    items = []
    for f in firings:
        number, name, org = customers.get(f.customer_id, ("", None, None))
        causing = []
        for event_id in f.event_ids or []:
            e = events.get(event_id)
            causing.append(CausingEvent(id=event_id, name=e.name if e else None, type=e.type if e else None,
                                        ts=e.ts if e else None, received_at=e.received_at if e else None,
                                        properties=e.properties if e else None))
        items.append(FiringRead(
            id=f.id, trigger_id=f.trigger_id, customer_no=number, customer_name=name if unmask else mask_name(name),
            masked=not unmask, org_name=org, occurrence_key=f.occurrence_key, accepted_at=f.accepted_at,
            fired_at=f.fired_at, latency_ms=f.latency_ms, details=f.details, events=causing,
        ))
    return items


def list_firings(session: Session, principal: Principal, *, trigger_id: int, page: PageParams,
                 after_id: int | None = None, customer_no: str | None = None) -> tuple[list[FiringRead], int]:
    rows, total = paginate(session, firings_statement(principal, trigger_id=trigger_id, after_id=after_id,
                                                      customer_no=customer_no), page)
    return firing_reads(session, principal, rows), total


def firings_after(session: Session, *, trigger_id: int, after_id: int = 0, limit: int = 500) -> list[TriggerFiring]:
    """Firings of a trigger after ``after_id``, oldest first — for consumers in other domains (a campaign
    in event-triggered mode keeps the last id it handled). Not scoped: callers are system processes."""
    return list(session.scalars(select(TriggerFiring).where(TriggerFiring.trigger_id == trigger_id,
                                                            TriggerFiring.id > after_id)
                                .order_by(TriggerFiring.id).limit(limit)))


def fired_customers(session: Session, *, trigger_id: int, since: datetime, until: datetime) -> dict[int, int]:
    """Customers the trigger fired for in [since, until) and how often: the hook for event-derived tags (B3)."""
    return dict(session.execute(select(TriggerFiring.customer_id, func.count())
                                .where(TriggerFiring.trigger_id == trigger_id, TriggerFiring.fired_at >= since,
                                       TriggerFiring.fired_at < until)
                                .group_by(TriggerFiring.customer_id)).all())


# ---- the editor's test --------------------------------------------------------------------------------------

def _readable_ids(principal: Principal):
    return customer_service.readable_customers(principal).with_only_columns(Customer.id)


def _in_owner_scope(session: Session, principal: Principal, owner_org_id: int | None):
    owner = _owner(session, principal, owner_org_id)
    return owner


def test_definition(*, session: Session, principal: Principal, data: TriggerTest, now: datetime,
                    timezone: str) -> TriggerTestResult:
    """Who the definition would have fired for over the last ``days`` days of stored events (key dates: the
    next ``days`` days), among the customers the caller may see and the owner org's subtree."""
    spec = defs.parse(data.kind, data.definition)
    owner = _in_owner_scope(session, principal, data.owner_org_id)
    since = now - timedelta(days=data.days)
    hits: list[tuple[int, str, datetime | None]] = []
    scanned, truncated = 0, False
    note = (None, None)
    scope = (select(Customer.id).join(Org, Org.id == Customer.org_id)
             .where(Customer.id.in_(_readable_ids(principal)), Org.path.like(owner.path + "%")))
    if isinstance(spec, defs.KeyDateSpec):
        from omniloop.triggers.engine import ActiveTrigger

        probe = ActiveTrigger(0, data.kind, spec, now, owner.path, owner.parent_id is None)
        today = now.astimezone(ZoneInfo(timezone)).date()
        allowed = set(session.scalars(scope))
        for offset in range(data.days):
            day = today + timedelta(days=offset)
            for customer_id, key, _details in keydates.candidates(session, probe, today=day, timezone=timezone):
                if customer_id in allowed:
                    hits.append((customer_id, key, datetime.combine(day, time(8), ZoneInfo(timezone))))
        since, until = now, now + timedelta(days=data.days)
    elif isinstance(spec, defs.ThresholdSpec):
        column = getattr(Customer, spec.metric)
        above = session.scalars(scope.where(column >= spec.value_fen)).all()
        hits = [(cid, "above", None) for cid in above]
        until = now
        note = ("阈值触发按客户数据变化判断；此处列出当前已达到阈值的客户",
                "Thresholds fire on customer data changes; listed are the customers at or above it now")
    else:
        names = sorted(defs.event_names(spec))
        history_start = since
        if isinstance(spec, defs.FirstTimeSpec) and spec.window_days:
            history_start = since - timedelta(days=spec.window_days)
        stmt = (select(Event).where(Event.name.in_(names), Event.customer_id.in_(scope), Event.ts >= history_start,
                                    Event.ts <= now, Event.day >= history_start.date() - timedelta(days=1))
                .order_by(Event.ts, Event.id).limit(TEST_EVENT_LIMIT + 1))
        rows = list(session.scalars(stmt))
        truncated = len(rows) > TEST_EVENT_LIMIT
        rows = rows[:TEST_EVENT_LIMIT]
        scanned = len(rows)
        views = [EventView.of(r) for r in rows]
        seen: set[int] = set()
        if isinstance(spec, defs.FirstTimeSpec) and spec.window_days is None:
            customer_ids = {v.customer_id for v in views if v.ts >= since}
            for i in range(0, len(customer_ids), 5000):
                chunk = sorted(customer_ids)[i:i + 5000]
                for cid, etype, props in session.execute(
                        select(Event.customer_id, Event.type, Event.properties)
                        .where(Event.name == spec.match.event, Event.customer_id.in_(chunk), Event.ts < since)):
                    if spec.match.matches(spec.match.event, etype, props):
                        seen.add(cid)
        by_id = {v.id: v for v in views}
        for customer_id, key, ids in simulate(spec, views, window_start=since, until=now, seen_before_window=seen):
            hits.append((customer_id, key, max((by_id[i].ts for i in ids if i in by_id), default=None)))
        until = now
    counts = Counter(cid for cid, _key, _at in hits)
    last: dict[int, datetime | None] = {}
    for cid, _key, at in hits:
        if at is not None and (last.get(cid) is None or at > last[cid]):
            last[cid] = at
        last.setdefault(cid, None)
    top = sorted(counts, key=lambda c: (-counts[c], c))[:TEST_SAMPLE]
    rows = {cid: (no, name, org) for cid, no, name, org in session.execute(
        select(Customer.id, Customer.customer_no, Customer.name, Org.name).join(Org, Org.id == Customer.org_id)
        .where(Customer.id.in_(top)))} if top else {}
    unmask = principal.can(Permission.customers_pii)
    sample = [TestCustomer(customer_no=rows[c][0], customer_name=rows[c][1] if unmask else mask_name(rows[c][1]),
                           org_name=rows[c][2], firings=counts[c], last_at=last.get(c)) for c in top if c in rows]
    return TriggerTestResult(since=since, until=until, events_scanned=scanned, truncated=truncated,
                             customers=len(counts), firings=len(hits), sample=sample, note_zh=note[0], note_en=note[1])
