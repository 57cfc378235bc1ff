"""Parquet export of the event store (事件导出) for the tag engine and analysts.

Layout: ``{home}/store/events/date=YYYY-MM-DD/part-<n>.parquet`` (UTC days; a Hive partition DuckDB and
Spark read directly) with columns ``event_id`` (the message id), ``cid`` (customer id, null while
unidentified), ``customer_no``, ``type``, ``name``, ``ts`` (timestamp[us, UTC]) and ``properties`` (JSON text).

Incremental by an id watermark kept in ``_export_state.json``: each run finds the days that received
events since the watermark (late events included) or whose events were stitched to a customer since,
and rewrites those days' files whole. Each file is written beside its final name and renamed over it,
so a reader sees the old day or the new day, never half of one. Only rows received at least
``settle_seconds`` ago count, so a request still committing (ids are drawn before commit) is never skipped.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, bindparam, text

from omniloop.core.db import utcnow
from omniloop.events import store

SCHEMA = pa.schema([
    ("event_id", pa.string()),
    ("cid", pa.int64()),
    ("customer_no", pa.string()),
    ("type", pa.string()),
    ("name", pa.string()),
    ("ts", pa.timestamp("us", tz="UTC")),
    ("properties", pa.string()),
])
STATE_FILE = "_export_state.json"
ROWS_PER_PART = 1_000_000
DAYS_PER_QUERY = 31


def events_dir(home: Path) -> Path:
    return Path(home) / "store" / "events"


def day_dir(home: Path, day: date) -> Path:
    return events_dir(home) / f"date={day.isoformat()}"


def read_state(home: Path) -> dict:
    path = events_dir(home) / STATE_FILE
    if not path.exists():
        return {"watermark": 0}
    return json.loads(path.read_text(encoding="utf-8"))


def _write_state(home: Path, state: dict) -> None:
    path = events_dir(home) / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _rows_sql(postgres: bool) -> str:
    properties = "e.properties::text" if postgres else "e.properties"
    return (f"SELECT e.day, e.message_id, e.customer_id, c.customer_no, e.type, e.name, e.ts, {properties} "
            "FROM events e LEFT JOIN customers c ON c.id = e.customer_id "
            "WHERE e.day >= :low AND e.day <= :high AND e.id <= :top ORDER BY e.day, e.id")


def _ts_array(values: list) -> pa.Array:
    """SQLite hands back naive UTC text, PostgreSQL aware datetimes."""
    if values and isinstance(values[0], str):
        return pa.array(values, pa.string()).cast(pa.timestamp("us")).cast(SCHEMA.field("ts").type)
    return pa.array(values, SCHEMA.field("ts").type)


def _write_day(home: Path, day: date, rows: list[tuple]) -> int:
    """Rewrite one day's files atomically (file by file, each renamed over the old one).

    ``rows`` are query rows: (day, message_id, cid, customer_no, type, name, ts, properties).
    """
    target = day_dir(home, day)
    target.mkdir(parents=True, exist_ok=True)
    parts = 0
    for start in range(0, max(len(rows), 1), ROWS_PER_PART):
        chunk = rows[start:start + ROWS_PER_PART]
        columns = list(zip(*chunk, strict=True))[1:] if chunk else [[] for _ in range(7)]
        arrays = [pa.array(list(col), type=field.type) if field.name != "ts" else _ts_array(list(col))
                  for col, field in zip(columns, SCHEMA, strict=True)]
        table = pa.Table.from_arrays(arrays, schema=SCHEMA)
        final = target / f"part-{parts}.parquet"
        tmp = target / f".part-{parts}.parquet.tmp"
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, final)
        parts += 1
    for stale in target.glob("part-*.parquet"):
        try:
            number = int(stale.stem.split("-", 1)[1])
        except ValueError:
            continue
        if number >= parts:
            stale.unlink(missing_ok=True)
    return parts


def export_events(engine: Engine, *, home: Path, settle_seconds: float = 60.0, now: datetime | None = None,
                  full: bool = False, progress: Callable[[float, str], None] | None = None) -> dict:
    """Export what changed since the last run (or everything with ``full``); returns counts."""
    now = now or utcnow()
    started = utcnow()
    state = {"watermark": 0} if full else read_state(home)
    watermark = int(state.get("watermark", 0))
    postgres = engine.dialect.name == "postgresql"
    cutoff = now - timedelta(seconds=settle_seconds)
    with engine.connect() as conn:
        cutoff_param = cutoff if postgres else store.sqlite_time(cutoff)
        top = conn.execute(text("SELECT max(id) FROM events WHERE id > :w AND received_at <= :cut"),
                           {"w": watermark, "cut": cutoff_param}).scalar()
        days: set[date] = set()
        if top is not None:
            days |= {_as_date(d) for d in conn.execute(
                text("SELECT DISTINCT day FROM events WHERE id > :w AND id <= :top"), {"w": watermark, "top": top}
            ).scalars()}
        dirty = {_as_date(d) for d in conn.execute(text("SELECT day FROM event_dirty_days")).scalars()}
        days |= dirty
        top = top if top is not None else watermark
        ordered = sorted(days)
        rows_written = 0
        for i in range(0, len(ordered), DAYS_PER_QUERY):
            group = ordered[i:i + DAYS_PER_QUERY]
            wanted = set(group)
            low, high = group[0], group[-1]
            params = {"low": low if postgres else low.isoformat(), "high": high if postgres else high.isoformat(),
                      "top": top}
            rows = conn.execute(text(_rows_sql(postgres)), params).all()
            for raw_day, day_rows in itertools.groupby(rows, key=lambda r: r[0]):
                day = _as_date(raw_day)
                if day in wanted:
                    day_rows = list(day_rows)
                    _write_day(home, day, day_rows)
                    rows_written += len(day_rows)
                    wanted.discard(day)
            for empty in wanted:  # every event of that day is gone (retention): no file
                shutil.rmtree(day_dir(home, empty), ignore_errors=True)
            if progress:
                progress(min(1.0, (i + len(group)) / len(ordered)), f"{i + len(group)}/{len(ordered)} days")
        conn.rollback()
    if dirty:
        with engine.begin() as conn:
            # Only marks made before this run started: a day stitched again meanwhile stays marked.
            conn.execute(text("DELETE FROM event_dirty_days WHERE day IN :days AND marked_at <= :started")
                         .bindparams(bindparam("days", expanding=True)),
                         {"days": [d if postgres else d.isoformat() for d in dirty],
                          "started": started if postgres else store.sqlite_time(started)})
    events_dir(home).mkdir(parents=True, exist_ok=True)
    _write_state(home, {"watermark": int(top), "exported_at": now.isoformat()})
    return {"days": len(ordered), "rows": rows_written, "watermark": int(top)}


def delete_days_before(home: Path, cutoff: date) -> int:
    """Remove exported days before ``cutoff`` (retention)."""
    removed = 0
    root = events_dir(home)
    if not root.exists():
        return 0
    for path in root.glob("date=*"):
        try:
            day = date.fromisoformat(path.name.split("=", 1)[1])
        except ValueError:
            continue
        if day < cutoff:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed
