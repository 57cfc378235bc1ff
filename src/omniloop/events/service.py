"""Events (识客): event sources and write keys, ingestion, and every read of the event store.

Reads are scoped like customers: a user sees the events of the customers they may read
(``customers.service.readable_customers``); events with no customer yet (anonymous visitors) are seen
only by head-office users who see the whole bank.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, Select, func, select, text
from sqlalchemy.orm import Session

from omniloop.core import audit
from omniloop.core.audit import Actor
from omniloop.core.db import utcnow
from omniloop.core.errors import NotFound, OmniloopError, ValidationFailed
from omniloop.customers import service as customer_service
from omniloop.customers.models import Customer
from omniloop.events import bus, store
from omniloop.events.identity import Resolver
from omniloop.events.messages import Message
from omniloop.events.models import Event, EventSource, Identity, IdentityMerge
from omniloop.events.schemas import (
    CustomerIdentities,
    EventRead,
    EventSchemaEntry,
    EventSourceCreate,
    EventSourceRead,
    EventSourceUpdate,
    IdentityMergeRead,
    IdentityRead,
    PropertySeen,
)
from omniloop.org import service as org_service
from omniloop.org.auth import Principal
from omniloop.org.masking import mask_name
from omniloop.org.models import Org, User
from omniloop.org.roles import Permission


class InvalidWriteKey(OmniloopError):
    code, status, message_zh, message_en = "invalid_write_key", 401, "写入密钥无效", "Invalid write key"


class SourceDisabled(OmniloopError):
    code, status, message_zh, message_en = "source_disabled", 401, "事件源已停用", "Event source is disabled"


# ---- sources and write keys -----------------------------------------------------------------------------

def key_digest(write_key: str) -> str:
    return hashlib.sha256(write_key.encode()).hexdigest()


def new_write_key() -> str:
    return "wk_" + secrets.token_urlsafe(24)


def key_prefix(write_key: str) -> str:
    return write_key[:8]


@dataclass(frozen=True)
class SourceInfo:
    """What ingestion needs to know about the calling source."""

    id: int
    kind: str
    org_id: int
    scope_path: str | None  # partner sources: the org subtree their events may name


def authenticate(session: Session, *, write_key: str | None) -> SourceInfo:
    if not write_key or len(write_key) > 200:
        raise InvalidWriteKey(details={"hint": "HTTP basic auth with the write key as user name"})
    row = session.execute(
        select(EventSource.id, EventSource.kind, EventSource.org_id, EventSource.enabled, Org.path)
        .join(Org, Org.id == EventSource.org_id).where(EventSource.key_hash == key_digest(write_key))
    ).first()
    if row is None:
        raise InvalidWriteKey()
    if not row.enabled:
        raise SourceDisabled()
    return SourceInfo(row.id, row.kind, row.org_id, row.path if row.kind == "partner" else None)


def _source_snapshot(source: EventSource) -> dict:
    snap = audit.snapshot(source)
    snap.pop("key_hash", None)
    return snap


def sources_statement(principal: Principal) -> Select:
    return (select(EventSource).join(Org, Org.id == EventSource.org_id)
            .where(org_service.subtree_condition(Org.path, principal.org.path)).order_by(EventSource.id))


def source_reads(session: Session, sources: list[EventSource]) -> list[EventSourceRead]:
    org_names = dict(session.execute(select(Org.id, Org.name).where(Org.id.in_({s.org_id for s in sources}))).all())
    user_ids = {s.created_by_id for s in sources} | {s.rotated_by_id for s in sources}
    user_ids.discard(None)
    users = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids))).all()) if user_ids else {}
    return [EventSourceRead(
        id=s.id, name=s.name, kind=s.kind, description=s.description, org_id=s.org_id, org_name=org_names.get(s.org_id),
        key_prefix=s.key_prefix, enabled=s.enabled, created_at=s.created_at, created_by=users.get(s.created_by_id),
        rotated_at=s.rotated_at, rotated_by=users.get(s.rotated_by_id),
    ) for s in sources]


def get_visible_source(*, session: Session, principal: Principal, source_id: int) -> EventSource:
    source = session.scalar(sources_statement(principal).where(EventSource.id == source_id))
    if source is None:
        raise NotFound("事件源不存在", "Event source not found", details={"source_id": source_id})
    return source


def create_source(*, session: Session, data: EventSourceCreate, actor: Actor, root: Org | None,
                  write_key: str | None = None) -> tuple[EventSource, str]:
    """Create a source; returns it with its write key (shown once). ``root`` None: no scope check (CLI)."""
    org_id = data.org_id if data.org_id is not None else (root.id if root else None)
    if org_id is None:
        raise ValidationFailed("请选择所属机构", "An owning org is required", details={"field": "org_id"})
    if root is not None:
        org_service.get_visible_org(session=session, org_id=org_id, root=root)
    else:
        org_service.get_org(session=session, org_id=org_id)
    key = write_key or new_write_key()
    source = EventSource(name=data.name, kind=data.kind, description=data.description, org_id=org_id,
                         key_hash=key_digest(key), key_prefix=key_prefix(key), enabled=True,
                         created_by_id=actor.user_id)
    session.add(source)
    session.flush()
    audit.record(session, actor=actor, action="create", entity_type="event_source", entity_id=source.id,
                 after=_source_snapshot(source))
    return source, key


def update_source(*, session: Session, source: EventSource, data: EventSourceUpdate, actor: Actor) -> EventSource:
    before = _source_snapshot(source)
    for field, value in data.model_dump(exclude_unset=True).items():
        if field in ("name", "enabled") and value is None:
            continue
        setattr(source, field, value)
    session.flush()
    audit.record(session, actor=actor, action="update", entity_type="event_source", entity_id=source.id,
                 before=before, after=_source_snapshot(source))
    return source


def rotate_key(*, session: Session, source: EventSource, actor: Actor) -> str:
    """A new write key; the old one stops working at once."""
    before = _source_snapshot(source)
    key = new_write_key()
    source.key_hash, source.key_prefix = key_digest(key), key_prefix(key)
    source.rotated_at, source.rotated_by_id = utcnow(), actor.user_id
    session.flush()
    audit.record(session, actor=actor, action="rotate_key", entity_type="event_source", entity_id=source.id,
                 before=before, after=_source_snapshot(source))
    return key


# ---- ingestion ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class IngestResult:
    received: int
    stored: int
    duplicates: int


def ingest(session: Session, *, source: SourceInfo, messages: list[Message], engine: Engine | None = None) -> IngestResult:
    """Store validated messages in one transaction and commit; then publish them on the bus.

    Message ids already seen for this source (retries) are skipped. Identify and alias messages update
    identities and attach earlier events in the same transaction.
    """
    (result,) = ingest_group(session, [(source, messages)], engine=engine)
    return result


def ingest_group(session: Session, items: list[tuple[SourceInfo, list[Message]]],
                 engine: Engine | None = None) -> list[IngestResult]:
    """Store the messages of several requests in one transaction (group commit) and commit once; then
    publish them on the bus. The messages of one source are staged together in request order, so a retry
    inside the group is deduped and an identify in an earlier request applies to a later one."""
    engine = engine or session.get_bind()
    postgres = engine.dialect.name == "postgresql"
    by_source: dict[int, tuple[SourceInfo, list[Message]]] = {}
    for source, messages in items:
        by_source.setdefault(source.id, (source, []))[1].extend(messages)
    if postgres:
        store.ensure_partitions(engine, {m.day for _, messages in items for m in messages})
    conn = session.connection()
    if not postgres:
        # The request answers only once the events are on disk: fsync the WAL at this commit.
        conn.exec_driver_sql("PRAGMA synchronous=FULL")
    staged: list[tuple[list[tuple], list[Message]]] = []
    try:
        for source, messages in by_source.values():
            staged.append(_stage(conn, source, messages))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        if not postgres:
            session.connection().exec_driver_sql("PRAGMA synchronous=NORMAL")
            session.commit()
    if bus.has_subscribers():
        committed = [bus.CommittedEvent(r[0], r[2], r[3], r[4], r[5], r[8], r[7], r[6], r[9], r[11], m.properties)
                     for rows, fresh in staged for r, m in zip(rows, fresh, strict=True)]
        if committed:
            bus.publish(committed)
    stored = {source_id: set() for source_id in by_source}
    for rows, _ in staged:
        for r in rows:
            stored[r[2]].add(r[3])
    results = []
    for source, messages in items:
        # A message id counts as stored for the first request of the group that carried it.
        mine = stored[source.id]
        count = len({m.message_id for m in messages} & mine)
        mine -= {m.message_id for m in messages}
        results.append(IngestResult(len(messages), count, len(messages) - count))
    return results


def _stage(conn, source: SourceInfo, messages: list[Message]) -> tuple[list[tuple], list[Message]]:
    """Claim the message ids, resolve customers, apply identify/alias and insert the rows (no commit).
    Returns the rows written (``store.COLUMNS`` order) and their messages."""
    unique: dict[str, Message] = {}
    for m in messages:
        unique.setdefault(m.message_id, m)
    if not unique:
        return [], []
    claimed = store.claim_message_ids(conn, source_id=source.id, keys=[(m.message_id, m.day) for m in unique.values()])
    fresh = [unique[mid] for mid, _ in claimed]
    resolver = Resolver(conn, source.id, source.scope_path, utcnow())
    dirty: set = set()
    if fresh:
        resolver.load(fresh)
        for m in fresh:
            resolver.apply(m)
        dirty = resolver.flush()
    dumps = store.dumps
    rows = [(event_id, m.day, source.id, m.message_id, m.type, m.name, m.anonymous_id, m.user_id,
             resolver.customer_for(m), m.ts, m.sent_at, m.received_at, m.original_timestamp,
             dumps(m.properties), dumps(m.context)) for m, (_, event_id) in zip(fresh, claimed, strict=True)]
    store.insert_rows(conn, rows)
    mark_dirty(conn, dirty)
    return rows, fresh


def mark_dirty(conn, days) -> None:
    """Days whose stored events changed: the Parquet export rewrites them."""
    now = utcnow()
    marked_at = now if conn.dialect.name == "postgresql" else store.sqlite_time(now)
    for day in sorted(days):
        conn.execute(text("INSERT INTO event_dirty_days (day, marked_at) VALUES (:d, :at) "
                          "ON CONFLICT (day) DO UPDATE SET marked_at = excluded.marked_at"), {"d": day, "at": marked_at})


# ---- reads ----------------------------------------------------------------------------------------------

def sees_whole_bank(principal: Principal) -> bool:
    return principal.org.parent_id is None and not principal.role.assigned_customers_only


def events_statement(principal: Principal, *, customer_id: int | None = None, name: str | None = None,
                     type_: str | None = None, source_id: int | None = None, since: datetime | None = None,
                     until: datetime | None = None) -> Select:
    """Events the principal may read, filtered; ordering is the caller's."""
    stmt = select(Event)
    if customer_id is not None:
        stmt = stmt.where(Event.customer_id == customer_id)
    elif not sees_whole_bank(principal):
        readable = customer_service.readable_customers(principal).with_only_columns(Customer.id)
        stmt = stmt.where(Event.customer_id.in_(readable))
    if name:
        stmt = stmt.where(Event.name == name)
    if type_:
        stmt = stmt.where(Event.type == type_)
    if source_id is not None:
        stmt = stmt.where(Event.source_id == source_id)
    if since is not None:
        stmt = stmt.where(Event.ts >= since, Event.day >= since.date() - timedelta(days=1))
    if until is not None:
        stmt = stmt.where(Event.ts < until, Event.day <= until.date() + timedelta(days=1))
    return stmt


