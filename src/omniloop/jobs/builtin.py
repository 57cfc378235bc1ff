"""Built-in jobs (内置作业) for operations checks: is a worker alive and does it report progress?

``system.noop`` finishes at once; ``system.sleep`` waits in steps, reporting progress and honouring
cancel at each step. Both have no effects, so running them twice is harmless.
"""

from __future__ import annotations

import time

from omniloop.jobs.registry import JobContext, job


@job("system.noop")
def noop(ctx: JobContext, **args) -> dict:
    """Echo the arguments back: proves the whole enqueue → claim → run → complete path."""
    return {"echo": args, "attempt": ctx.attempt}


@job("system.sleep")
def sleep(ctx: JobContext, seconds: float = 1.0, steps: int = 10) -> dict:
    """Sleep ``seconds`` in ``steps`` parts, reporting progress after each part."""
    if seconds < 0 or steps < 1:
        raise ValueError("seconds must be >= 0 and steps >= 1")
    for step in range(1, steps + 1):
        time.sleep(seconds / steps)
        ctx.progress(step / steps, f"{step}/{steps}")
    return {"slept_seconds": seconds}
