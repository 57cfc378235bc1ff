"""In-process firing bus (触发总线): firings handed to subscribers after the transaction that recorded them
committed. Campaigns in event-triggered mode and journeys subscribe here in the same process; elsewhere
they page through ``service.firings_after(trigger_id, after_id)``, which returns the same firings by id.

Subscribers run synchronously on the trigger engine's thread: keep them quick. A failing subscriber is
logged and never undoes a firing, which is durable already.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

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
_subscribers: list[Subscriber] = []
_lock = threading.Lock()


def subscribe(callback: Subscriber) -> Callable[[], None]:
    """Call ``callback(firings)`` after every committed batch of firings; returns the unsubscribe function."""
    with _lock:
        _subscribers.append(callback)

    def unsubscribe() -> None:
        with _lock:
            if callback in _subscribers:
                _subscribers.remove(callback)

    return unsubscribe


def publish(firings: list[Fired]) -> None:
    if not firings:
        return
    with _lock:
        targets = list(_subscribers)
    for callback in targets:
        try:
            callback(firings)
        except Exception:
            log.exception("firing subscriber failed")
