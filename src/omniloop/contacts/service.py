"""The bulk path of contact control: evaluate proposals against the stored state, record decisions and the outbox.

``evaluate`` loads, for a chunk of customers, everything the pure engine (``contacts.policy``) needs in a few
set-based queries — the customers' reachability, consents, list memberships and contact history (sent and
pending outbox rows of the longest rule window) — then calls ``policy.decide`` once per customer.
Unless ``dry_run``, it first takes the contact lock (PostgreSQL ``pg_advisory_xact_lock``, SQLite the
database write lock) so that two campaigns' chunks never both read the same history and both pass a cap;
the caller commits right after ``record``, which releases it.

``record`` writes ``contact_decisions`` and one ``outbox_messages`` row per allowed / deferred contact with
``INSERT … ON CONFLICT DO NOTHING`` on their unique keys, in the caller's transaction: a re-run of the
same occasion writes nothing twice.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from omniloop.contacts.models import CHANNELS, ContactRule
from omniloop.contacts.policy import CustomerContactState, Decision, PastContact, Policy, Proposal, decide

LOCK_KEY = 0x6F6D6E69_636F6E74  # "omnicont": the one advisory lock of contact evaluation
COUNTING_STATUSES = ("pending", "sending", "sent", "delivered")
QUERY_CHUNK = 10_000  # customer ids per load query


def load_policy(session: Session) -> Policy:
    return Policy.from_rules(session.scalars(select(ContactRule).where(ContactRule.enabled.is_(True))))


def lock(session: Session) -> None:
    """Serialise contact evaluation until the transaction ends (see the module docstring)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    else:
        # A write statement makes pysqlite open the transaction and SQLite take the write lock
        # (waiting up to busy_timeout for another writer); it changes no row.
        session.execute(text("UPDATE contact_rules SET id = id WHERE id < 0"))


def _chunks(ids: Sequence[int]):
    for start in range(0, len(ids), QUERY_CHUNK):
        yield ids[start:start + QUERY_CHUNK]


class _Raw:
    """Driver-level queries for the hot loads: one bound parameter carries a chunk's ids (SQLite
    ``json_each``, PostgreSQL ``= ANY(array)``) instead of thousands of compiled IN parameters, and times
    are compared in the stored form."""

    def __init__(self, session: Session) -> None:
        self.pg = session.get_bind().dialect.name == "postgresql"
        self.dbapi = session.connection().connection.driver_connection

    def ids(self, column: str) -> str:
        return f"{column} = ANY(%(ids)s)" if self.pg else f"{column} IN (SELECT value FROM json_each(:ids))"

    def param(self, name: str) -> str:
        return f"%({name})s" if self.pg else f":{name}"

    def value(self, ids: Sequence[int]):
        return list(ids) if self.pg else json.dumps(list(ids))

    def time(self, value: datetime):
        return value if self.pg else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def epoch(self, column: str) -> str:
        return f"extract(epoch from {column})" if self.pg else f"(julianday({column}) - 2440587.5) * 86400.0"

    def rows(self, sql: str, params: dict) -> list[tuple]:
        cur = self.dbapi.cursor()
        try:
            cur.execute(sql, params)
            return cur.fetchall()
        finally:
            cur.close()


def load_states(session: Session, *, customer_ids: Sequence[int], campaign_ids: Sequence[int],
                now: datetime) -> dict[int, CustomerContactState]:
    """The contact state of each customer. Customers without consent rows or list entries share one of four
    read-only default states (by phone / app user), so a clean customer costs a dict entry."""
    raw = _Raw(session)
    defaults = {(phone, app): CustomerContactState(0, has_phone=phone, app_user=app)
                for phone in (False, True) for app in (False, True)}
    states: dict[int, CustomerContactState] = {}

    def own(cid: int) -> CustomerContactState | None:
        state = states.get(cid)
        if state is None or state.customer_id == cid:
            return state
        state = CustomerContactState(cid, has_phone=state.has_phone, app_user=state.app_user)
        states[cid] = state
        return state

    campaign_scope = "l.campaign_id IS NULL"
    if campaign_ids:
        campaign_scope += " OR l.campaign_id IN (" + ", ".join(str(int(c)) for c in campaign_ids) + ")"
    for part in _chunks(customer_ids):
        params = {"ids": raw.value(part), "now": raw.time(now)}
        for cid, has_phone, logins in raw.rows(
                f"SELECT id, phone IS NOT NULL, app_logins_month FROM customers WHERE {raw.ids('id')}", params):
            states[cid] = defaults[(bool(has_phone), (logins or 0) > 0)]
        for cid, channel, status in raw.rows(
                f"SELECT customer_id, channel, status FROM customer_consents WHERE {raw.ids('customer_id')} "
                "ORDER BY recorded_at, id", params):
            state = own(cid)
            if state is None:
                continue
            if channel == "all":
                for c in CHANNELS:
                    state.consents[c] = status
            else:
                state.consents[channel] = status
        by_customer: dict[int, list] = defaultdict(list)
        for cid, kind, channel, campaign_id in raw.rows(
                "SELECT e.customer_id, l.kind, l.channel, l.campaign_id FROM suppression_entries e "
                "JOIN suppression_lists l ON l.id = e.list_id "
                f"WHERE {raw.ids('e.customer_id')} AND (e.expires_at IS NULL OR e.expires_at > {raw.param('now')}) "
                f"AND ({campaign_scope})", params):
            by_customer[cid].append((kind, channel, campaign_id))
        for cid, entries in by_customer.items():
            state = own(cid)
            if state is None:
                continue
            channels, campaigns = set(), set()
            for kind, channel, campaign_id in entries:
                if campaign_id is not None:
                    campaigns.add(campaign_id)
                elif channel is not None:
                    channels.add(channel)
                elif kind == "dnd":
                    state.dnd = True
                else:
                    state.suppressed_all = True
            state.suppressed_channels = frozenset(channels)
            state.suppressed_campaigns = frozenset(campaigns)
    return states


