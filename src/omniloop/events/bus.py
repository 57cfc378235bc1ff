"""In-process event bus (事件总线): committed events handed to subscribers in the same process.

``publish`` is called by ingestion after its transaction has committed, with the events just stored, so
a subscriber (the real-time trigger engine) never sees an event that could still roll back. Subscribers
run synchronously in the request's thread: keep them quick (queue work, do not do it). A subscriber's
exception is logged and swallowed; it never fails ingestion, whose events are durable already.

Consumers in other processes do not use this: they tail the ``events`` table by ``id`` (see
``omniloop.events.service.tail``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

log = logging.getLogger("omniloop.events")


@dataclass(frozen=True, slots=True)
class CommittedEvent:
    id: int
    source_id: int
    message_id: str
    type: str
    name: str | None
    customer_id: int | None
    user_id: str | None
    anonymous_id: str | None
    ts: datetime
    received_at: datetime
    properties: dict | None


Subscriber = Callable[[list[CommittedEvent]], None]

_subscribers: list[Subscriber] = []
_lock = threading.Lock()


def subscribe(callback: Subscriber) -> Callable[[], None]:
    """Call ``callback(events)`` after every committed ingest; returns a function that unsubscribes."""
    with _lock:
        _subscribers.append(callback)

    def unsubscribe() -> None:
        with _lock:
            if callback in _subscribers:
                _subscribers.remove(callback)

    return unsubscribe


def has_subscribers() -> bool:
    return bool(_subscribers)


def publish(events: list[CommittedEvent]) -> None:
    if not events or not _subscribers:
        return
    with _lock:
        targets = list(_subscribers)
    for callback in targets:
        try:
            callback(events)
        except Exception:  # a subscriber's failure must not fail ingestion
            log.exception("event subscriber failed", extra={"subscriber": getattr(callback, "__qualname__", "?")})
