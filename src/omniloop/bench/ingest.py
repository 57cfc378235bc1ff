"""Event ingestion benchmark (事件接入基准): sustained accepted events/s through ``/v1/batch``.

A real server (uvicorn with ``server_workers`` processes, the production entry point) on a fresh
database holding the demo bank's customers; ``clients`` threads each keep one HTTP connection and send
batches of ``batch`` track events (user ids are customer numbers, every message id unique), waiting for
each answer — which comes only after the events are committed — before sending the next. Every row is
counted afterwards.

Reference: the same rows inserted straight into the database by the store's bulk path (COPY on
PostgreSQL, ``executemany`` on SQLite) in 10 000-row transactions, with no HTTP, parsing or identity
lookups. The ratio is HTTP events/s over reference events/s.

SQLite by default (under a temporary home); PostgreSQL when ``OMNILOOP_BENCH_DATABASE_URL`` is set (its
events tables are emptied first).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, text

BENCH_DB_ENV = "OMNILOOP_BENCH_DATABASE_URL"
WRITE_KEY = "bench-ingest-write-key"
_EVENTS = ["登录", "转账", "浏览理财", "绑卡开始", "绑卡完成", "购买理财"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bodies(count: int, batch: int, numbers: list[str], seed: int) -> list[bytes]:
    rng = random.Random(seed)
    base = datetime.now(UTC) - timedelta(hours=1)
    bodies = []
    for b in range(0, count, batch):
        messages = []
        for i in range(b, min(b + batch, count)):
            messages.append({
                "type": "track", "userId": rng.choice(numbers), "event": rng.choice(_EVENTS),
                "messageId": f"bench-{seed}-{i}", "timestamp": (base + timedelta(milliseconds=i)).isoformat(),
                "properties": {"amount_fen": rng.randint(100, 10_000_000), "channel": "手机银行",
                               "flow_id": f"f{i // 3}"},
                "context": {"app": {"version": "8.3.1"}, "os": {"name": "Android"}},
            })
        bodies.append(json.dumps({"batch": messages, "sentAt": datetime.now(UTC).isoformat()},
                                 ensure_ascii=False).encode())
    return bodies


def _prepare(url: str, customers: int, seed: int) -> list[str]:
    from omniloop.core.audit import SYSTEM
    from omniloop.core.db import make_engine, session_factory
    from omniloop.core.migrate import upgrade
    from omniloop.customers.models import Customer
    from omniloop.demo.seed import seed_demo
    from omniloop.events import service
    from omniloop.events.schemas import EventSourceCreate

    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as session:
        seed_demo(session, customers=customers, seed=seed)
        if session.scalar(select(service.EventSource.id).where(
                service.EventSource.key_hash == service.key_digest(WRITE_KEY))) is None:
            service.create_source(session=session, data=EventSourceCreate(name="bench", kind="app"), actor=SYSTEM,
                                  root=session.scalar(select(service.Org).where(service.Org.parent_id.is_(None))),
                                  write_key=WRITE_KEY)
        session.commit()
        numbers = list(session.scalars(select(Customer.customer_no)))
    _empty(engine)
    engine.dispose()
    return numbers


def _empty(engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE events, event_message_ids"))
        else:
            conn.execute(text("DELETE FROM events"))
            conn.execute(text("DELETE FROM event_message_ids"))


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM events")).scalar()


def _reference(url: str, bodies: list[bytes]) -> dict:
    """The same rows, parsed outside the timing, inserted straight through the store's bulk path."""
    from omniloop.core.db import make_engine
    from omniloop.customers.models import Customer
    from omniloop.events import messages, store

    engine = make_engine(url)
    with engine.connect() as conn:
        ids = dict(conn.execute(select(Customer.customer_no, Customer.id)).all())
    now = datetime.now(UTC)
    rows = []
    next_id = 1
    for body in bodies:
        data = json.loads(body)
        for m in messages.parse_messages(data, body_bytes=len(body), received_at=now, type_=None):
            rows.append((next_id, m.day, 1, m.message_id, m.type, m.name, m.anonymous_id, m.user_id,
                         ids.get(m.user_id), m.ts, m.sent_at, m.received_at, m.original_timestamp,
                         store.dumps(m.properties), store.dumps(m.context)))
            next_id += 1
    store.ensure_partitions(engine, {r[1] for r in rows})
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            start = conn.execute(text("SELECT nextval('events_id_seq')")).scalar()
        rows = [(start + i, *r[1:]) for i, r in enumerate(rows)]
    started = time.perf_counter()
    for i in range(0, len(rows), 10_000):
        with engine.begin() as conn:
            store.insert_rows(conn, rows[i:i + 10_000])
    seconds = time.perf_counter() - started
    stored = _count(engine)
    _empty(engine)
    engine.dispose()
    return {"events": stored, "seconds": round(seconds, 3), "events_per_s": round(stored / seconds)}


