"""In-process publish/subscribe for things that have committed (events, trigger firings).

A ``Hooks`` hands each published batch to every subscriber, synchronously, on the publisher's thread.
Publishers call it only after their transaction committed, so subscribers never see what could still
roll back. A subscriber's exception is logged and swallowed: what was published is durable already, and
one consumer's failure must not fail the producer or starve the other consumers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Hooks(Generic[T]):
    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._subscribers: list[Callable[[list[T]], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Callable[[list[T]], None]) -> Callable[[], None]:
        """Call ``callback(batch)`` after every publish; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def has_subscribers(self) -> bool:
        return bool(self._subscribers)

    def publish(self, batch: list[T]) -> None:
        if not batch or not self._subscribers:
            return
        with self._lock:
            targets = list(self._subscribers)
        for callback in targets:
            try:
                callback(batch)
            except Exception:  # see the module docstring
                self._log.exception("subscriber failed", extra={"subscriber": getattr(callback, "__qualname__", "?")})
