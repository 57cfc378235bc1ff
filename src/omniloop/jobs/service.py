"""Job queue operations (enqueue, claim, progress, finish). Extended by the jobs work."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omniloop.core.observability import JOB_QUEUE_DEPTH
from omniloop.jobs.models import Job


def refresh_queue_metrics(session: Session) -> None:
    counts = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
    for status in ("queued", "running", "failed"):
        JOB_QUEUE_DEPTH.labels(status).set(counts.get(status, 0))
