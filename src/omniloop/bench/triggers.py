"""Trigger latency benchmark (触发时延基准): acceptance → firing under ingest load, for a breakpoint trigger
(and an event trigger beside it).

Several clients send batches through the real ``/v1/batch`` HTTP API (uvicorn on a free port) while the
trigger engine runs as in the embedded default (bus + table tail in the same process), or as a table
tail only (``--mode tail``), or as Redis Streams consumers (``--mode redis --redis URL``). Each client
starts bind-card flows (``点击绑卡`` with a ``flow_id``), finishes about half of them (``绑卡完成``) a little
later, and mixes in logins and wealth purchases. The breakpoint is "点击绑卡 with no 绑卡完成 of the same
flow within T seconds"; the event trigger is "理财购买 with amount_fen ≥ 5 万元".

Latency is ``fired_at − accepted_at`` of each firing: for the event trigger the acceptance of the causing
event (when its request arrived, so the ingest commit is included), for the breakpoint the later of its
deadline and the acceptance of A (the earliest moment a decision was possible; the engine's 250 ms grace
for a B still committing is included). The ingest requests' own latency is reported beside it. Reference: after the run, the same decisions are computed by one batch SQL query
over the stored events; ``ratio`` is the share of reference decisions the real-time engine made (1.0 =
identical), and the run reports the decisions either side missed.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import platform
import random
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, insert, select, text

BENCH_DB_ENV = "OMNILOOP_BENCH_DATABASE_URL"
WRITE_KEY = "bench-trigger-write-key"
A, B = "点击绑卡", "绑卡完成"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 1)


def _setup(engine: Engine, customers: int, within_seconds: int) -> tuple[list[str], dict[str, int]]:
    from omniloop.core.audit import SYSTEM
    from omniloop.core.db import session_factory, utcnow
    from omniloop.customers.models import Customer
    from omniloop.events import service as event_service
    from omniloop.events.schemas import EventSourceCreate
    from omniloop.org.models import Org
    from omniloop.triggers import definitions as defs
    from omniloop.triggers import service
    from omniloop.triggers.models import Trigger

    with session_factory(engine)() as session:
        head = Org(code="BENCH", name="基准测试总行", name_en="Bench HO", level="head_office", path="")
        session.add(head)
        session.flush()
        head.path = f"/{head.id}/"
        now = utcnow()
        numbers = [f"B{n:09d}" for n in range(customers)]
        session.execute(insert(Customer), [{"customer_no": no, "org_id": head.id, "name": "测试客户", "segment": "retail",
                                            "deposit_fen": 0, "wealth_fen": 0, "fund_fen": 0, "insurance_fen": 0,
                                            "loan_fen": 0, "has_credit_card": False, "credit_card_activated": False,
                                            "aum_fen": 0, "app_logins_month": 0, "payroll_flag": False,
                                            "created_at": now, "updated_at": now} for no in numbers])
        event_service.create_source(session=session, data=EventSourceCreate(name="基准", kind="app", org_id=head.id),
                                    actor=SYSTEM, root=None, write_key=WRITE_KEY)
        ids = {}
        for name, kind, definition in (
            ("绑卡断点", "breakpoint", {"event": A, "then_event": B, "within_seconds": within_seconds,
                                      "match_key": "flow_id"}),
            ("大额理财", "event", {"event": "理财购买", "filters": [
                {"property": "amount_fen", "op": "gte", "value": 5_000_000, "type": "number"}]}),
        ):
            trigger = Trigger(name=name, kind=kind, definition=defs.to_json(defs.parse(kind, definition)),
                              status="active", owner_org_id=head.id, version=1, active_since=now,
                              created_at=now, updated_at=now)
            session.add(trigger)
            session.flush()
            ids[kind] = trigger.id
        service.ensure_runtime(session, now=now)
        session.commit()
    return numbers, ids


def _client(url: str, numbers: list[str], *, seconds: float, batch: int, pause: float, seed: int,
            counts: dict[str, int], lock: threading.Lock) -> None:
    rng = random.Random(seed)
    auth = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    pending: list[tuple[str, str]] = []
    request_ms: list[float] = []
    seq = itertools.count()
    sent = 0
    with httpx.Client(base_url=url, headers={"Authorization": auth}, timeout=60) as http:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            messages = []
            for customer, flow in pending:
                if rng.random() < 0.5:
                    messages.append({"type": "track", "userId": customer, "event": B, "properties": {"flow_id": flow},
                                     "messageId": f"{seed}-{next(seq)}"})
            pending = []
            while len(messages) < batch:
                customer = rng.choice(numbers)
                roll = rng.random()
                if roll < 0.3:
                    flow = f"{seed}-f{next(seq)}"
                    pending.append((customer, flow))
                    messages.append({"type": "track", "userId": customer, "event": A, "properties": {"flow_id": flow},
                                     "messageId": f"{seed}-{next(seq)}"})
                elif roll < 0.45:
                    messages.append({"type": "track", "userId": customer, "event": "理财购买",
                                     "properties": {"amount_fen": rng.choice([100_000, 2_000_000, 5_000_000, 9_000_000])},
                                     "messageId": f"{seed}-{next(seq)}"})
                else:
                    messages.append({"type": "track", "userId": customer, "event": rng.choice(["登录", "浏览首页"]),
                                     "messageId": f"{seed}-{next(seq)}"})
            posted = time.perf_counter()
            r = http.post("/v1/batch", content=json.dumps({"batch": messages}, ensure_ascii=False).encode(),
                          headers={"Content-Type": "application/json"})
            r.raise_for_status()
            request_ms.append((time.perf_counter() - posted) * 1000)
            sent += len(messages)
            time.sleep(pause)
    with lock:
        counts["events"] += sent
        counts.setdefault("request_ms", []).extend(request_ms)


def _reference(engine: Engine, *, within_seconds: int) -> tuple[set[tuple[int, str]], set[int], float]:
    """Breakpoint decisions and large purchases by batch SQL over the stored events."""
    started = time.perf_counter()
    if engine.dialect.name == "postgresql":
        flow = "{t}.properties->>'flow_id'"
        window = "b.ts >= a.ts AND b.ts <= a.ts + make_interval(secs => :t)"
        amount = "(properties->>'amount_fen')::numeric"
    else:
        flow = "json_extract({t}.properties, '$.flow_id')"
        window = "julianday(b.ts) >= julianday(a.ts) AND julianday(b.ts) <= julianday(a.ts) + :t / 86400.0"
        amount = "CAST(json_extract(properties, '$.amount_fen') AS REAL)"
    breakpoints = text(
        f"SELECT DISTINCT a.customer_id, {flow.format(t='a')} FROM events a "
        f"WHERE a.name = :a AND a.customer_id IS NOT NULL AND NOT EXISTS ("
        f"  SELECT 1 FROM events b WHERE b.customer_id = a.customer_id AND b.name = :b "
        f"  AND {flow.format(t='b')} = {flow.format(t='a')} AND {window})")
    purchases = text(f"SELECT id FROM events WHERE name = '理财购买' AND {amount} >= 5000000")
    with engine.connect() as conn:
        bp = {(int(c), f"k:{f}") for c, f in conn.execute(breakpoints, {"a": A, "b": B, "t": within_seconds})}
        big = {int(i) for (i,) in conn.execute(purchases)}
    return bp, big, time.perf_counter() - started


def run(*, clients: int = 4, seconds: float = 10.0, batch: int = 50, pause: float = 0.05, customers: int = 2000,
        within_seconds: int = 2, mode: str = "embedded", redis_url: str | None = None, workers: int = 2,
        json_path: Path | None = None, log=print) -> dict[str, Any]:
    import uvicorn

    from omniloop.app import create_app
    from omniloop.core.db import make_engine, session_factory
    from omniloop.core.migrate import upgrade
    from omniloop.settings import Settings
    from omniloop.triggers.dispatch import TriggerRunner
    from omniloop.triggers.models import TriggerFiring

    if mode == "redis" and not redis_url:
        raise ValueError("--mode redis needs --redis URL")
    tmp = Path(tempfile.mkdtemp(prefix="omniloop-bench-triggers-"))
    url = os.environ.get(BENCH_DB_ENV) or f"sqlite:///{tmp / 'bench.db'}"
    if url.startswith("postgresql"):
        with make_engine(url).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(url)
    engine = make_engine(url)
    numbers, trigger_ids = _setup(engine, customers, within_seconds)
    log(f"{customers} customers, breakpoint T={within_seconds}s, mode {mode}, database {engine.dialect.name}")

    app = create_app(settings=Settings(home=tmp, database_url=url, log_json=False, log_level="WARNING",
                                       web_dist=tmp / "none"), engine=engine)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off",
                                           access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)

    stop = threading.Event()
    runners = []
    if mode == "redis":
        import redis

        redis.Redis.from_url(redis_url).flushdb()
        runners = [TriggerRunner(engine, poll_seconds=0.1, redis_url=redis_url, consumer=f"bench-{i}",
                                 stop_event=stop) for i in range(workers)]
        targets = [r.run_redis for r in runners]
    else:
        runners = [TriggerRunner(engine, poll_seconds=0.2, stop_event=stop)]
        targets = [lambda: runners[0].run_embedded(use_bus=(mode == "embedded"))]
    threads = [threading.Thread(target=t, daemon=True) for t in targets]
    for t in threads:
        t.start()
    time.sleep(0.5)

    counts = {"events": 0}
    lock = threading.Lock()
    started = time.monotonic()
    load = [threading.Thread(target=_client, args=(f"http://127.0.0.1:{port}", numbers),
                             kwargs=dict(seconds=seconds, batch=batch, pause=pause, seed=i + 1, counts=counts,
                                         lock=lock)) for i in range(clients)]
    for t in load:
        t.start()
    for t in load:
        t.join()
    load_seconds = time.monotonic() - started
    time.sleep(within_seconds + 3)  # the last deadlines pass and are decided
    stop.set()
    for t in threads:
        t.join(15)
    server.should_exit = True

    with session_factory(engine)() as session:
        rows = session.execute(select(TriggerFiring.trigger_id, TriggerFiring.customer_id, TriggerFiring.occurrence_key,
                                      TriggerFiring.latency_ms, TriggerFiring.event_ids)).all()
    bp_rows = [r for r in rows if r.trigger_id == trigger_ids["breakpoint"]]
    ev_rows = [r for r in rows if r.trigger_id == trigger_ids["event"]]
    bp_live = {(r.customer_id, r.occurrence_key) for r in bp_rows}
    ev_live = {r.event_ids[0] for r in ev_rows}
    bp_ref, ev_ref, ref_seconds = _reference(engine, within_seconds=within_seconds)
    agree = len(bp_live & bp_ref) + len(ev_live & ev_ref)
    ratio = round(agree / max(1, len(bp_ref) + len(ev_ref)), 4)
    bp_lat = [float(r.latency_ms) for r in bp_rows if r.latency_ms is not None]
    ev_lat = [float(r.latency_ms) for r in ev_rows if r.latency_ms is not None]
    result = {
        "name": "triggers",
        "params": {"clients": clients, "seconds": seconds, "batch": batch, "pause_s": pause, "customers": customers,
                   "within_seconds": within_seconds, "mode": mode, "workers": len(runners),
                   "database": engine.dialect.name, "python": platform.python_version(),
                   "cpus": os.cpu_count()},
        "results": {
            "events_sent": counts["events"], "ingest_events_per_s": round(counts["events"] / load_seconds, 1),
            "ingest_request_p50_ms": _percentile(counts.get("request_ms", []), 0.5),
            "ingest_request_p99_ms": _percentile(counts.get("request_ms", []), 0.99),
            "breakpoint": {"firings": len(bp_rows), "p50_ms": _percentile(bp_lat, 0.5),
                           "p99_ms": _percentile(bp_lat, 0.99), "max_ms": max(bp_lat, default=None),
                           "mean_ms": round(statistics.fmean(bp_lat), 1) if bp_lat else None},
            "event": {"firings": len(ev_rows), "p50_ms": _percentile(ev_lat, 0.5), "p99_ms": _percentile(ev_lat, 0.99),
                      "max_ms": max(ev_lat, default=None)},
        },
        "reference": {"engine": f"batch SQL on {engine.dialect.name}", "seconds": round(ref_seconds, 3),
                      "breakpoint_decisions": len(bp_ref), "event_decisions": len(ev_ref),
                      "missed_by_realtime": len(bp_ref - bp_live) + len(ev_ref - ev_live),
                      "extra_in_realtime": len(bp_live - bp_ref) + len(ev_live - ev_ref)},
        "ratio": ratio,
    }
    if json_path:
        Path(json_path).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    engine.dispose()
    return result