def load_history(session: Session, *, customer_ids: Sequence[int], now: datetime,
                 window_hours: int) -> dict[int, list[PastContact]]:
    """Outbox rows that count as contacts (pending, sending, sent, delivered) within ``window_hours`` either
    side of ``now`` plus a day of possible deferral, per customer."""
    raw = _Raw(session)
    history: dict[int, list[PastContact]] = defaultdict(list)
    span = timedelta(hours=max(window_hours, 1))
    when = "coalesce(o.sent_at, o.not_before)"
    statuses = ", ".join(f"'{s}'" for s in COUNTING_STATUSES)
    sql = (f"SELECT o.customer_id, o.channel, {raw.epoch(when)}, o.campaign_id, c.campaign_type, o.occasion "
           "FROM outbox_messages o JOIN campaigns c ON c.id = o.campaign_id "
           f"WHERE {raw.ids('o.customer_id')} AND o.created_at > {raw.param('created')} "
           f"AND {when} > {raw.param('lo')} AND {when} < {raw.param('hi')} AND o.status IN ({statuses})")
    times = {"created": raw.time(now - span - timedelta(days=7)), "lo": raw.time(now - span),
             "hi": raw.time(now + span + timedelta(days=1))}
    for part in _chunks(customer_ids):
        for cid, channel, ts, campaign_id, ctype, occasion in raw.rows(sql, {"ids": raw.value(part), **times}):
            history[cid].append(PastContact(channel, float(ts), campaign_id, ctype, occasion))
    return history


def evaluate(session: Session, *, proposals: Sequence[Proposal], now: datetime, dry_run: bool = False,
             policy: Policy | None = None) -> list[Decision]:
    """Decide every proposal (one decision each, in input order). Not dry-run: holds the contact lock."""
    if not proposals:
        return []
    if not dry_run:
        lock(session)
    policy = policy or load_policy(session)
    by_customer: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(proposals):
        by_customer[p.customer_id].append(i)
    customer_ids = list(by_customer)
    campaign_ids = sorted({p.campaign_id for p in proposals})
    states = load_states(session, customer_ids=customer_ids, campaign_ids=campaign_ids, now=now)
    history = load_history(session, customer_ids=customer_ids, now=now, window_hours=policy.max_window_hours)
    results: list[Decision | None] = [None] * len(proposals)
    empty: list[PastContact] = []
    for cid, indexes in by_customer.items():
        state = states.get(cid)
        if state is None:  # the customer was deleted meanwhile
            for i in indexes:
                p = proposals[i]
                results[i] = Decision(cid, None, "skipped", "unreachable", None, {"missing_customer": True},
                                      p.campaign_id, p.occasion, p.at or now)
            continue
        past = history.get(cid, empty)
        if len(indexes) == 1:
            results[indexes[0]] = decide(state, (proposals[indexes[0]],), past, policy, now=now)[0]
        else:
            for i, d in zip(indexes, decide(state, [proposals[i] for i in indexes], past, policy, now=now),
                            strict=True):
                results[i] = d
    return results  # type: ignore[return-value]


DECISION_COLUMNS = ("campaign_id", "wave_id", "occasion", "customer_id", "channel", "outcome", "reason", "detail",
                    "defer_until", "decided_at")
OUTBOX_COLUMNS = ("campaign_id", "wave_id", "occasion", "customer_id", "channel", "template_version_id",
                  "benefit_grant_id", "fallback", "status", "not_before", "attempts", "created_at", "updated_at")
_PG_TYPES = {"campaign_id": "bigint", "wave_id": "bigint", "occasion": "text", "customer_id": "bigint",
             "channel": "text", "outcome": "text", "reason": "text", "detail": "jsonb", "defer_until": "timestamptz",
             "decided_at": "timestamptz", "template_version_id": "bigint", "benefit_grant_id": "bigint",
             "fallback": "jsonb", "status": "text", "not_before": "timestamptz", "attempts": "integer",
             "created_at": "timestamptz", "updated_at": "timestamptz"}


