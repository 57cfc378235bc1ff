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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from omniloop.core.hooks import Hooks

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

_hooks: Hooks[CommittedEvent] = Hooks(log)
subscribe = _hooks.subscribe  # subscribe(callback) -> unsubscribe
has_subscribers = _hooks.has_subscribers
publish = _hooks.publish
