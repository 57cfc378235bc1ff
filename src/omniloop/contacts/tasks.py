"""Contact jobs (接触作业): the outbox dispatcher. Safe to run twice: claims are compare-and-set."""

from __future__ import annotations

from sqlalchemy.orm import Session

from omniloop.contacts import dispatch
from omniloop.jobs import service as job_service
from omniloop.jobs.registry import JobContext, job

DISPATCH_JOB = "outbox.dispatch"


def declare_schedules(session: Session) -> None:
    """Start a dispatcher every minute; each runs ``seconds`` of passes ``interval`` apart, so due rows wait
    at most a few seconds (two overlapping dispatchers never send a row twice)."""
    job_service.upsert_schedule(session, key=DISPATCH_JOB, job_name=DISPATCH_JOB, cron="* * * * *")


@job(DISPATCH_JOB)
def dispatch_job(ctx: JobContext, seconds: float = 55.0, interval: float = 2.0, limit: int = dispatch.BATCH) -> dict:
    """Dispatch due outbox rows repeatedly for ``seconds``; returns the totals."""
    import time

    totals: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    while True:
        while True:  # drain: full batches back to back
            counts = dispatch.dispatch_once(ctx.session_factory, limit=limit)
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
            if counts["claimed"] < limit:
                break
        ctx.progress(min(1.0, 1 - (deadline - time.monotonic()) / max(seconds, 1e-9)),
                     f"{totals.get('claimed', 0)} sent")
        if time.monotonic() >= deadline or ctx.stop_event.wait(interval):
            return totals