def event_reads(session: Session, principal: Principal, events: list[Event]) -> list[EventRead]:
    customer_ids = {e.customer_id for e in events if e.customer_id is not None}
    customers = {cid: (no, name) for cid, no, name in session.execute(
        select(Customer.id, Customer.customer_no, Customer.name).where(Customer.id.in_(customer_ids)))} if customer_ids else {}
    sources = dict(session.execute(select(EventSource.id, EventSource.name)).all())
    unmask = principal.can(Permission.customers_pii)
    items = []
    for e in events:
        number, name = customers.get(e.customer_id, (None, None))
        items.append(EventRead(
            id=e.id, message_id=e.message_id, type=e.type, name=e.name, source_id=e.source_id,
            source_name=sources.get(e.source_id), anonymous_id=e.anonymous_id, user_id=e.user_id,
            customer_no=number, customer_name=name if unmask else mask_name(name), ts=e.ts,
            original_timestamp=e.original_timestamp, sent_at=e.sent_at, received_at=e.received_at,
            properties=e.properties, context=e.context,
        ))
    return items


def customer_id_filter(*, session: Session, principal: Principal, customer_no: str | None) -> int | None:
    if not customer_no:
        return None
    return customer_service.get_readable(session=session, principal=principal, customer_no=customer_no).id


