"""The event store (事件存储): fast writes straight to the driver, day partitions, retention deletes.

Writes skip SQLAlchemy's per-row parameter processing: COPY on PostgreSQL, one multi-row statement or
``executemany`` on SQLite. Values are therefore formatted here exactly as the models' column types would
format them (SQLite keeps UTC datetimes as ``YYYY-MM-DD HH:MM:SS.ffffff`` text and JSON as text).

PostgreSQL partitions: ``events_pYYYYMMDD`` for one UTC day each, and ``events_default`` for days that
have none yet. ``ensure_partitions`` creates missing day partitions; rows that already sit in the default
partition for such a day are moved into the new partition in the same transaction.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, Engine, text

COLUMNS = ("id", "day", "source_id", "message_id", "type", "name", "anonymous_id", "user_id", "customer_id", "ts",
           "sent_at", "received_at", "original_timestamp", "properties", "context")
PARTITION_PREFIX = "events_p"
DEFAULT_PARTITION = "events_default"

log = logging.getLogger("omniloop.events")
_known: dict[str, set[date]] = {}
_known_lock = threading.Lock()


def is_postgres(conn: Connection | Engine) -> bool:
    return conn.dialect.name == "postgresql"


# One encoder: json.dumps with non-default options builds a new JSONEncoder on every call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dumps(value: dict | None) -> str | None:
    return None if value is None else _encode(value)


def sqlite_time(value: datetime | None) -> str | None:
    """A UTC datetime as SQLAlchemy's SQLite DateTime stores it (naive UTC text with microseconds)."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


# ---- message ids (dedupe) -------------------------------------------------------------------------------

def claim_message_ids(conn: Connection, *, source_id: int, keys: Sequence[tuple[str, date]]) -> list[tuple[str, int]]:
    """Record ``(message_id, day)`` for the source; returns ``(message_id, event_id)`` of the ones not
    seen before, with a fresh event id for each (ids in ``keys`` order).

    PostgreSQL: one INSERT … ON CONFLICT DO NOTHING RETURNING with the id drawn from the events sequence;
    a concurrent request holding the same message id makes this one wait for it and then skip it (keys
    are inserted in sorted order, so two overlapping batches cannot deadlock).
    SQLite: the insert takes the database's write lock, so the ids that follow the current maximum are ours.
    """
    if not keys:
        return []
    if is_postgres(conn):
        rows = conn.exec_driver_sql(
            "INSERT INTO event_message_ids (source_id, message_id, day) "
            "SELECT %(source)s, m, d FROM unnest(%(ids)s::text[], %(days)s::date[]) AS t(m, d) "
            "ORDER BY m ON CONFLICT DO NOTHING RETURNING message_id, nextval('events_id_seq')",
            {"source": source_id, "ids": [k for k, _ in keys], "days": [d for _, d in keys]},
        ).all()
        fresh = {m: i for m, i in rows}
        ordered_ids = sorted(fresh.values())
        new = [m for m, _ in keys if m in fresh]
        return list(zip(new, ordered_ids, strict=True))
    placeholders = ",".join(["(?, ?, ?)"] * len(keys))
    params: list = []
    for message_id, day in keys:
        params += [source_id, message_id, day.isoformat()]
    rows = conn.exec_driver_sql(
        f"INSERT INTO event_message_ids (source_id, message_id, day) VALUES {placeholders} "
        "ON CONFLICT DO NOTHING RETURNING message_id", tuple(params),
    ).all()
    fresh_ids = {r[0] for r in rows}
    if not fresh_ids:
        return []
    start = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM events").scalar() + 1
    new = [m for m, _ in keys if m in fresh_ids]
    return [(m, start + i) for i, m in enumerate(new)]


# ---- events ---------------------------------------------------------------------------------------------

def insert_rows(conn: Connection, rows: Sequence[tuple]) -> None:
    """Append rows (values in ``COLUMNS`` order; times aware UTC, JSON already as text)."""
    if not rows:
        return
    if is_postgres(conn):
        cursor = conn.connection.driver_connection.cursor()
        with cursor, cursor.copy(f"COPY events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    times: dict = {None: None}  # a batch shares sentAt and receivedAt: format each time once

    def fmt(value):
        text = times.get(value)
        if text is None and value is not None:
            text = times[value] = sqlite_time(value)
        return text

    converted = [
        (r[0], r[1].isoformat(), r[2], r[3], r[4], r[5], r[6], r[7], r[8], fmt(r[9]), fmt(r[10]), fmt(r[11]),
         fmt(r[12]), r[13], r[14])
        for r in rows
    ]
    conn.exec_driver_sql(
        f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", converted
    )


# ---- partitions (PostgreSQL) ----------------------------------------------------------------------------

def partition_name(day: date) -> str:
    return f"{PARTITION_PREFIX}{day:%Y%m%d}"


def existing_partitions(conn: Connection) -> set[date]:
    names = conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'"
    )).scalars().all()
    days = set()
    for name in names:
        if name.startswith(PARTITION_PREFIX):
            try:
                days.add(datetime.strptime(name[len(PARTITION_PREFIX):], "%Y%m%d").date())
            except ValueError:
                continue
    return days


