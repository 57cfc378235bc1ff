"""In-process firing bus (触发总线): firings handed to subscribers after the transaction that recorded them
committed. Campaigns in event-triggered mode and journeys subscribe here in the same process; elsewhere
they page through ``service.firings_after(trigger_id, after_id)``, which returns the same firings by id.

Subscribers run synchronously on the trigger engine's thread: keep them quick. A failing subscriber is
logged and never undoes a firing, which is durable already.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from omniloop.core.hooks import Hooks

log = logging.getLogger("omniloop.triggers")


@dataclass(frozen=True, slots=True)
class Fired:
    firing_id: int
    trigger_id: int
    customer_id: int
    occurrence_key: str
    event_ids: tuple[int, ...]
    accepted_at: datetime | None
    fired_at: datetime


Subscriber = Callable[[list[Fired]], None]

_hooks: Hooks[Fired] = Hooks(log)
subscribe = _hooks.subscribe  # subscribe(callback) -> unsubscribe
publish = _hooks.publish