def list_events(session: Session, principal: Principal, *, before_id: int | None, limit: int,
                **filters) -> tuple[list[EventRead], int | None]:
    """Newest first (by arrival), one page of ``limit`` rows before ``before_id``."""
    stmt = events_statement(principal, **filters)
    if before_id is not None:
        stmt = stmt.where(Event.id < before_id)
    rows = list(session.scalars(stmt.order_by(Event.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return event_reads(session, principal, rows), (rows[-1].id if more and rows else None)


def stream_events(session: Session, principal: Principal, *, after_id: int | None, limit: int,
                  **filters) -> tuple[list[EventRead], int | None]:
    """Events after ``after_id`` (the live stream), newest first; without it the latest ``limit``."""
    stmt = events_statement(principal, **filters)
    if after_id is not None:
        stmt = stmt.where(Event.id > after_id)
    rows = list(session.scalars(stmt.order_by(Event.id.desc()).limit(limit)))
    last = rows[0].id if rows else after_id
    if last is None:
        last = session.scalar(select(func.max(Event.id)))
    return event_reads(session, principal, rows), last


def tail(session: Session, *, after_id: int, limit: int = 1000, settle_seconds: float = 5.0,
         now: datetime | None = None) -> list[Event]:
    """Events with ``id > after_id`` for a consumer in another process, oldest first.

    Ids are drawn when a request inserts, and concurrent requests may commit out of id order, so only
    rows received at least ``settle_seconds`` ago are returned: a consumer that advances its watermark to
    the last id returned never skips a row that commits later.
    """
    cutoff = (now or utcnow()) - timedelta(seconds=settle_seconds)
    return list(session.scalars(select(Event).where(Event.id > after_id, Event.received_at <= cutoff)
                                .order_by(Event.id).limit(limit)))


def customer_timeline(session: Session, principal: Principal, *, customer_no: str, **filters) -> Select:
    customer = customer_service.get_readable(session=session, principal=principal, customer_no=customer_no)
    return events_statement(principal, customer_id=customer.id, **filters).order_by(Event.ts.desc(), Event.id.desc())


_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (dict, "object"),
               (list, "array"))


def _json_type(value) -> str:
    if value is None:
        return "null"
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return "unknown"


def event_schema(session: Session, *, since: datetime, until: datetime, sample: int = 200,
                 limit: int = 200) -> list[EventSchemaEntry]:
    """Event names seen in the window with volumes, and their property names and types (from the most
    recent ``sample`` events of each name). Aggregates only: no customer data, so not scoped."""
    window = (Event.ts >= since, Event.ts < until, Event.day >= since.date() - timedelta(days=1),
              Event.day <= until.date() + timedelta(days=1))
    groups = session.execute(
        select(Event.type, Event.name, func.count(), func.count(func.distinct(Event.customer_id)),
               func.min(Event.ts), func.max(Event.ts))
        .where(*window).group_by(Event.type, Event.name).order_by(func.count().desc()).limit(limit)
    ).all()
    entries = []
    for type_, name, count, customers, first, last in groups:
        name_match = Event.name.is_(None) if name is None else Event.name == name
        props = session.scalars(select(Event.properties).where(*window, Event.type == type_, name_match)
                                .order_by(Event.id.desc()).limit(sample)).all()
        seen: Counter = Counter()
        types: dict[str, set[str]] = {}
        for p in props:
            for key, value in (p or {}).items():
                seen[key] += 1
                types.setdefault(key, set()).add(_json_type(value))
        entries.append(EventSchemaEntry(
            type=type_, name=name, count=count, customers=customers, first_seen=first, last_seen=last,
            sample_size=len(props),
            properties=[PropertySeen(name=k, types=sorted(types[k]), seen=n) for k, n in seen.most_common()],
        ))
    return entries


def customer_identities(session: Session, principal: Principal, *, customer_no: str) -> CustomerIdentities:
    customer = customer_service.get_readable(session=session, principal=principal, customer_no=customer_no)
    identities = session.scalars(select(Identity).where(Identity.customer_id == customer.id)
                                 .order_by(Identity.linked_at.desc(), Identity.id)).all()
    merges = session.scalars(select(IdentityMerge).where(IdentityMerge.customer_id == customer.id)
                             .order_by(IdentityMerge.at.desc(), IdentityMerge.id.desc()).limit(200)).all()
    previous_ids = {m.previous_customer_id for m in merges if m.previous_customer_id}
    previous = dict(session.execute(select(Customer.id, Customer.customer_no)
                                    .where(Customer.id.in_(previous_ids))).all()) if previous_ids else {}
    sources = dict(session.execute(select(EventSource.id, EventSource.name)).all())
    user_ids = session.scalars(select(Event.user_id).where(Event.customer_id == customer.id,
                                                           Event.user_id.is_not(None)).distinct().limit(20)).all()
    return CustomerIdentities(
        customer_no=customer.customer_no, user_ids=sorted(user_ids),
        identities=[IdentityRead(value=i.value, kind=i.kind, user_id=i.user_id, source_id=i.source_id,
                                 first_seen_at=i.first_seen_at, linked_at=i.linked_at) for i in identities],
        merges=[IdentityMergeRead(identity=m.identity, kind=m.kind, via=m.via,
                                  previous_customer_no=previous.get(m.previous_customer_id), source_id=m.source_id,
                                  source_name=sources.get(m.source_id), message_id=m.message_id,
                                  events_attached=m.events_attached, at=m.at) for m in merges],
    )