def _create_partition(conn: Connection, day: date) -> int:
    """Create the partition of ``day``; rows of that day in the default partition move into it."""
    name, low, high = partition_name(day), day.isoformat(), (day + timedelta(days=1)).isoformat()
    waiting = conn.execute(text(f"SELECT 1 FROM {DEFAULT_PARTITION} WHERE day = :d LIMIT 1"), {"d": day}).first()
    if waiting is None:
        conn.execute(text(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF events "
                          f"FOR VALUES FROM ('{low}') TO ('{high}')"))
        return 0
    conn.execute(text(f"CREATE TABLE {name} (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    moved = conn.execute(text(
        f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE day = :d RETURNING *) "
        f"INSERT INTO {name} SELECT * FROM moved"), {"d": day}).rowcount
    conn.execute(text(f"ALTER TABLE events ATTACH PARTITION {name} FOR VALUES FROM ('{low}') TO ('{high}')"))
    return moved


def ensure_partitions(engine: Engine, days: Iterable[date]) -> dict:
    """Make sure each day has its own partition (PostgreSQL; a no-op elsewhere). Each day is its own
    transaction, so one failure (a concurrent writer into the default partition) leaves the others done."""
    wanted = set(days)
    if engine.dialect.name != "postgresql" or not wanted:
        return {"created": 0, "moved_rows": 0}
    key = str(engine.url)
    with _known_lock:
        missing = wanted - _known.get(key, set())
    if not missing:
        return {"created": 0, "moved_rows": 0}
    with engine.connect() as conn:
        present = existing_partitions(conn)
        conn.rollback()
    created = moved = 0
    failed: list[str] = []
    for day in sorted(missing - present):
        try:
            with engine.begin() as conn:
                # Creating a partition locks the parent; waiting long would queue every reader behind us.
                conn.execute(text("SET LOCAL lock_timeout = '2s'"))
                moved += _create_partition(conn, day)
                created += 1
            present.add(day)
        except Exception as exc:  # the rows stay in the default partition; the job retries
            failed.append(f"{day}: {type(exc).__name__}")
            log.warning("event partition not created", extra={"day": day.isoformat(), "error": str(exc)[:300]})
    with _known_lock:
        _known.setdefault(key, set()).update(present)
    return {"created": created, "moved_rows": moved, "failed": failed}


def forget_partitions(engine: Engine) -> None:
    """Drop the in-process cache of known partitions (after partitions were dropped)."""
    with _known_lock:
        _known.pop(str(engine.url), None)


def default_partition_days(conn: Connection) -> list[date]:
    return list(conn.execute(text(f"SELECT DISTINCT day FROM {DEFAULT_PARTITION} ORDER BY day")).scalars())


# ---- retention -----------------------------------------------------------------------------------------

def delete_before(engine: Engine, cutoff: date) -> dict:
    """Remove events (and their dedupe keys) of days before ``cutoff``: whole partitions on PostgreSQL."""
    dropped = deleted = 0
    with engine.begin() as conn:
        if is_postgres(conn):
            for day in sorted(existing_partitions(conn)):
                if day < cutoff:
                    conn.execute(text(f"DROP TABLE IF EXISTS {partition_name(day)}"))
                    dropped += 1
            deleted = conn.execute(text(f"DELETE FROM {DEFAULT_PARTITION} WHERE day < :c"), {"c": cutoff}).rowcount
        else:
            deleted = conn.execute(text("DELETE FROM events WHERE day < :c"), {"c": cutoff.isoformat()}).rowcount
        keys = conn.execute(text("DELETE FROM event_message_ids WHERE day < :c"),
                            {"c": cutoff if is_postgres(conn) else cutoff.isoformat()}).rowcount
        conn.execute(text("DELETE FROM event_dirty_days WHERE day < :c"),
                     {"c": cutoff if is_postgres(conn) else cutoff.isoformat()})
    if dropped:
        forget_partitions(engine)
    return {"partitions_dropped": dropped, "rows_deleted": deleted, "message_ids_deleted": keys}