def _bulk_insert(session: Session, table: str, columns: Sequence[str], rows: list[tuple]) -> int:
    """INSERT … ON CONFLICT DO NOTHING of many rows through the driver, in the session's transaction.

    SQLite: ``executemany`` (datetimes as SQLAlchemy's SQLite text format, JSON as text); PostgreSQL: one
    ``INSERT … SELECT FROM unnest(arrays)`` a call. Rows are tuples in ``columns`` order with JSON already
    encoded and datetimes aware. Returns the rows written (not counting conflicts)."""
    if not rows:
        return 0
    dbapi = session.connection().connection.driver_connection
    names = ", ".join(columns)
    if session.get_bind().dialect.name == "postgresql":
        arrays = ", ".join(f"%s::{'text' if _PG_TYPES[c] == 'jsonb' else _PG_TYPES[c]}[]" for c in columns)
        select_list = ", ".join(f"{c}::jsonb" if _PG_TYPES[c] == "jsonb" else c for c in columns)
        sql = (f"INSERT INTO {table} ({names}) SELECT {select_list} FROM unnest({arrays}) AS u({names}) "
               "ON CONFLICT DO NOTHING")
        with dbapi.cursor() as cur:
            cur.execute(sql, [list(col) for col in zip(*rows, strict=True)])
            return max(cur.rowcount, 0)
    sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))}) ON CONFLICT DO NOTHING"
    cur = dbapi.cursor()
    try:
        before = dbapi.total_changes
        cur.executemany(sql, rows)
        return dbapi.total_changes - before
    finally:
        cur.close()


class _Encoder:
    """Per-dialect encoding of values for ``_bulk_insert``, memoised: a wave repeats the same few times and
    fallback lists."""

    def __init__(self, session: Session) -> None:
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        self._times: dict[datetime, object] = {}
        self._json: dict[object, str | None] = {}

    def time(self, value: datetime | None):
        if value is None:
            return None
        if not self.sqlite:
            return value
        found = self._times.get(value)
        if found is None:
            found = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            self._times[value] = found
        return found

    def json(self, value) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, default=str)

    def fallback(self, channels: tuple[str, ...], template_versions: dict[str, int]) -> str | None:
        if not channels:
            return None
        found = self._json.get(channels)
        if found is None:
            found = json.dumps([{"channel": c, "template_version_id": template_versions.get(c)} for c in channels])
            self._json[channels] = found
        return found


def record(session: Session, *, campaign_id: int, wave_id: int | None, occasion: str,
           decisions: Sequence[Decision], template_versions: dict[str, int] | None = None,
           grants: dict[int, int] | None = None, now: datetime | None = None) -> dict[str, int]:
    """Write the decisions and the outbox rows of the allowed / deferred ones; returns counts by outcome
    plus ``decisions_written`` and ``outbox_written`` (0 for rows that already existed)."""
    template_versions = template_versions or {}
    grants = grants or {}
    now = now or datetime.now(UTC)
    enc = _Encoder(session)
    stamp = enc.time(now)
    counts = {"allowed": 0, "deferred": 0, "skipped": 0}
    decision_rows, outbox_rows = [], []
    for d in decisions:
        counts[d.outcome] += 1
        detail = d.detail
        if detail is not None and detail.get("already_recorded"):
            continue
        occ = d.occasion or occasion
        decision_rows.append((campaign_id, wave_id, occ, d.customer_id, d.channel, d.outcome, d.reason,
                              None if detail is None else enc.json(detail), enc.time(d.defer_until), stamp))
        if d.outcome != "skipped":
            outbox_rows.append((campaign_id, wave_id, occ, d.customer_id, d.channel,
                                template_versions.get(d.channel), grants.get(d.customer_id),
                                enc.fallback(d.fallback, template_versions), "pending",
                                enc.time(d.defer_until or d.at or now), 0, stamp, stamp))
    written = _bulk_insert(session, "outbox_messages", OUTBOX_COLUMNS, outbox_rows)
    if written:
        _ensure_dispatcher(session)
    return {**counts,
            "decisions_written": _bulk_insert(session, "contact_decisions", DECISION_COLUMNS, decision_rows),
            "outbox_written": written}


_DISPATCHER_DECLARED: set[str] = set()


def _ensure_dispatcher(session: Session) -> None:
    """Make sure the outbox dispatcher's schedule exists once outbox rows do (once per process and database)."""
    key = str(session.get_bind().url)
    if key in _DISPATCHER_DECLARED:
        return
    from omniloop.contacts.tasks import declare_schedules

    declare_schedules(session)
    _DISPATCHER_DECLARED.add(key)
