"""Getting committed events to the trigger engine (事件分发), in three set-ups.

Embedded (``omniloop demo``, one process): a subscriber on ``omniloop.events.bus`` queues every committed
batch and the engine thread decides on it at once; a tail of the event table by id runs beside it (every
200 ms) to catch what the bus cannot: events accepted by other processes, or while this one was down.

Separate processes without Redis (``omniloop triggers run``): the same tail alone.

Scale-out (``omniloop triggers run --redis URL``, several processes): one of them holds a lease in Redis
and is the dispatcher — it tails the table and appends each event id to one of N streams chosen by
customer (``customer_id mod N``). Every process consumes all streams in one consumer group, acknowledges
(XACK) an entry only after its decision committed, and claims (XAUTOCLAIM) entries left pending by a
consumer that died. Delivery is at least once; the engine's unique keys make the decisions exactly once.

The tail keeps a durable cursor (``trigger_cursors``), saved in the transaction of the decisions it
covers. Event ids are drawn before the ingest transaction commits, so on PostgreSQL a smaller id can
become visible after a larger one: ids skipped over are remembered as gaps and looked for again until
``settle_seconds`` have passed, and the durable cursor never passes the oldest open gap.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from omniloop.core.db import session_factory, utcnow
from omniloop.events import bus as event_bus
from omniloop.events.models import Event
from omniloop.triggers import bus
from omniloop.triggers.engine import (
    Decisions,
    EventView,
    TriggerCache,
    get_cursor,
    process_events,
    save_cursor,
    sweep_due,
)

log = logging.getLogger("omniloop.triggers")

TAIL_CURSOR = "tail"
DISPATCH_CURSOR = "dispatch"
STREAM_PREFIX = "omniloop:triggers"
GROUP = "omniloop-triggers"
MAX_GAPS = 100_000


class EventTail:
    """New events by id, with gap tracking (see the module docstring)."""

    def __init__(self, name: str, *, settle_seconds: float = 5.0) -> None:
        self.name = name
        self.settle_seconds = settle_seconds
        self.high: int | None = None
        self.gaps: dict[int, float] = {}  # missing id -> when first missed (monotonic)
        self.done: set[int] = set()  # ids handled through the bus, skipped when the tail reads them
        self._gap_checked = 0.0

    def start(self, session: Session) -> None:
        cursor = get_cursor(session, self.name)
        if cursor is not None:
            self.high = cursor.last_event_id
        else:
            # No trigger was ever activated (activation creates the cursor): start from now.
            self.high = session.scalar(select(func.coalesce(func.max(Event.id), 0)))

    @property
    def position(self) -> int:
        """The durable cursor: every id at or below it has been handled (or given up on)."""
        assert self.high is not None
        return min(self.gaps) - 1 if self.gaps else self.high

    def mark_done(self, ids) -> None:
        assert self.high is not None
        self.done.update(i for i in ids if i > self.high)

    def poll(self, session: Session, *, limit: int = 2000) -> list[Event]:
        if self.high is None:
            self.start(session)
        rows = list(session.scalars(select(Event).where(Event.id > self.high).order_by(Event.id).limit(limit)))
        now = time.monotonic()
        if self.gaps and now - self._gap_checked >= 0.2:
            self._gap_checked = now
            late = list(session.scalars(select(Event).where(Event.id.in_(sorted(self.gaps)[:1000]))))
            for row in late:
                self.gaps.pop(row.id, None)
            rows = late + rows
        expected = self.high + 1
        for row in rows:
            if row.id > self.high:
                if row.id > expected and len(self.gaps) < MAX_GAPS:
                    for missing in range(expected, min(row.id, expected + MAX_GAPS - len(self.gaps))):
                        self.gaps[missing] = now
                self.high = row.id
                expected = row.id + 1
        for missing, since in list(self.gaps.items()):
            if now - since > self.settle_seconds:
                del self.gaps[missing]  # a rolled-back ingest: that id will never appear
        fresh = [r for r in rows if r.id not in self.done]
        self.done.difference_update(r.id for r in rows)
        return fresh


class TriggerRunner:
    """Runs the engine in one process: decisions, the deadline sweep, and (optionally) Redis streams."""

    def __init__(self, engine: Engine, *, poll_seconds: float = 0.2, settle_seconds: float = 5.0,
                 redis_url: str | None = None, consumer: str | None = None, partitions: int = 8,
                 claim_idle_seconds: float = 10.0, stream_prefix: str = STREAM_PREFIX,
                 stop_event: threading.Event | None = None, now: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.session_factory = session_factory(engine)
        self.poll_seconds = poll_seconds
        self.stop_event = stop_event or threading.Event()
        self.cache = TriggerCache(ttl=min(1.0, poll_seconds * 5))
        self.now = now
        self.tail = EventTail(DISPATCH_CURSOR if redis_url else TAIL_CURSOR, settle_seconds=settle_seconds)
        self.redis_url = redis_url
        self.consumer = consumer or f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(2)}"
        self.partitions = partitions
        self.claim_idle_ms = int(claim_idle_seconds * 1000)
        self.prefix = stream_prefix
        self._queue: queue.Queue[list] = queue.Queue()
        self._wake = threading.Event()
        self._redis = None
        self._last_sweep = 0.0
        self._last_claim = 0.0
        self._saved_position: int | None = None
        self.processed = 0
        self.fired = 0

    # ---- deciding ------------------------------------------------------------------------------------

    def decide(self, events: list[EventView], *, cursor: tuple[str, int] | None = None,
               consumer: str | None = None) -> list[bus.Fired]:
        """Evaluate events in one transaction (moving ``cursor`` with it), then publish the firings."""
        for attempt in range(3):
            try:
                with self.session_factory() as session:
                    triggers = self.cache.get(session)
                    decisions = process_events(session, triggers, events, now=self.now(), worker=consumer)
                    if cursor is not None:
                        save_cursor(session, cursor[0], last_event_id=cursor[1], now=self.now())
                    session.commit()
                break
            except Exception:
                if attempt == 2:
                    raise
                log.warning("trigger decision failed, retrying", exc_info=True)
                time.sleep(0.2 * (attempt + 1))
        self.processed += len(events)
        self._published(decisions)
        return decisions.fired

    def _published(self, decisions: Decisions) -> None:
        if decisions.fired:
            self.fired += len(decisions.fired)
            bus.publish(decisions.fired)

    def sweep(self) -> int:
        with self.session_factory() as session:
            decisions = sweep_due(session, self.cache.get(session), now=self.now())
            session.commit()
        self._published(decisions)
        return len(decisions.fired)

    def _maybe_sweep(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep >= self.poll_seconds:
            self._last_sweep = now
            try:
                self.sweep()
            except Exception:
                log.exception("deadline sweep failed")

    # ---- embedded: bus + tail ------------------------------------------------------------------------

    def _on_bus(self, events: list[event_bus.CommittedEvent]) -> None:
        self._queue.put(events)
        self._wake.set()

    def tail_once(self) -> int:
        with self.session_factory() as session:
            rows = self.tail.poll(session)
            views = [EventView.of(r) for r in rows]
            session.rollback()
        position = self.tail.position
        if views or position != self._saved_position:
            self.decide(views, cursor=(self.tail.name, position))
            self._saved_position = position
        return len(views)

    def _drain_bus(self) -> None:
        batch: list[EventView] = []
        while True:
            try:
                batch += [EventView.of(e) for e in self._queue.get_nowait()]
            except queue.Empty:
                break
        if batch:
            self.decide(batch)
            self.tail.mark_done(e.id for e in batch)

    def run_embedded(self, *, use_bus: bool = True) -> None:
        """Decide on bus events at once and tail the table every ``poll_seconds`` until stopped."""
        unsubscribe = event_bus.subscribe(self._on_bus) if use_bus else None
        log.info("trigger engine started (%s)", "bus + table tail" if use_bus else "table tail")
        try:
            with self.session_factory() as session:
                self.tail.start(session)
            last_tail = 0.0
            while not self.stop_event.is_set():
                try:
                    self._drain_bus()
                    if time.monotonic() - last_tail >= self.poll_seconds:
                        last_tail = time.monotonic()
                        while self.tail_once() >= 2000 and not self.stop_event.is_set():
                            pass
                    self._maybe_sweep()
                except Exception:
                    log.exception("trigger engine round failed")
                    self.stop_event.wait(1.0)
                self._wake.wait(self.poll_seconds / 2)
                self._wake.clear()
        finally:
            if unsubscribe:
                unsubscribe()
            log.info("trigger engine stopped: %d event(s), %d firing(s)", self.processed, self.fired)

    # ---- scale-out: Redis Streams --------------------------------------------------------------------

    @property
    def redis(self):
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(self.redis_url, socket_timeout=10, socket_connect_timeout=5)
        return self._redis

    def streams(self) -> list[str]:
        return [f"{self.prefix}:p{n}" for n in range(self.partitions)]

    def ensure_group(self) -> None:
        import redis

        for stream in self.streams():
            try:
                self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def _lead(self, ttl_ms: int = 5000) -> bool:
        """Hold (or take) the dispatcher lease; True while this process is the dispatcher."""
        key = f"{self.prefix}:dispatcher"
        me = self.consumer.encode()
        if self.redis.set(key, me, nx=True, px=ttl_ms):
            return True
        # Renew only our own lease (compare-and-set in one Lua call).
        renewed = self.redis.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end "
            "return 0", 1, key, me, ttl_ms)
        return bool(renewed)

    def dispatch_once(self) -> int:
        """Tail the table and append each new event to its customer's stream; then save the cursor."""
        with self.session_factory() as session:
            rows = [(r.id, r.customer_id, r.day) for r in self.tail.poll(session)]
            session.rollback()
        pipe = self.redis.pipeline(transaction=False)
        sent = 0
        for event_id, customer_id, day in rows:
            if customer_id is None:
                continue
            stream = f"{self.prefix}:p{customer_id % self.partitions}"
            pipe.xadd(stream, {"id": event_id, "day": day.isoformat()}, maxlen=1_000_000, approximate=True)
            sent += 1
        if sent:
            pipe.execute()
        if self.tail.position != self._saved_position:
            with self.session_factory() as session:
                save_cursor(session, self.tail.name, last_event_id=self.tail.position, now=self.now())
                session.commit()
            self._saved_position = self.tail.position
        return sent

    def _load(self, entries: list[tuple[str, bytes, dict]]) -> list[EventView]:
        ids = {int(fields[b"id"]) for _s, _id, fields in entries if fields and b"id" in fields}
        days = {fields[b"day"].decode() for _s, _id, fields in entries if fields and b"day" in fields}
        if not ids:
            return []
        with self.session_factory() as session:
            stmt = select(Event).where(Event.id.in_(ids))
            if days:
                stmt = stmt.where(Event.day.in_([datetime.fromisoformat(d).date() for d in days]))
            views = [EventView.of(r) for r in session.scalars(stmt)]
            session.rollback()
        return views

    def _handle_entries(self, entries: list[tuple[str, bytes, dict]]) -> None:
        if not entries:
            return
        self.decide(self._load(entries), consumer=self.consumer)
        by_stream: dict[str, list[bytes]] = {}
        for stream, entry_id, _fields in entries:
            by_stream.setdefault(stream, []).append(entry_id)
        pipe = self.redis.pipeline(transaction=False)
        for stream, entry_ids in by_stream.items():
            pipe.xack(stream, GROUP, *entry_ids)
        pipe.execute()

    def consume_once(self, *, block_ms: int = 100, count: int = 500) -> int:
        """Read new entries of every partition for this consumer, decide, acknowledge."""
        reply = self.redis.xreadgroup(GROUP, self.consumer, dict.fromkeys(self.streams(), ">"), count=count,
                                      block=block_ms)
        entries = [(s.decode() if isinstance(s, bytes) else s, entry_id, fields)
                   for s, messages in (reply or []) for entry_id, fields in messages]
        self._handle_entries(entries)
        return len(entries)

    def claim_once(self, *, count: int = 500) -> int:
        """Take over entries another consumer read but never acknowledged for ``claim_idle_seconds``."""
        entries = []
        for stream in self.streams():
            _next, messages, *_ = self.redis.xautoclaim(stream, GROUP, self.consumer, min_idle_time=self.claim_idle_ms,
                                                        start_id="0-0", count=count)
            entries += [(stream, entry_id, fields) for entry_id, fields in messages if fields]
        if entries:
            log.info("consumer %s claimed %d stale entries", self.consumer, len(entries))
        self._handle_entries(entries)
        return len(entries)

    def run_redis(self) -> None:
        self.ensure_group()
        log.info("trigger worker %s consuming %d partitions", self.consumer, self.partitions)
        leading = False
        last_dispatch = 0.0
        try:
            while not self.stop_event.is_set():
                try:
                    now = time.monotonic()
                    if now - last_dispatch >= self.poll_seconds / 2:
                        last_dispatch = now
                        was = leading
                        leading = self._lead()
                        if leading and not was:
                            with self.session_factory() as session:
                                self.tail.start(session)  # take over from the durable cursor
                            log.info("trigger worker %s is the dispatcher", self.consumer)
                        if leading:
                            self.dispatch_once()
                    self.consume_once(block_ms=int(self.poll_seconds * 500))
                    if now - self._last_claim >= max(1.0, self.claim_idle_ms / 2000):
                        self._last_claim = now
                        self.claim_once()
                    self._maybe_sweep()
                except Exception:
                    log.exception("trigger worker round failed")
                    self.stop_event.wait(1.0)
        finally:
            if leading:
                try:
                    self.redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
                                    "end return 0", 1, f"{self.prefix}:dispatcher", self.consumer.encode())
                except Exception:
                    pass
            log.info("trigger worker %s stopped: %d event(s), %d firing(s)", self.consumer, self.processed,
                     self.fired)

    def run(self) -> None:
        if self.redis_url:
            self.run_redis()
        else:
            self.run_embedded(use_bus=False)


def start_embedded(engine: Engine, stop_event: threading.Event) -> threading.Thread:
    """The embedded default: the engine on a daemon thread of this process, fed by the event bus."""
    runner = TriggerRunner(engine, stop_event=stop_event)
    thread = threading.Thread(target=runner.run_embedded, name="omniloop-triggers", daemon=True)
    thread.start()
    return thread
