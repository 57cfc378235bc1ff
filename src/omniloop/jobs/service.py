"""Job queue (作业队列): enqueue, lease-based claim, progress, finish, retry, cancel; cron schedules; workers.

Everything lives in the operational database, so a job is enqueued in the same transaction as the
business change that asks for it: it exists if and only if that change commits. No broker is needed.

Claiming gives a worker a lease (``lease_owner`` + ``lease_expires_at``) that it renews while the handler
runs. A job whose lease expired while ``running`` belongs to a dead or hung worker and is claimable
again; that counts as another attempt. Every call that finishes a job is a compare-and-set on
(job id, lease owner, attempt), so a worker that lost its lease can never overwrite the outcome written
by the worker that took the job over.

Functions take the caller's session and do not commit, except ``claim``, which owns its transactions.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from sqlalchemy import Select, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from omniloop.core import audit
from omniloop.core.audit import Actor
from omniloop.core.db import insert_for, utcnow
from omniloop.core.errors import Conflict, NotFound, ValidationFailed
from omniloop.core.observability import JOB_QUEUE_DEPTH
from omniloop.jobs.models import Job, JobSchedule, Worker

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
BACKOFF_CAP_SECONDS = 600
# A worker heartbeats every few seconds; one silent for this long is reported as not alive.
WORKER_ALIVE_SECONDS = 30
# Rows of workers that stopped (or vanished) longer ago than this are pruned when a worker starts.
WORKER_RETENTION = timedelta(days=7)
DEFAULT_TIMEZONE = "Asia/Shanghai"


class LeaseState(NamedTuple):
    """What a worker learns when it touches its running job."""

    owned: bool  # False: the lease was lost (another worker reclaimed the job, or it was finished)
    cancel_requested: bool


def _now(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("naive datetime given; pass a timezone-aware time")
    return now


def _json_args(args: dict | None) -> dict:
    if args is None:
        return {}
    if not isinstance(args, dict):
        raise ValidationFailed("作业参数必须是 JSON 对象", "Job args must be a JSON object", details={"field": "args"})
    try:
        json.dumps(args)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed("作业参数无法序列化为 JSON", "Job args are not JSON-serialisable",
                               details={"field": "args", "reason": str(exc)}) from exc
    return args


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# ---- enqueue ----------------------------------------------------------------------------------------

def enqueue(
    session: Session,
    *,
    name: str,
    args: dict | None = None,
    idempotency_key: str | None = None,
    run_at: datetime | None = None,
    priority: int = 100,
    max_attempts: int = 5,
    created_by: int | None = None,
    schedule_id: int | None = None,
) -> Job:
    """Add a job (committed with the caller's transaction); ``run_at`` in the future makes a durable timer.

    With ``idempotency_key``, enqueueing again returns the job already holding that key, including when
    two transactions race: the insert is ``ON CONFLICT DO NOTHING`` on the unique key, and the loser
    reads the winner's row (PostgreSQL waits for the winner to commit; SQLite serialises writers).
    """
    if not name or len(name) > 100:
        raise ValidationFailed("作业名称无效", "Invalid job name", details={"field": "name"})
    if max_attempts < 1:
        raise ValidationFailed("最大尝试次数至少为 1", "max_attempts must be at least 1",
                               details={"field": "max_attempts"})
    now = utcnow()
    values: dict[str, Any] = {
        "name": name, "args": _json_args(args), "idempotency_key": idempotency_key, "status": "queued",
        "priority": priority, "run_at": _now(run_at) if run_at is not None else now, "attempts": 0,
        "max_attempts": max_attempts, "progress": 0.0, "cancel_requested": False, "created_by": created_by,
        "schedule_id": schedule_id, "created_at": now,
    }
    if idempotency_key is None:
        job = Job(**values)
        session.add(job)
        session.flush()
        return job
    by_key = select(Job).where(Job.idempotency_key == idempotency_key)
    existing = session.scalar(by_key)
    if existing is not None:
        return existing
    insert = insert_for(session)
    session.execute(insert(Job).values(**values).on_conflict_do_nothing(index_elements=["idempotency_key"]))
    return session.scalars(by_key.execution_options(populate_existing=True)).one()


# ---- claim and lease --------------------------------------------------------------------------------

def _claimable(now: datetime):
    return or_(
        and_(Job.status == "queued", Job.run_at <= now),
        # The lease ran out while running: the worker died or hung, so the job is up for grabs again.
        and_(Job.status == "running", Job.lease_expires_at < now),
    )


def claim(session_factory: sessionmaker[Session], *, worker_id: str, lease_seconds: float,
          now: datetime | None = None) -> Job | None:
    """Take the next due job for ``worker_id`` with a lease; None when nothing is due.

    PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` so many workers take different rows without
    waiting on each other. SQLite has no row locks; there each candidate is taken by a conditional
    UPDATE (compare-and-set on id, status and attempts) that only one process can win, and the loser
    moves on to the next candidate.
    """
    now = _now(now)
    with session_factory() as session:
        postgres = _is_postgres(session)
        for _round in range(5):
            stmt = (
                select(Job.id, Job.status, Job.attempts, Job.max_attempts, Job.cancel_requested)
                .where(_claimable(now))
                .order_by(Job.priority, Job.run_at, Job.id)
            )
            stmt = stmt.limit(1).with_for_update(skip_locked=True) if postgres else stmt.limit(10)
            candidates = session.execute(stmt).all()
            if not candidates:
                session.rollback()
                return None
            if not postgres:
                session.rollback()  # end the read; each compare-and-set below is its own transaction
            for cand in candidates:
                guard = and_(Job.id == cand.id, Job.status == cand.status, Job.attempts == cand.attempts,
                             _claimable(now))
                if cand.status == "running" and (cand.cancel_requested or cand.attempts >= cand.max_attempts):
                    _settle_abandoned(session, guard=guard, cancel=cand.cancel_requested, now=now)
                    session.commit()
                    continue
                result = session.execute(
                    update(Job).where(guard).values(
                        status="running", attempts=Job.attempts + 1, lease_owner=worker_id,
                        lease_expires_at=now + timedelta(seconds=lease_seconds), heartbeat_at=now,
                        started_at=now, progress=0.0, progress_message=None, finished_at=None,
                    ).execution_options(synchronize_session=False)
                )
                session.commit()
                if result.rowcount == 1:
                    return session.get(Job, cand.id, populate_existing=True)
        return None


def _settle_abandoned(session: Session, *, guard, cancel: bool, now: datetime) -> None:
    """An expired lease on a job that must not run again: cancel requested, or out of attempts."""
    if cancel:
        values = {"status": "cancelled", "error": "cancelled while its worker was lost"}
    else:
        values = {"status": "failed",
                  "error": "lease expired: its worker stopped heartbeating (killed, hung); no attempts left"}
    session.execute(update(Job).where(guard).values(finished_at=now, lease_expires_at=None, **values)
                    .execution_options(synchronize_session=False))


def _owned(job_id: int, worker_id: str, attempt: int):
    return and_(Job.id == job_id, Job.lease_owner == worker_id, Job.attempts == attempt,
                Job.status == "running")


def _lease_state(session: Session, job_id: int, rowcount: int) -> LeaseState:
    if rowcount != 1:
        return LeaseState(owned=False, cancel_requested=False)
    cancel = session.scalar(select(Job.cancel_requested).where(Job.id == job_id))
    return LeaseState(owned=True, cancel_requested=bool(cancel))


def heartbeat(session: Session, *, job_id: int, worker_id: str, attempt: int, lease_seconds: float,
              now: datetime | None = None) -> LeaseState:
    """Renew the lease of a running job; tells whether it is still ours and whether cancel was asked."""
    now = _now(now)
    result = session.execute(
        update(Job).where(_owned(job_id, worker_id, attempt))
        .values(heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return _lease_state(session, job_id, result.rowcount)


def report_progress(session: Session, *, job_id: int, worker_id: str, attempt: int, fraction: float,
                    message: str | None = None, now: datetime | None = None) -> LeaseState:
    """Write progress (clamped to 0..1) and a heartbeat on a job we hold."""
    now = _now(now)
    result = session.execute(
        update(Job).where(_owned(job_id, worker_id, attempt))
        .values(progress=min(1.0, max(0.0, float(fraction))), progress_message=message and message[:500],
                heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return _lease_state(session, job_id, result.rowcount)


def backoff_seconds(attempts: int, *, rng: random.Random | None = None) -> float:
    """Delay before the next attempt: 2**attempts seconds, ±25 % jitter, capped.

    The jitter spreads retries of jobs that failed together (a database blip) so they do not all
    come back in the same second.
    """
    base = min(BACKOFF_CAP_SECONDS, 2 ** min(attempts, 30))
    return min(BACKOFF_CAP_SECONDS, base * (rng or random).uniform(0.75, 1.25))


def complete(session: Session, *, job_id: int, worker_id: str, attempt: int, result: dict | None = None,
             now: datetime | None = None) -> bool:
    """Mark our running job succeeded; False if the lease was lost (the outcome is not ours to write)."""
    now = _now(now)
    res = session.execute(
        update(Job).where(_owned(job_id, worker_id, attempt))
        .values(status="succeeded", result=result, error=None, progress=1.0, finished_at=now,
                lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return res.rowcount == 1


def fail(session: Session, *, job_id: int, worker_id: str, attempt: int, error: str, retryable: bool = True,
         now: datetime | None = None, rng: random.Random | None = None) -> str | None:
    """Record a failed attempt; returns the job's new status (queued again, failed, cancelled) or None.

    A retryable failure with attempts left goes back to the queue after ``backoff_seconds``; the last
    attempt (or a non-retryable error such as an unknown job name) leaves the job ``failed``.
    """
    now = _now(now)
    row = session.execute(
        select(Job.attempts, Job.max_attempts, Job.cancel_requested).where(_owned(job_id, worker_id, attempt))
    ).first()
    if row is None:
        return None
    if row.cancel_requested:
        status, values = "cancelled", {"finished_at": now}
    elif retryable and row.attempts < row.max_attempts:
        status, values = "queued", {"run_at": now + timedelta(seconds=backoff_seconds(row.attempts, rng=rng))}
    else:
        status, values = "failed", {"finished_at": now}
    res = session.execute(
        update(Job).where(_owned(job_id, worker_id, attempt))
        .values(status=status, error=error, lease_expires_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    return status if res.rowcount == 1 else None


def mark_cancelled(session: Session, *, job_id: int, worker_id: str, attempt: int,
                   now: datetime | None = None) -> bool:
    """The handler stopped on a cancel request: the job ends ``cancelled``."""
    res = session.execute(
        update(Job).where(_owned(job_id, worker_id, attempt))
        .values(status="cancelled", finished_at=_now(now), lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return res.rowcount == 1


def release(session: Session, *, job_id: int, worker_id: str, attempt: int,
            now: datetime | None = None) -> bool:
    """Give a job back to the queue because the worker is stopping; the interrupted attempt is not counted."""
    res = session.execute(
        update(Job).where(_owned(job_id, worker_id, attempt))
        .values(status="queued", attempts=Job.attempts - 1, run_at=_now(now), lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return res.rowcount == 1


# ---- queries and operator actions -------------------------------------------------------------------

def get_job(session: Session, *, job_id: int) -> Job:
    job = session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise NotFound("作业不存在", "Job not found", details={"job_id": job_id})
    return job


def jobs_statement(*, status: str | None = None, name: str | None = None) -> Select:
    """Jobs, newest first, optionally filtered (for pagination)."""
    stmt = select(Job).order_by(Job.id.desc())
    if status is not None:
        stmt = stmt.where(Job.status == status)
    if name is not None:
        stmt = stmt.where(Job.name == name)
    return stmt


def list_jobs(session: Session, *, status: str | None = None, name: str | None = None,
              limit: int = 50) -> list[Job]:
    return list(session.scalars(jobs_statement(status=status, name=name).limit(limit)))


def cancel(session: Session, *, job_id: int, actor: Actor, now: datetime | None = None) -> Job:
    """Cancel a job: a queued one at once; a running one is asked to stop at its next progress call."""
    now = _now(now)
    job = get_job(session, job_id=job_id)
    before = audit.snapshot(job)
    # Conditional updates, because a worker may claim or finish the job between our read and write.
    res = session.execute(
        update(Job).where(Job.id == job_id, Job.status == "queued")
        .values(status="cancelled", cancel_requested=True, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount == 0:
        res = session.execute(
            update(Job).where(Job.id == job_id, Job.status == "running").values(cancel_requested=True)
            .execution_options(synchronize_session=False)
        )
    session.refresh(job)
    if res.rowcount == 0:
        raise Conflict(f"作业已结束（{job.status}），不能取消",
                       f"Job already finished ({job.status}); it cannot be cancelled",
                       code="job_not_cancellable", details={"job_id": job_id, "status": job.status})
    audit.record(session, actor=actor, action="cancel", entity_type="job", entity_id=job.id, before=before,
                 after=audit.snapshot(job))
    return job


_NOT_RETRYABLE = {
    "running": ("作业正在运行，不能重试；只有失败或已取消的作业可以重试",
                "Job is running; only failed or cancelled jobs can be retried"),
    "queued": ("作业已在队列中等待执行，无需重试", "Job is already queued; there is nothing to retry"),
    "succeeded": ("作业已成功完成，不能重试", "Job already succeeded; only failed or cancelled jobs can be retried"),
}


def retry(session: Session, *, job_id: int, actor: Actor, now: datetime | None = None) -> Job:
    """Put a failed or cancelled job back in the queue with its attempts reset."""
    now = _now(now)
    job = get_job(session, job_id=job_id)
    before = audit.snapshot(job)
    res = session.execute(
        update(Job).where(Job.id == job_id, Job.status.in_(("failed", "cancelled")))
        .values(status="queued", attempts=0, run_at=now, error=None, result=None, progress=0.0,
                progress_message=None, cancel_requested=False, lease_owner=None, lease_expires_at=None,
                started_at=None, finished_at=None)
        .execution_options(synchronize_session=False)
    )
    session.refresh(job)
    if res.rowcount == 0:
        zh, en = _NOT_RETRYABLE.get(job.status, ("作业当前状态不能重试", "Job cannot be retried in its current state"))
        raise Conflict(zh, en, code="job_not_retryable", details={"job_id": job_id, "status": job.status})
    audit.record(session, actor=actor, action="retry", entity_type="job", entity_id=job.id, before=before,
                 after=audit.snapshot(job))
    return job


def refresh_queue_metrics(session: Session) -> None:
    counts = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
    for status in ("queued", "running", "failed"):
        JOB_QUEUE_DEPTH.labels(status).set(counts.get(status, 0))


# ---- cron schedules ---------------------------------------------------------------------------------

def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed("时区无效", "Unknown timezone", details={"field": "timezone"}) from exc


def next_fire(cron: str, timezone: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` matching ``cron`` read in ``timezone``, in UTC."""
    local = after.astimezone(_zone(timezone))
    return croniter(cron, local).get_next(datetime).astimezone(UTC)


def last_fire(cron: str, timezone: str, at_or_before: datetime) -> datetime:
    """The latest time at or before ``at_or_before`` matching ``cron`` in ``timezone``, in UTC."""
    # croniter's get_prev excludes its start, so start just after the instant to include it.
    local = (at_or_before + timedelta(microseconds=1)).astimezone(_zone(timezone))
    return croniter(cron, local).get_prev(datetime).astimezone(UTC)


def upsert_schedule(
    session: Session,
    *,
    key: str,
    job_name: str,
    cron: str,
    args: dict | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    enabled: bool = True,
    now: datetime | None = None,
) -> JobSchedule:
    """Create or update the schedule ``key``; safe to call at every start (deployments declare schedules).

    ``cron`` is read in ``timezone`` (the bank's, Asia/Shanghai by default), so "0 2 * * *" means
    02:00 Beijing time. ``next_run_at`` is kept when cron and timezone are unchanged.
    """
    now = _now(now)
    if not croniter.is_valid(cron):
        raise ValidationFailed("cron 表达式无效", "Invalid cron expression",
                               details={"field": "cron", "cron": cron})
    _zone(timezone)
    args = _json_args(args)
    schedule = session.scalar(select(JobSchedule).where(JobSchedule.key == key))
    if schedule is None:
        schedule = JobSchedule(key=key, job_name=job_name, cron=cron, timezone=timezone, args=args,
                               enabled=enabled, next_run_at=next_fire(cron, timezone, now), created_at=now,
                               updated_at=now)
        session.add(schedule)
    else:
        if (schedule.cron, schedule.timezone) != (cron, timezone) or (enabled and not schedule.enabled):
            # A re-enabled schedule starts from now instead of firing for the time it was off.
            schedule.next_run_at = next_fire(cron, timezone, now)
        schedule.job_name, schedule.cron, schedule.timezone = job_name, cron, timezone
        schedule.args, schedule.enabled = args, enabled
    session.flush()
    return schedule


def list_schedules(session: Session) -> list[JobSchedule]:
    return list(session.scalars(select(JobSchedule).order_by(JobSchedule.key)))


def tick_schedules(session: Session, *, now: datetime | None = None) -> list[Job]:
    """Enqueue one job for each enabled schedule that is due at ``now``; advance its ``next_run_at``.

    A schedule that missed several ticks (no worker was up) runs once, for its latest missed time, not
    once per missed tick. The job's idempotency key is the schedule key plus that time, so workers
    ticking at the same moment cannot enqueue it twice.
    """
    now = _now(now)
    stmt = (select(JobSchedule).where(JobSchedule.enabled.is_(True), JobSchedule.next_run_at <= now)
            .order_by(JobSchedule.id))
    if _is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    jobs = []
    for schedule in session.scalars(stmt).all():
        scheduled_for = max(schedule.next_run_at, last_fire(schedule.cron, schedule.timezone, now))
        jobs.append(enqueue(
            session, name=schedule.job_name, args=schedule.args,
            idempotency_key=f"schedule:{schedule.key}:{scheduled_for.isoformat()}",
            run_at=scheduled_for, schedule_id=schedule.id,
        ))
        schedule.last_run_at = scheduled_for
        schedule.next_run_at = next_fire(schedule.cron, schedule.timezone, now)
    session.flush()
    return jobs


# ---- workers ----------------------------------------------------------------------------------------

def register_worker(session: Session, *, worker_id: str, hostname: str, pid: int,
                    now: datetime | None = None) -> Worker:
    now = _now(now)
    session.execute(delete(Worker).where(
        or_(Worker.stopped_at < now - WORKER_RETENTION, Worker.heartbeat_at < now - WORKER_RETENTION)))
    worker = Worker(id=worker_id, hostname=hostname[:200], pid=pid, started_at=now, heartbeat_at=now)
    session.add(worker)
    session.flush()
    return worker


def worker_heartbeat(session: Session, *, worker_id: str, now: datetime | None = None) -> None:
    session.execute(update(Worker).where(Worker.id == worker_id).values(heartbeat_at=_now(now))
                    .execution_options(synchronize_session=False))


def stop_worker(session: Session, *, worker_id: str, now: datetime | None = None) -> None:
    session.execute(update(Worker).where(Worker.id == worker_id).values(stopped_at=_now(now))
                    .execution_options(synchronize_session=False))


def list_workers(session: Session) -> list[Worker]:
    return list(session.scalars(select(Worker).order_by(Worker.started_at.desc())))


def is_alive(worker: Worker, *, now: datetime | None = None) -> bool:
    """A worker is alive if it has not stopped and heartbeated recently."""
    recent = _now(now) - timedelta(seconds=WORKER_ALIVE_SECONDS)
    return worker.stopped_at is None and worker.heartbeat_at > recent