def _serve(url: str, home: Path, workers: int) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    env = {**os.environ, "OMNILOOP_DATABASE_URL": url, "OMNILOOP_HOME": str(home), "OMNILOOP_LOG_LEVEL": "WARNING",
           "OMNILOOP_WEB_DIST": str(home / "no-console")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "omniloop.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 240  # a loaded machine imports slowly
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server did not start: {proc.stderr.read().decode(errors='replace')[-2000:]}")
        time.sleep(0.2)


def _send(port: int, bodies: list[bytes], clients: int) -> dict:
    auth = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": auth}
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    queue = list(range(len(bodies)))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                index = queue.pop()
            started = time.perf_counter()
            conn.request("POST", "/v1/batch", body=bodies[index], headers=headers)
            response = conn.getresponse()
            payload = response.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if response.status != 200:
                    failures.append(f"{response.status} {payload[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    latencies.sort()
    return {"seconds": round(seconds, 3), "failures": failures[:5], "failed": len(failures),
            "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 2)}


def run(events: int = 200_000, *, clients: int = 8, batch: int = 100, server_workers: int | None = None,
        customers: int = 20_000, seed: int = 42, json_path: Path | str | None = None,
        log: Callable[[str], None] = print) -> dict:
    """Run the benchmark; write the result to ``json_path`` (if given) and return it."""
    with tempfile.TemporaryDirectory(prefix="omniloop-bench-ingest-") as tmp:
        home = Path(tmp)
        url = os.environ.get(BENCH_DB_ENV) or f"sqlite:///{home / 'bench.db'}"
        database = "postgresql" if url.startswith("postgresql") else "sqlite"
        # SQLite has one writer at a time: a second server process only adds lock waits.
        server_workers = server_workers or (1 if database == "sqlite" else os.cpu_count() or 2)
        log(f"preparing {database} with {customers:,} demo customers")
        numbers = _prepare(url, customers, seed)
        bodies = _bodies(events, batch, numbers, seed)
        log(f"reference: bulk insert of {events:,} rows")
        reference = _reference(url, bodies)
        log(f"HTTP: {len(bodies):,} batches of {batch} from {clients} clients, {server_workers} server processes")
        proc, port = _serve(url, home, server_workers)
        try:
            sent = _send(port, bodies, clients)
        finally:
            proc.terminate()
            proc.wait(30)
        from omniloop.core.db import make_engine

        engine = make_engine(url)
        stored = _count(engine)
        engine.dispose()
        if sent["failed"] or stored != events:
            raise RuntimeError(f"ingestion lost events: stored {stored} of {events}; failures {sent['failures']}")
        http_result = {**sent, "events": stored, "events_per_s": round(stored / sent["seconds"])}
    result = {
        "name": "ingest",
        "params": {"events": events, "clients": clients, "batch": batch, "server_workers": server_workers,
                   "customers": customers, "seed": seed, "database": database, "cpus": os.cpu_count(),
                   "python": platform.python_version(), "durable": "the answer follows the commit"},
        "results": {"http_batch": http_result, "bulk_insert": reference},
        "reference": "bulk_insert",
        "ratio": round(http_result["events_per_s"] / reference["events_per_s"], 3),
    }
    if json_path is not None:
        Path(json_path).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return result
