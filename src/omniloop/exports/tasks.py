"""Export jobs: ``exports.cleanup`` removes export files past their retention, nightly."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy.orm import Session

from omniloop.core.db import utcnow
from omniloop.exports import retention
from omniloop.jobs import service as job_service
from omniloop.jobs.registry import JobContext, job
from omniloop.settings import get_settings

CLEANUP_JOB = "exports.cleanup"
CLEANUP_SCHEDULE = ("exports.cleanup", CLEANUP_JOB, "40 3 * * *")  # 03:40 Beijing time, after the tag run


def declare_schedules(session: Session) -> None:
    """The nightly cleanup; declared when an export is requested and by the demo (an upsert: cheap, idempotent)."""
    key, name, cron = CLEANUP_SCHEDULE
    job_service.upsert_schedule(session, key=key, job_name=name, cron=cron)


@job(CLEANUP_JOB)
def cleanup(ctx: JobContext, days: int | None = None) -> dict:
    """Delete export files older than ``days`` (default: the ``export_retention_days`` setting)."""
    settings = get_settings()
    days = days or settings.export_retention_days
    removed = retention.remove_expired(settings.home, days=days, now=utcnow())
    return {**asdict(removed), "days": days}


__all__ = ["CLEANUP_JOB", "cleanup", "declare_schedules"]
