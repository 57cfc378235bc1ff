"""Job handlers (作业处理函数): the ``@job`` registry and the context a handler runs with.

A handler is a plain function ``fn(ctx: JobContext, **args) -> dict | None`` registered under a dotted
name (``tags.run``). The worker looks handlers up here by the name stored on the job row.

Handlers must be safe to run twice. A worker that dies (or loses its lease) mid-job leaves the job to be
claimed again after the lease expires, so a job may run more than once and may stop at any point. Write
effects so that a second run finds them done: upsert rather than insert, key sends by job or business id,
and check state before acting.

Where handlers come from: this module always loads ``omniloop.jobs.builtin``; ``load_job_modules`` also
imports every ``omniloop.<domain>.tasks`` module and the comma-separated modules named in the
``OMNILOOP_JOB_MODULES`` environment variable (tests and plug-ins register jobs that way).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

JOB_MODULES_ENV = "OMNILOOP_JOB_MODULES"

Handler = Callable[..., dict | None]


class JobCancelled(Exception):
    """Raised from ``JobContext.progress`` when someone asked to cancel the running job."""


class JobInterrupted(Exception):
    """Raised from ``JobContext.progress`` when the job should stop without finishing.

    Either the worker is shutting down (the job goes back to the queue) or the worker lost the job's
    lease to another worker (the other worker now owns it); in both cases the handler must not carry on.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class JobSpec:
    name: str
    fn: Handler


_REGISTRY: dict[str, JobSpec] = {}


def job(name: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler for jobs called ``name`` (dotted, e.g. ``tags.run``)."""
    if not name or name.strip() != name or len(name) > 100:
        raise ValueError(f"invalid job name {name!r}")

    def register(fn: Handler) -> Handler:
        existing = _REGISTRY.get(name)
        # Re-importing the same module (tests, reloads) re-registers the same function; a different
        # function under a taken name is a programming error that would silently reroute jobs.
        if existing is not None and _qualified(existing.fn) != _qualified(fn):
            raise ValueError(f"job {name!r} is already registered by {_qualified(existing.fn)}")
        _REGISTRY[name] = JobSpec(name=name, fn=fn)
        return fn

    return register


def _qualified(fn: Callable) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def get_handler(name: str) -> JobSpec | None:
    return _REGISTRY.get(name)


def registered_names() -> list[str]:
    return sorted(_REGISTRY)


def load_job_modules(extra: Iterable[str] = ()) -> list[str]:
    """Import every module that registers jobs; returns the module names imported.

    Called once when a worker starts. Domain packages register their jobs in ``tasks.py``, so a new
    domain's jobs are found without editing this list.
    """
    import omniloop

    modules = ["omniloop.jobs.builtin"]
    for info in pkgutil.iter_modules(omniloop.__path__):
        if info.ispkg and importlib.util.find_spec(f"omniloop.{info.name}.tasks") is not None:
            modules.append(f"omniloop.{info.name}.tasks")
    modules += [m.strip() for m in os.environ.get(JOB_MODULES_ENV, "").split(",") if m.strip()]
    modules += list(extra)
    for module in modules:
        importlib.import_module(module)
    return modules


@dataclass
class JobContext:
    """What a handler gets besides its arguments.

    ``session_factory`` opens sessions on the worker's database: a handler opens (and commits) its own,
    so that a long job never holds one transaction open for its whole run.
    """

    job_id: int
    name: str
    attempt: int
    worker_id: str
    session_factory: sessionmaker[Session]
    stop_event: threading.Event = field(default_factory=threading.Event)
    # Set by the worker's lease renewal, so a handler learns of a cancel or a lost lease at its next
    # progress call even between its own writes.
    cancel_requested: bool = False
    lease_lost: bool = False

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Record progress (0..1) and a heartbeat; raise if the job must stop here.

        Raises ``JobCancelled`` if cancel was requested, ``JobInterrupted`` if the worker is stopping or
        no longer owns the job. Call it at chunk boundaries, where stopping leaves consistent data.
        """
        from omniloop.jobs import service

        with self.session_factory() as session:
            state = service.report_progress(
                session, job_id=self.job_id, worker_id=self.worker_id, attempt=self.attempt,
                fraction=fraction, message=message,
            )
            session.commit()
        self.cancel_requested = self.cancel_requested or state.cancel_requested
        self.lease_lost = self.lease_lost or not state.owned
        self.check()

    def check(self) -> None:
        """Raise if the job must stop, without writing anything (for tight loops between progress calls)."""
        if self.lease_lost:
            raise JobInterrupted("lease lost")
        if self.cancel_requested:
            raise JobCancelled(f"job {self.job_id} cancelled")
        if self.stop_event.is_set():
            raise JobInterrupted("worker stopping")


def describe(args: dict[str, Any]) -> str:
    """Short one-line rendering of job arguments for logs (never the full payload)."""
    text = ", ".join(f"{k}={v!r}" for k, v in args.items())
    return text if len(text) <= 200 else text[:197] + "..."


# The built-in jobs are always available wherever the registry is, so ops checks work on any worker.
from omniloop.jobs import builtin as _builtin  # noqa: E402,F401
