"""The store behind the API: Parquet export (incremental, late events, stitched days), retention, and
PostgreSQL day partitions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select, text

from omniloop.core.db import utcnow
from omniloop.events import export, store
from omniloop.events.models import Event, EventDirtyDay, EventMessageId
from omniloop.jobs.registry import JobContext
from tests.events.test_ingest import post


def _read_day(home, day: date):
    files = sorted(export.day_dir(home, day).glob("part-*.parquet"))
    assert files, f"no files for {day}"
    return pq.read_table(files).sort_by([("ts", "ascending"), ("event_id", "ascending")])


def test_parquet_export_contents_and_late_events(client, db, world, engine, tmp_path):
    a1 = world["customers"]["a1"]
    day1, day2 = date(2026, 5, 1), date(2026, 5, 2)
    post(client, "/v1/batch", {"batch": [
        {"type": "track", "userId": a1.customer_no, "event": "转账", "messageId": "e1",
         "timestamp": "2026-05-01T10:00:00Z", "properties": {"amount_fen": 5000, "to": "他行"}},
        {"type": "page", "anonymousId": "anon-p", "name": "基金", "messageId": "e2", "timestamp": "2026-05-01T11:00:00Z"},
        {"type": "track", "userId": a1.customer_no, "event": "登录", "messageId": "e3",
         "timestamp": "2026-05-02T09:00:00Z"},
    ]})
    home = tmp_path / "home"
    first = export.export_events(engine, home=home, settle_seconds=0)
    assert first["days"] == 2 and first["rows"] == 3
    table = _read_day(home, day1)
    assert table.schema.field("ts").type.tz == "UTC" and str(table.schema.field("cid").type) == "int64"
    rows = table.to_pylist()
    assert [r["event_id"] for r in rows] == ["e1", "e2"]
    assert rows[0]["cid"] == a1.id and rows[0]["customer_no"] == a1.customer_no and rows[0]["type"] == "track"
    assert json.loads(rows[0]["properties"]) == {"amount_fen": 5000, "to": "他行"}
    assert rows[0]["ts"] == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert rows[1]["cid"] is None and rows[1]["name"] == "基金"

    # Nothing new: nothing rewritten.
    day2_file = export.day_dir(home, day2) / "part-0.parquet"
    stamp = day2_file.stat().st_mtime_ns
    assert export.export_events(engine, home=home, settle_seconds=0)["days"] == 0
    # A late event for day 1 and the identification of anon-p: day 1 is rewritten, day 2 is not.
    post(client, "/v1/track", {"userId": a1.customer_no, "event": "购买", "messageId": "late",
                               "timestamp": "2026-05-01T23:00:00Z"})
    post(client, "/v1/identify", {"userId": a1.customer_no, "anonymousId": "anon-p", "messageId": "who",
                                  "timestamp": "2026-05-03T08:00:00Z"})
    again = export.export_events(engine, home=home, settle_seconds=0)
    assert again["days"] == 2  # day 1 (late event + stitched) and day 3 (the identify)
    rows = _read_day(home, day1).to_pylist()
    assert [r["event_id"] for r in rows] == ["e1", "e2", "late"] and rows[1]["cid"] == a1.id
    assert day2_file.stat().st_mtime_ns == stamp
    db.rollback()
    assert db.scalar(select(func.count()).select_from(EventDirtyDay)) == 0
    assert export.read_state(home)["watermark"] == db.scalar(select(func.max(Event.id)))


def test_export_waits_for_recent_rows_to_settle(client, db, world, engine, tmp_path):
    post(client, "/v1/track", {"anonymousId": "x", "event": "浏览", "messageId": "fresh"})
    home = tmp_path / "home"
    assert export.export_events(engine, home=home, settle_seconds=3600)["rows"] == 0
    assert export.export_events(engine, home=home, settle_seconds=0)["rows"] == 1


def test_retention_deletes_old_events_keys_and_parquet_days(client, db, world, engine, tmp_path):
    today = utcnow().date()
    old, recent = today - timedelta(days=800), today - timedelta(days=10)
    post(client, "/v1/batch", {"batch": [
        {"type": "track", "anonymousId": "r", "event": "旧", "messageId": "old", "timestamp": f"{old}T12:00:00Z"},
        {"type": "track", "anonymousId": "r", "event": "新", "messageId": "new", "timestamp": f"{recent}T12:00:00Z"},
    ]})
    home = tmp_path / "home"
    export.export_events(engine, home=home, settle_seconds=0)
    assert export.day_dir(home, old).exists()
    cutoff = today - timedelta(days=730)
    result = store.delete_before(engine, cutoff)
    assert result["rows_deleted"] + result["partitions_dropped"] >= 1
    assert export.delete_days_before(home, cutoff) == 1
    db.rollback()
    assert [e.message_id for e in db.scalars(select(Event))] == ["new"]
    assert db.scalars(select(EventMessageId.message_id)).all() == ["new"]
    assert not export.day_dir(home, old).exists() and export.day_dir(home, recent).exists()
    # A retried old message after retention is a new message again, and goes to a fresh day.
    assert post(client, "/v1/track", {"anonymousId": "r", "event": "新", "messageId": "new"}).status_code == 200


def test_jobs_run_through_the_registry(db, world, engine, tmp_path, monkeypatch, client):
    from omniloop.core.db import session_factory
    from omniloop.events import tasks
    from omniloop.settings import get_settings

    monkeypatch.setenv("OMNILOOP_HOME", str(tmp_path / "jobhome"))
    monkeypatch.setenv("OMNILOOP_EVENT_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    try:
        old = utcnow().date() - timedelta(days=45)
        post(client, "/v1/track", {"anonymousId": "j", "event": "旧", "messageId": "j1", "timestamp": f"{old}T01:00:00Z"})
        post(client, "/v1/track", {"anonymousId": "j", "event": "新", "messageId": "j2"})
        ctx = JobContext(job_id=0, name="t", attempt=1, worker_id="w", session_factory=session_factory(engine))
        ctx.progress = lambda fraction, message=None: None
        exported = tasks.export_job(ctx, settle_seconds=0)
        assert exported["rows"] == 2 and export.day_dir(tmp_path / "jobhome", old).exists()
        retained = tasks.retention_job(ctx)
        assert retained["parquet_days_removed"] == 1
        db.rollback()
        assert db.scalars(select(Event.message_id)).all() == ["j2"]
        tasks.declare_schedules(db)
        db.commit()
        from omniloop.jobs.models import JobSchedule
        assert {s.key for s in db.scalars(select(JobSchedule))} >= {"events.export", "events.retention"}
        assert tasks.partitions_job(ctx) is not None
    finally:
        get_settings.cache_clear()


@pytest.mark.postgres_only
def test_postgres_rows_land_in_day_partitions(client, db, world, engine):
    today = utcnow().date()
    back = today - timedelta(days=40)
    post(client, "/v1/batch", {"batch": [
        {"type": "track", "anonymousId": "p", "event": "今天", "messageId": "p1"},
        {"type": "track", "anonymousId": "p", "event": "以前", "messageId": "p2", "timestamp": f"{back}T03:00:00Z"},
    ]})
    db.rollback()
    where = dict(db.execute(text("SELECT message_id, tableoid::regclass::text FROM events")).all())
    assert where == {"p1": store.partition_name(today), "p2": store.partition_name(back)}
    # A row written for a day without a partition waits in the default partition until the job moves it.
    lonely = today - timedelta(days=100)
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {store.partition_name(lonely)}"))
        store.forget_partitions(engine)
        now = utcnow()
        store.insert_rows(conn, [(999_999, lonely, world["app"].id, "p3", "track", "补录", None, "u", None,
                                  datetime.combine(lonely, datetime.min.time(), UTC), None, now, None, None, None)])
    db.rollback()
    assert db.scalar(text("SELECT tableoid::regclass::text FROM events WHERE message_id = 'p3'")) == "events_default"
    from omniloop.core.db import session_factory
    from omniloop.events import tasks

    ctx = JobContext(job_id=0, name="t", attempt=1, worker_id="w", session_factory=session_factory(engine))
    db.rollback()  # an open reader would hold the lock that creating a partition needs
    result = tasks.partitions_job(ctx)
    assert result["moved_rows"] == 1, result
    db.rollback()
    assert db.scalar(text("SELECT tableoid::regclass::text FROM events WHERE message_id = 'p3'")) == (
        store.partition_name(lonely))
    assert store.partition_name(today + timedelta(days=7)) in set(
        db.scalars(text("SELECT relname FROM pg_class WHERE relname LIKE 'events_p%'")))
