"""Jobs used by the job-system tests; worker subprocesses load them through OMNILOOP_JOB_MODULES."""

from __future__ import annotations

import os
import time

from omniloop.jobs.registry import JobContext, job


def _append(path: str, line: str) -> None:
    # One O_APPEND write per line, so lines from concurrent processes never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@job("sample.record")
def record(ctx: JobContext, log: str, sleep: float = 0.0) -> dict:
    """Log "job_id pid attempt" once per run, so a test can count how often each job ran and where."""
    time.sleep(sleep)
    _append(log, f"{ctx.job_id} {os.getpid()} {ctx.attempt}")
    return {"pid": os.getpid()}


@job("sample.slow_once")
def slow_once(ctx: JobContext, log: str, seconds: float) -> dict:
    """Slow on the first attempt (time to kill its worker), quick on later ones."""
    _append(log, f"start {ctx.job_id} {ctx.attempt} {os.getpid()}")
    if ctx.attempt == 1:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.1)
            ctx.progress(0.1, "first attempt, slow")
    _append(log, f"end {ctx.job_id} {ctx.attempt} {os.getpid()}")
    return {"attempt": ctx.attempt}


@job("sample.flaky")
def flaky(ctx: JobContext, fail_times: int) -> dict:
    """Fails on its first ``fail_times`` attempts."""
    if ctx.attempt <= fail_times:
        raise RuntimeError(f"flaky failure on attempt {ctx.attempt}")
    return {"attempt": ctx.attempt}


@job("sample.until_cancelled")
def until_cancelled(ctx: JobContext, seconds: float = 10.0) -> dict:
    """Reports progress every 50 ms until cancelled (or ``seconds`` pass)."""
    deadline = time.monotonic() + seconds
    step = 0
    while time.monotonic() < deadline:
        step += 1
        ctx.progress(min(0.99, step / 100), f"step {step}")
        time.sleep(0.05)
    return {"steps": step}
