"""Event jobs (事件作业): Parquet export, retention and PostgreSQL day partitions; all safe to run twice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from omniloop.core.db import utcnow
from omniloop.events import export, store
from omniloop.jobs import service as job_service
from omniloop.jobs.registry import JobContext, job
from omniloop.settings import get_settings

PARTITION_DAYS_AHEAD = 7
SCHEDULES = (
    ("events.export", "events.export", "*/10 * * * *"),
    ("events.partitions", "events.partitions", "15 1 * * *"),
    ("events.retention", "events.retention", "30 2 * * *"),
)


def declare_schedules(session: Session) -> None:
    """Cron schedules of the event jobs (export every ten minutes; partitions and retention nightly)."""
    for key, name, cron in SCHEDULES:
        job_service.upsert_schedule(session, key=key, job_name=name, cron=cron)


def _engine(ctx: JobContext):
    return ctx.session_factory.kw["bind"]


@job("events.export")
def export_job(ctx: JobContext, full: bool = False, settle_seconds: float = 60.0) -> dict:
    """Export new and changed days of events to Parquet under ``{home}/store/events``."""
    return export.export_events(_engine(ctx), home=get_settings().home, full=full, settle_seconds=settle_seconds,
                                progress=lambda fraction, message: ctx.progress(fraction, message))


@job("events.partitions")
def partitions_job(ctx: JobContext, days_ahead: int = PARTITION_DAYS_AHEAD) -> dict:
    """PostgreSQL: create day partitions ahead, and give days waiting in the default partition their own."""
    engine = _engine(ctx)
    if engine.dialect.name != "postgresql":
        return {"skipped": "not PostgreSQL"}
    today = utcnow().date()
    cutoff = today - timedelta(days=get_settings().event_retention_days)
    with engine.connect() as conn:
        waiting = [d for d in store.default_partition_days(conn) if d >= cutoff]
    store.forget_partitions(engine)
    wanted = {today + timedelta(days=n) for n in range(-1, days_ahead + 1)} | set(waiting)
    return store.ensure_partitions(engine, wanted)


@job("events.retention")
def retention_job(ctx: JobContext, days: int | None = None) -> dict:
    """Drop events older than the retention setting (whole partitions on PostgreSQL) and their Parquet days."""
    days = days or get_settings().event_retention_days
    cutoff = utcnow().date() - timedelta(days=days)
    result = store.delete_before(_engine(ctx), cutoff)
    result["parquet_days_removed"] = export.delete_days_before(get_settings().home, cutoff)
    result["cutoff"] = cutoff.isoformat()
    return result
