"""The worker loop (作业执行器): claims jobs, runs their handlers, keeps leases alive, ticks cron schedules.

One ``Worker`` runs ``concurrency`` slot threads, each claiming and running one job at a time, and a
housekeeping loop on the calling thread that renews the leases of running jobs, heartbeats the worker's
row in ``workers``, ticks cron schedules and refreshes the queue metrics. Many workers, in as many
processes or hosts, may share one database.

Stopping (SIGTERM / SIGINT, or ``stop_event``) is graceful: no new claims, and running handlers stop at
their next ``ctx.progress`` call, which hands the job back to the queue without using up an attempt.
A handler that does not stop within ``grace_seconds`` is abandoned; its lease runs out and another
worker takes the job over.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import secrets
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from omniloop.core.db import get_engine, session_factory
from omniloop.core.observability import JOB_COMPLETED, JOB_FAILURES, WORKER_HEARTBEAT
from omniloop.jobs import service
from omniloop.jobs.models import Job
from omniloop.jobs.registry import (
    JobCancelled,
    JobContext,
    JobInterrupted,
    describe,
    get_handler,
    load_job_modules,
    registered_names,
)
from omniloop.settings import get_settings

log = logging.getLogger("omniloop.jobs")

WORKER_HEARTBEAT_SECONDS = 5.0


@dataclass
class _Running:
    job_id: int
    attempt: int
    ctx: JobContext
    renewed_at: float


class Worker:
    """One worker: its id, its slots, and the jobs it currently holds."""

    def __init__(
        self,
        engine: Engine,
        *,
        concurrency: int = 1,
        poll_seconds: float | None = None,
        lease_seconds: float | None = None,
        once: bool = False,
        tick_schedules: bool = True,
        stop_event: threading.Event | None = None,
        grace_seconds: float = 30.0,
        worker_id: str | None = None,
    ) -> None:
        settings = get_settings()
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.engine = engine
        self.session_factory = session_factory(engine)
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds if poll_seconds is not None else settings.worker_poll_seconds
        self.lease_seconds = float(lease_seconds if lease_seconds is not None else settings.job_lease_seconds)
        self.once = once
        self.tick_schedules = tick_schedules
        self.stop_event = stop_event or threading.Event()
        self.grace_seconds = grace_seconds
        self.id = worker_id or f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"
        self.processed = 0
        self._running: dict[int, _Running] = {}
        self._lock = threading.Lock()
        self._last_heartbeat = 0.0
        self._last_tick = 0.0

    # ---- database writes ---------------------------------------------------------------------------

    def _tx(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        """Run one service call in its own transaction, retrying briefly.

        A finishing write lost to a short database outage would otherwise leave the job running until
        its lease expires and it runs again.
        """
        for attempt in range(3):
            try:
                with self.session_factory() as session:
                    out = fn(session, **kwargs)
                    session.commit()
                    return out
            except Exception:
                if attempt == 2:
                    raise
                log.warning("job store write failed, retrying", exc_info=True)
                time.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    # ---- main loop ---------------------------------------------------------------------------------

    @property
    def _tick(self) -> float:
        return max(0.05, min(self.poll_seconds, self.lease_seconds / 3, WORKER_HEARTBEAT_SECONDS))

    def run(self) -> None:
        """Run until stopped (or, with ``once``, until no job is due); returns after unregistering."""
        self._tx(service.register_worker, worker_id=self.id, hostname=socket.gethostname(), pid=os.getpid())
        log.info("worker %s started (concurrency %d, lease %.0fs, jobs: %s)", self.id, self.concurrency,
                 self.lease_seconds, ", ".join(registered_names()), extra={"worker": self.id})
        try:
            # Tick schedules before the first claim, so ``once`` also drains what is due right now.
            self._housekeeping()
            slots = [threading.Thread(target=self._slot_loop, name=f"omniloop-job-{i}", daemon=True)
                     for i in range(self.concurrency)]
            for slot in slots:
                slot.start()
            stopping_since: float | None = None
            while any(slot.is_alive() for slot in slots):
                self._housekeeping()
                deadline = time.monotonic() + self._tick
                while time.monotonic() < deadline and any(slot.is_alive() for slot in slots):
                    time.sleep(0.05)
                if self.stop_event.is_set():
                    stopping_since = stopping_since or time.monotonic()
                    if time.monotonic() - stopping_since > self.grace_seconds:
                        log.warning("worker %s leaves %d job(s) to be reclaimed after their lease",
                                    self.id, len(self._running), extra={"worker": self.id})
                        break
        finally:
            self.stop_event.set()
            try:
                self._tx(service.stop_worker, worker_id=self.id)
            except Exception:
                log.exception("could not mark worker %s stopped", self.id)
            log.info("worker %s stopped after %d job(s)", self.id, self.processed, extra={"worker": self.id})

    def _slot_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                job = service.claim(self.session_factory, worker_id=self.id, lease_seconds=self.lease_seconds)
            except Exception:
                log.exception("claim failed")
                self.stop_event.wait(self.poll_seconds)
                continue
            if job is None:
                if self.once:
                    return
                self.stop_event.wait(self.poll_seconds)
                continue
            try:
                self.execute(job)
            except Exception:
                # The outcome could not be written; the lease will expire and the job run again.
                log.exception("job %d: could not record its outcome", job.id)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        try:
            self._renew_leases(now)
            if now - self._last_heartbeat >= min(WORKER_HEARTBEAT_SECONDS, self.lease_seconds / 3):
                self._last_heartbeat = now
                with self.session_factory() as session:
                    service.worker_heartbeat(session, worker_id=self.id)
                    session.commit()
                    service.refresh_queue_metrics(session)
                WORKER_HEARTBEAT.labels(self.id).set(time.time())
            tick_due = now - self._last_tick >= self.poll_seconds
            if self.tick_schedules and tick_due and not self.stop_event.is_set():
                self._last_tick = now
                with self.session_factory() as session:
                    jobs = service.tick_schedules(session)
                    session.commit()
                if jobs:
                    log.info("schedules enqueued %d job(s)", len(jobs))
        except Exception:
            # Housekeeping must outlive a database blip; the next round tries again.
            log.exception("worker housekeeping failed")

    def _renew_leases(self, now: float) -> None:
        with self._lock:
            due = [r for r in self._running.values() if now - r.renewed_at >= self.lease_seconds / 3]
        for running in due:
            with self.session_factory() as session:
                state = service.heartbeat(session, job_id=running.job_id, worker_id=self.id,
                                          attempt=running.attempt, lease_seconds=self.lease_seconds)
                session.commit()
            running.renewed_at = now
            running.ctx.cancel_requested = running.ctx.cancel_requested or state.cancel_requested
            if not state.owned:
                running.ctx.lease_lost = True
                log.warning("job %d: lease lost, another worker owns it now", running.job_id,
                            extra={"job_id": running.job_id, "worker": self.id})

    # ---- running one job ---------------------------------------------------------------------------

    def execute(self, job: Job) -> str | None:
        """Run the claimed ``job`` to an outcome; returns the status written (None if the lease was lost)."""
        ids = {"job_id": job.id, "worker_id": self.id, "attempt": job.attempts}
        extra = {"job_id": job.id, "job_name": job.name, "attempt": job.attempts, "worker": self.id}
        args = dict(job.args or {})
        spec = get_handler(job.name)
        if spec is None:
            error = (f"unknown job name {job.name!r}: no handler is registered in this worker. Register it "
                     f"with @job({job.name!r}) in omniloop.<domain>.tasks or a module listed in "
                     f"OMNILOOP_JOB_MODULES. Known jobs: {', '.join(registered_names())}")
            return self._failed(job, error, retryable=False, extra=extra)
        ctx = JobContext(job_id=job.id, name=job.name, attempt=job.attempts, worker_id=self.id,
                         session_factory=self.session_factory, stop_event=self.stop_event)
        try:
            inspect.signature(spec.fn).bind(ctx, **args)
        except TypeError as exc:
            return self._failed(job, f"arguments {sorted(args)} do not fit handler {job.name!r}: {exc}",
                                retryable=False, extra=extra)

        with self._lock:
            self._running[job.id] = _Running(job.id, job.attempts, ctx, time.monotonic())
        log.info("job %d %s started (attempt %d/%d; %s)", job.id, job.name, job.attempts, job.max_attempts,
                 describe(args), extra=extra)
        started = time.monotonic()
        try:
            result = spec.fn(ctx, **args)
            if result is not None:
                if not isinstance(result, dict):
                    raise TypeError(f"handler returned {type(result).__name__}; expected dict or None")
                json.dumps(result)
        except JobCancelled:
            status = "cancelled" if self._tx(service.mark_cancelled, **ids) else None
        except JobInterrupted as exc:
            if ctx.lease_lost:
                status = None
            else:
                status = "queued" if self._tx(service.release, **ids) else None
            log.info("job %d interrupted (%s)", job.id, exc.reason, extra=extra)
        except Exception:
            return self._failed(job, traceback.format_exc(), retryable=True, extra=extra)
        else:
            status = "succeeded" if self._tx(service.complete, result=result, **ids) else None
        finally:
            with self._lock:
                self._running.pop(job.id, None)
        self._count(job, status)
        log.info("job %d %s -> %s in %.2fs", job.id, job.name, status or "lease lost, outcome discarded",
                 time.monotonic() - started, extra=extra)
        return status

    def _failed(self, job: Job, error: str, *, retryable: bool, extra: dict) -> str | None:
        JOB_FAILURES.labels(job.name).inc()
        status = self._tx(service.fail, job_id=job.id, worker_id=self.id, attempt=job.attempts, error=error,
                          retryable=retryable)
        log.warning("job %d %s failed (attempt %d/%d) -> %s: %s", job.id, job.name, job.attempts,
                    job.max_attempts, status or "lease lost", error.strip().splitlines()[-1], extra=extra)
        self._count(job, status)
        return status

    def _count(self, job: Job, status: str | None) -> None:
        self.processed += 1
        if status in ("succeeded", "failed", "cancelled"):
            JOB_COMPLETED.labels(job.name, status).inc()


def run_worker(
    *,
    engine: Engine | None = None,
    concurrency: int = 1,
    once: bool = False,
    poll_seconds: float | None = None,
    lease_seconds: float | None = None,
) -> int:
    """Run a worker in this process until SIGTERM / SIGINT (or until drained with ``once``).

    Returns the number of jobs it handled. A second signal while stopping exits at once; the jobs still
    running are then reclaimed by other workers after their lease.
    """
    modules = load_job_modules()
    worker = Worker(engine or get_engine(), concurrency=concurrency, once=once, poll_seconds=poll_seconds,
                    lease_seconds=lease_seconds)
    log.debug("job modules: %s", ", ".join(modules))

    def on_signal(signum: int, _frame) -> None:
        if worker.stop_event.is_set():
            raise SystemExit(128 + signum)
        log.info("worker %s: %s received, stopping", worker.id, signal.Signals(signum).name)
        worker.stop_event.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        worker.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return worker.processed


def start_background_worker(engine: Engine, stop_event: threading.Event) -> threading.Thread:
    """Run one worker on a daemon thread of this process (the embedded demo); set ``stop_event`` to stop."""
    load_job_modules()
    worker = Worker(engine, stop_event=stop_event)
    thread = threading.Thread(target=worker.run, name="omniloop-worker", daemon=True)
    thread.start()
    return thread

