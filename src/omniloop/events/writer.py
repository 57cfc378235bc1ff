"""The ingest writer (组提交): one thread a process that writes the /v1 requests waiting at that moment
in one transaction.

A request hands its validated messages to ``IngestWriter.submit`` and awaits the returned future, which
completes only after the transaction holding its events has committed (durability is unchanged: the
answer still follows the commit). While one group commits, the next requests queue up and become the
next group, so under load one commit (and on SQLite one fsync and one write lock, instead of eight
threads taking turns at it) serves many requests.

A group that fails is retried request by request in separate transactions, so a bad request fails alone.
On PostgreSQL a few writer threads share the queue, so the database works on one group while Python
prepares the next; SQLite has one writer at a time anyway. An idle writer thread ends after a few seconds
and is started again by the next request.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from omniloop.core.errors import OmniloopError
from omniloop.events import service
from omniloop.events.messages import Message

log = logging.getLogger("omniloop.events")

MAX_GROUP_MESSAGES = 5_000  # one transaction's worth: bounds the latency of the requests in it
IDLE_SECONDS = 5.0
POSTGRES_WRITERS = 3


@dataclass(slots=True)
class _Request:
    write_key: str | None
    messages: list[Message]
    future: Future = field(default_factory=Future)


class IngestWriter:
    def __init__(self, session_factory: sessionmaker[Session], engine: Engine) -> None:
        self._session_factory = session_factory
        self._engine = engine
        self._queue: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running = 0
        self._max_threads = 1 if engine.dialect.name == "sqlite" else POSTGRES_WRITERS

    def submit(self, write_key: str | None, messages: list[Message]) -> Future:
        """Queue one request's messages; the future's result is its ``IngestResult`` after the commit."""
        request = _Request(write_key, messages)
        with self._lock:
            self._queue.put(request)
            if self._running < self._max_threads:
                self._running += 1
                threading.Thread(target=self._run, name="omniloop-ingest-writer", daemon=True).start()
        return request.future

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:  # submit puts under the lock, so no request is left behind
                    if self._queue.empty():
                        self._running -= 1
                        return
                continue
            group, size = [], 0
            request = first
            while True:
                # A request whose client went away before we took it is dropped; once taken it can no
                # longer be cancelled, so its result is always set.
                if request.future.set_running_or_notify_cancel():
                    group.append(request)
                    size += len(request.messages)
                if size >= MAX_GROUP_MESSAGES:
                    break
                try:
                    request = self._queue.get_nowait()
                except queue.Empty:
                    break
            if not group:
                continue
            try:
                self._write(group)
            except BaseException as exc:  # never leave a request waiting
                log.exception("ingest writer failed")
                for request in group:
                    if not request.future.done():
                        request.future.set_exception(exc)

    def _write(self, group: list[_Request]) -> None:
        with self._session_factory() as session:
            accepted: list[tuple[_Request, service.SourceInfo]] = []
            sources: dict[str | None, service.SourceInfo | OmniloopError] = {}
            for request in group:
                if request.write_key not in sources:  # a group usually holds one source's requests
                    try:
                        sources[request.write_key] = service.authenticate(session, write_key=request.write_key)
                    except OmniloopError as exc:
                        sources[request.write_key] = exc
                source = sources[request.write_key]
                if isinstance(source, OmniloopError):
                    request.future.set_exception(source)
                else:
                    accepted.append((request, source))
            session.rollback()
            if not accepted:
                return
            try:
                results = service.ingest_group(session, [(source, r.messages) for r, source in accepted],
                                               engine=self._engine)
            except Exception:
                if len(accepted) == 1:
                    raise
                log.warning("ingest group failed; retrying its requests one by one", exc_info=True)
            else:
                for (request, _), result in zip(accepted, results, strict=True):
                    request.future.set_result(result)
                return
        for request, source in accepted:
            try:
                with self._session_factory() as session:
                    result = service.ingest(session, source=source, messages=request.messages, engine=self._engine)
            except Exception as exc:
                request.future.set_exception(exc)
            else:
                request.future.set_result(result)
