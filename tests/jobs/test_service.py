"""Job queue semantics in one process: idempotency, timers, claim order, leases, retries, schedules."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from omniloop.core.audit import SYSTEM
from omniloop.core.db import session_factory, utcnow
from omniloop.core.errors import Conflict, ValidationFailed
from omniloop.core.observability import JOB_COMPLETED, JOB_FAILURES
from omniloop.jobs import service
from omniloop.jobs.models import Job, JobSchedule
from omniloop.jobs.registry import JobCancelled, JobContext, get_handler, job, load_job_modules
from omniloop.jobs.worker import Worker, start_background_worker
from tests.jobs import sample_jobs  # noqa: F401  (registers sample.* jobs)


def _job(db, job_id: int) -> Job:
    db.expire_all()
    return db.get(Job, job_id)


def _worker(engine, **kw) -> Worker:
    return Worker(engine, poll_seconds=0.05, lease_seconds=30, tick_schedules=False, **kw)


def _run_next(engine, worker: Worker, now: datetime | None = None) -> str | None:
    """Claim the next due job for ``worker`` and run it; returns the status it ended in."""
    claimed = service.claim(session_factory(engine), worker_id=worker.id, lease_seconds=30, now=now)
    return worker.execute(claimed)


def test_idempotency_key_returns_the_existing_job(db):
    first = service.enqueue(db, name="system.noop", args={"n": 1}, idempotency_key="wave:42")
    db.commit()
    again = service.enqueue(db, name="system.noop", args={"n": 2}, idempotency_key="wave:42")
    db.commit()
    assert again.id == first.id and again.args == {"n": 1}
    assert db.scalar(select(func.count()).select_from(Job)) == 1


def test_idempotency_key_holds_under_a_race(db, engine):
    """Two transactions enqueue the same key at once: the second waits for the first and reuses its job."""
    factory = session_factory(engine)
    inserted, results = threading.Event(), {}

    def first() -> None:
        with factory() as session:
            results["first"] = service.enqueue(session, name="system.noop", idempotency_key="race").id
            inserted.set()
            threading.Event().wait(0.3)  # hold the uncommitted row while the other transaction tries
            session.commit()

    def second() -> None:
        inserted.wait(5)
        with factory() as session:
            results["second"] = service.enqueue(session, name="system.noop", idempotency_key="race").id
            session.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results["first"] == results["second"]
    assert db.scalar(select(func.count()).select_from(Job).where(Job.idempotency_key == "race")) == 1


def test_enqueue_rejects_args_that_are_not_json(db):
    with pytest.raises(ValidationFailed):
        service.enqueue(db, name="system.noop", args={"when": datetime.now(UTC)})


def test_enqueue_is_part_of_the_callers_transaction(db, engine):
    service.enqueue(db, name="system.noop", idempotency_key="rolled-back")
    db.rollback()
    assert service.claim(session_factory(engine), worker_id="w1", lease_seconds=30) is None


def test_delayed_job_is_not_claimed_before_run_at(db, engine):
    now = utcnow()
    delayed = service.enqueue(db, name="system.noop", run_at=now + timedelta(hours=1))
    db.commit()
    factory = session_factory(engine)
    assert service.claim(factory, worker_id="w1", lease_seconds=30, now=now) is None
    assert service.claim(factory, worker_id="w1", lease_seconds=30, now=now + timedelta(minutes=59)) is None
    due = now + timedelta(hours=1, seconds=1)
    claimed = service.claim(factory, worker_id="w1", lease_seconds=30, now=due)
    assert claimed is not None and claimed.id == delayed.id
    assert claimed.status == "running" and claimed.attempts == 1 and claimed.lease_owner == "w1"


def test_lower_priority_number_runs_first(db, engine):
    later = service.enqueue(db, name="system.noop", priority=200)
    sooner = service.enqueue(db, name="system.noop", priority=10)
    db.commit()
    factory = session_factory(engine)
    assert service.claim(factory, worker_id="w", lease_seconds=30).id == sooner.id
    assert service.claim(factory, worker_id="w", lease_seconds=30).id == later.id
    assert service.claim(factory, worker_id="w", lease_seconds=30) is None


def test_backoff_grows_with_jitter_and_is_capped():
    rng = random.Random(7)
    for attempts in (1, 2, 3, 5):
        delay = service.backoff_seconds(attempts, rng=rng)
        assert 0.75 * 2**attempts <= delay <= 1.25 * 2**attempts
    assert service.backoff_seconds(40, rng=rng) == pytest.approx(service.BACKOFF_CAP_SECONDS, rel=0.25)
    assert service.backoff_seconds(40, rng=rng) <= service.BACKOFF_CAP_SECONDS


def test_failures_back_off_then_fail_with_the_traceback(db, engine):
    failures_before = JOB_FAILURES.labels("sample.flaky")._value.get()
    job_id = service.enqueue(db, name="sample.flaky", args={"fail_times": 99}, max_attempts=3).id
    db.commit()
    factory, worker = session_factory(engine), _worker(engine)
    later = utcnow()
    for attempt in (1, 2):
        claimed = service.claim(factory, worker_id=worker.id, lease_seconds=30, now=later)
        before = utcnow()
        assert worker.execute(claimed) == "queued"
        job = _job(db, job_id)
        assert job.status == "queued" and job.attempts == attempt and job.lease_expires_at is None
        delay = (job.run_at - before).total_seconds()
        assert 0.75 * 2**attempt - 0.1 <= delay <= 1.25 * 2**attempt + 0.5
        assert f"flaky failure on attempt {attempt}" in job.error
        # not claimable while backing off
        assert service.claim(factory, worker_id=worker.id, lease_seconds=30, now=before) is None
        later = job.run_at + timedelta(seconds=1)
    assert _run_next(engine, worker, now=later) == "failed"
    job = _job(db, job_id)
    assert job.status == "failed" and job.attempts == 3 and job.finished_at is not None
    assert "Traceback" in job.error and "RuntimeError: flaky failure on attempt 3" in job.error
    assert JOB_FAILURES.labels("sample.flaky")._value.get() == failures_before + 3
    assert service.claim(factory, worker_id="w", lease_seconds=30, now=later + timedelta(days=9)) is None


def test_a_retried_attempt_can_succeed(db, engine):
    job_id = service.enqueue(db, name="sample.flaky", args={"fail_times": 1}).id
    db.commit()
    worker = _worker(engine)
    assert _run_next(engine, worker) == "queued"
    assert _run_next(engine, worker, now=_job(db, job_id).run_at + timedelta(seconds=1)) == "succeeded"
    job = _job(db, job_id)
    assert (job.status, job.result, job.error, job.progress) == ("succeeded", {"attempt": 2}, None, 1.0)


def test_unknown_job_name_fails_at_once_with_a_clear_error(db, engine):
    completed_before = JOB_COMPLETED.labels("reports.nightly", "failed")._value.get()
    job_id = service.enqueue(db, name="reports.nightly").id
    db.commit()
    assert _run_next(engine, _worker(engine)) == "failed"
    job = _job(db, job_id)
    assert job.attempts == 1 and "unknown job name 'reports.nightly'" in job.error
    assert "OMNILOOP_JOB_MODULES" in job.error
    assert JOB_COMPLETED.labels("reports.nightly", "failed")._value.get() == completed_before + 1


def test_arguments_that_do_not_fit_the_handler_fail_without_retries(db, engine):
    job_id = service.enqueue(db, name="sample.flaky", args={"fail_tims": 1}).id
    db.commit()
    assert _run_next(engine, _worker(engine)) == "failed"
    assert "do not fit handler 'sample.flaky'" in _job(db, job_id).error


def test_progress_is_written_with_a_heartbeat_and_sees_cancel(db, engine):
    job_id = service.enqueue(db, name="system.sleep").id
    db.commit()
    factory = session_factory(engine)
    claimed = service.claim(factory, worker_id="w1", lease_seconds=30)
    ctx = JobContext(job_id=job_id, name="system.sleep", attempt=claimed.attempts, worker_id="w1",
                     session_factory=factory)
    ctx.progress(0.25, "a quarter")
    job = _job(db, job_id)
    assert (job.progress, job.progress_message) == (0.25, "a quarter")
    assert job.heartbeat_at >= claimed.heartbeat_at
    ctx.progress(7)  # clamped
    assert _job(db, job_id).progress == 1.0

    cancelled = service.cancel(db, job_id=job_id, actor=SYSTEM)
    db.commit()
    assert cancelled.status == "running" and cancelled.cancel_requested
    with pytest.raises(JobCancelled):
        ctx.progress(0.5)


def test_a_stopping_worker_hands_the_job_back_without_using_an_attempt(db, engine):
    job_id = service.enqueue(db, name="system.sleep", args={"seconds": 0.01, "steps": 1}).id
    db.commit()
    worker = _worker(engine)
    claimed = service.claim(session_factory(engine), worker_id=worker.id, lease_seconds=30)
    worker.stop_event.set()
    assert worker.execute(claimed) == "queued"
    job = _job(db, job_id)
    assert job.status == "queued" and job.attempts == 0 and job.lease_expires_at is None


def test_expired_lease_is_reclaimed_and_the_old_owner_cannot_finish(db, engine):
    job_id = service.enqueue(db, name="system.noop").id
    db.commit()
    factory, t0 = session_factory(engine), utcnow()
    first = service.claim(factory, worker_id="w1", lease_seconds=30, now=t0)
    assert service.claim(factory, worker_id="w2", lease_seconds=30, now=t0 + timedelta(seconds=29)) is None
    second = service.claim(factory, worker_id="w2", lease_seconds=30, now=t0 + timedelta(seconds=31))
    assert second.id == job_id and second.attempts == 2 and second.lease_owner == "w2"

    with factory() as session:
        assert service.heartbeat(session, job_id=job_id, worker_id="w1", attempt=first.attempts,
                                 lease_seconds=30).owned is False
        assert service.complete(session, job_id=job_id, worker_id="w1", attempt=first.attempts,
                                result={"by": "w1"}) is False
        assert service.complete(session, job_id=job_id, worker_id="w2", attempt=second.attempts,
                                result={"by": "w2"}) is True
        session.commit()
    job = _job(db, job_id)
    assert job.status == "succeeded" and job.result == {"by": "w2"}


def test_lost_job_without_attempts_left_fails_instead_of_running_again(db, engine):
    job_id = service.enqueue(db, name="system.noop", max_attempts=1).id
    db.commit()
    factory, t0 = session_factory(engine), utcnow()
    service.claim(factory, worker_id="w1", lease_seconds=5, now=t0)
    assert service.claim(factory, worker_id="w2", lease_seconds=5, now=t0 + timedelta(seconds=6)) is None
    job = _job(db, job_id)
    assert job.status == "failed" and "lease expired" in job.error


def test_lease_renewal_keeps_a_long_job(db, engine):
    job_id = service.enqueue(db, name="system.noop").id
    db.commit()
    factory, t0 = session_factory(engine), utcnow()
    claimed = service.claim(factory, worker_id="w1", lease_seconds=10, now=t0)
    with factory() as session:
        state = service.heartbeat(session, job_id=job_id, worker_id="w1", attempt=claimed.attempts,
                                  lease_seconds=10, now=t0 + timedelta(seconds=8))
        session.commit()
    assert state == service.LeaseState(owned=True, cancel_requested=False)
    assert service.claim(factory, worker_id="w2", lease_seconds=10, now=t0 + timedelta(seconds=15)) is None


def test_cancel_and_retry_rules(db):
    queued = service.enqueue(db, name="system.noop")
    db.commit()
    assert service.cancel(db, job_id=queued.id, actor=SYSTEM).status == "cancelled"
    with pytest.raises(Conflict) as err:
        service.cancel(db, job_id=queued.id, actor=SYSTEM)
    assert err.value.code == "job_not_cancellable"
    retried = service.retry(db, job_id=queued.id, actor=SYSTEM)
    assert (retried.status, retried.attempts, retried.cancel_requested) == ("queued", 0, False)
    with pytest.raises(Conflict) as err:
        service.retry(db, job_id=queued.id, actor=SYSTEM)
    assert err.value.details["status"] == "queued"


def test_worker_once_drains_due_jobs_and_records_itself(db, engine):
    ids = [service.enqueue(db, name="system.noop", args={"i": i}).id for i in range(3)]
    service.enqueue(db, name="system.noop", run_at=utcnow() + timedelta(hours=1))
    db.commit()
    worker = _worker(engine, once=True, concurrency=2)
    worker.run()
    db.expire_all()
    assert [db.get(Job, i).status for i in ids] == ["succeeded"] * 3
    assert db.get(Job, ids[1]).result == {"echo": {"i": 1}, "attempt": 1}
    row = service.list_workers(db)[0]
    assert row.id == worker.id and row.stopped_at is not None and not service.is_alive(row)


def test_registry_refuses_a_second_handler_for_a_name_and_loads_env_modules(monkeypatch):
    with pytest.raises(ValueError, match="already registered"):
        job("system.noop")(lambda ctx: None)
    monkeypatch.setenv("OMNILOOP_JOB_MODULES", "tests.jobs.sample_jobs, ")
    assert "tests.jobs.sample_jobs" in load_job_modules()
    assert get_handler("sample.record") is not None and get_handler("system.sleep") is not None


# ---- cron schedules ---------------------------------------------------------------------------------

def test_cron_tick_enqueues_once_per_tick_in_the_schedule_timezone(db):
    created = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    schedule = service.upsert_schedule(db, key="tags.nightly", job_name="system.noop", cron="0 2 * * *",
                                       args={"scope": "all"}, now=created)
    db.commit()
    # 02:00 Beijing time is 18:00 UTC the day before
    assert schedule.next_run_at == datetime(2026, 1, 1, 18, 0, tzinfo=UTC)
    assert service.tick_schedules(db, now=datetime(2026, 1, 1, 17, 59, tzinfo=UTC)) == []

    tick = datetime(2026, 1, 1, 18, 0, 5, tzinfo=UTC)
    jobs = service.tick_schedules(db, now=tick)
    db.commit()
    assert len(jobs) == 1 and jobs[0].args == {"scope": "all"} and jobs[0].schedule_id == schedule.id
    assert jobs[0].idempotency_key == "schedule:tags.nightly:2026-01-01T18:00:00+00:00"
    assert service.tick_schedules(db, now=tick + timedelta(seconds=1)) == []
    db.refresh(schedule)
    assert schedule.next_run_at == datetime(2026, 1, 2, 18, 0, tzinfo=UTC)
    assert schedule.last_run_at == datetime(2026, 1, 1, 18, 0, tzinfo=UTC)

    # A second worker that read the schedule before it advanced ticks the same time: no second job.
    schedule.next_run_at = datetime(2026, 1, 1, 18, 0, tzinfo=UTC)
    db.commit()
    service.tick_schedules(db, now=tick + timedelta(seconds=2))
    db.commit()
    assert db.scalar(select(func.count()).select_from(Job)) == 1


def test_missed_ticks_run_once_for_the_latest_time(db):
    service.upsert_schedule(db, key="hourly", job_name="system.noop", cron="0 * * * *",
                            now=datetime(2026, 3, 1, 0, 30, tzinfo=UTC))
    db.commit()
    jobs = service.tick_schedules(db, now=datetime(2026, 3, 1, 5, 10, tzinfo=UTC))  # 5 ticks missed
    db.commit()
    assert [j.run_at for j in jobs] == [datetime(2026, 3, 1, 5, 0, tzinfo=UTC)]
    assert db.scalar(select(JobSchedule.next_run_at)) == datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def test_upsert_schedule_validates_and_keeps_next_run_when_unchanged(db):
    with pytest.raises(ValidationFailed):
        service.upsert_schedule(db, key="bad", job_name="system.noop", cron="every night")
    with pytest.raises(ValidationFailed):
        service.upsert_schedule(db, key="bad", job_name="system.noop", cron="0 2 * * *", timezone="Mars/Base")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    first = service.upsert_schedule(db, key="k", job_name="system.noop", cron="0 2 * * *", now=t0)
    kept = service.upsert_schedule(db, key="k", job_name="system.sleep", cron="0 2 * * *",
                                   now=t0 + timedelta(days=3))
    assert kept.id == first.id and kept.job_name == "system.sleep"
    assert kept.next_run_at == datetime(2026, 1, 1, 18, 0, tzinfo=UTC)
    moved = service.upsert_schedule(db, key="k", job_name="system.sleep", cron="30 9 * * 1-5", timezone="UTC",
                                    now=t0)
    assert moved.next_run_at == datetime(2026, 1, 1, 9, 30, tzinfo=UTC)



def test_background_worker_thread_runs_jobs_and_stops_on_its_event(db, engine):
    stop = threading.Event()
    thread = start_background_worker(engine, stop)
    try:
        job_id = service.enqueue(db, name="system.noop", args={"demo": True}).id
        db.commit()
        deadline = time.monotonic() + 15
        while _job(db, job_id).status != "succeeded":
            assert time.monotonic() < deadline, "background worker did not run the job"
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()
    assert _job(db, job_id).result == {"echo": {"demo": True}, "attempt": 1}
