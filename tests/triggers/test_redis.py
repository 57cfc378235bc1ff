"""Scale-out through Redis Streams: trigger workers share the customer partitions in one consumer group,
a dead consumer's pending entries are claimed by another, and nothing fires twice. Needs Debian's
``redis-server`` (``make test`` installs it); each test starts its own on a free port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from omniloop.triggers.dispatch import GROUP, TriggerRunner
from tests.factories import create_customer
from tests.triggers.conftest import define, firings, send, track

REDIS_SERVER = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server")
                                                 else None)
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed (apt install redis-server)")
REPO = Path(__file__).resolve().parents[2]
OMNILOOP = str(Path(sys.executable).parent / "omniloop")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    import redis

    port = _free_port()
    proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def many(db, world, bank):
    """Twelve more customers, so the eight partitions all get some."""
    users = bank.users
    extra = [create_customer(db, org=bank.sub_a if i % 2 else bank.sub_b,
                             rm=users["rm_a"] if i % 2 else users["rm_b"]) for i in range(12)]
    db.commit()
    return list(world["customers"].values()) + extra


def _wait(predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_two_consumers_share_the_partitions_and_each_firing_happens_once(client, db, engine, operator, many,
                                                                         redis_url):
    trigger = define(client, operator, "event", {"event": "登录"})
    stops = [threading.Event(), threading.Event()]
    runners = [TriggerRunner(engine, poll_seconds=0.05, redis_url=redis_url, consumer=f"c{i}", stop_event=stops[i])
               for i in range(2)]
    threads = [threading.Thread(target=r.run_redis, daemon=True) for r in runners]
    for t in threads:
        t.start()
    try:
        for round_ in range(8):
            send(client, *[track(c.customer_no, "登录", {"round": round_}) for c in many])
            time.sleep(0.1)
        expected = 8 * len(many)
        _wait(lambda: len(firings(db, trigger["id"])) >= expected, "every login to fire")
        time.sleep(0.5)  # nothing more may arrive
    finally:
        for stop in stops:
            stop.set()
        for t in threads:
            t.join(10)
    done = firings(db, trigger["id"])
    assert len(done) == expected
    assert len({(f.customer_id, f.occurrence_key) for f in done}) == expected
    workers = {f.details["worker"] for f in done}
    assert workers == {"c0", "c1"}, workers  # both consumers took a share
    pending = runners[0].redis.xpending(runners[0].streams()[0], GROUP)
    assert pending["pending"] == 0


def test_a_dead_consumers_pending_entries_are_claimed_without_duplicates(client, db, engine, operator, many,
                                                                         redis_url):
    trigger = define(client, operator, "event", {"event": "登录"})
    doomed = TriggerRunner(engine, redis_url=redis_url, consumer="doomed", claim_idle_seconds=0.3)
    survivor = TriggerRunner(engine, redis_url=redis_url, consumer="survivor", claim_idle_seconds=0.3)
    doomed.ensure_group()
    with doomed.session_factory() as session:
        doomed.tail.start(session)
    send(client, *[track(c.customer_no, "登录") for c in many])
    _wait(lambda: doomed.dispatch_once() or sum(doomed.redis.xlen(s) for s in doomed.streams()) == len(many),
          "the dispatcher to append every event")

    # The doomed consumer decides on part of its entries and dies before acknowledging any of them.
    reply = doomed.redis.xreadgroup(GROUP, "doomed", dict.fromkeys(doomed.streams(), ">"), count=100)
    entries = [(s.decode(), entry_id, fields) for s, messages in reply for entry_id, fields in messages]
    assert len(entries) == len(many)
    doomed.decide(doomed._load(entries[: len(entries) // 2]), consumer="doomed")
    assert survivor.consume_once(block_ms=50) == 0  # delivered to the doomed consumer: nothing new

    time.sleep(0.4)
    assert survivor.claim_once() == len(many)
    done = firings(db, trigger["id"])
    assert len(done) == len(many) == len({f.customer_id for f in done})
    assert sum(1 for f in done if f.details["worker"] == "doomed") == len(many) // 2
    assert sum(doomed.redis.xpending(s, GROUP)["pending"] for s in doomed.streams()) == 0
    # The doomed consumer comes back under its name: nothing is left for it, nothing fires twice.
    revived = TriggerRunner(engine, redis_url=redis_url, consumer="doomed", claim_idle_seconds=0.3)
    assert revived.consume_once(block_ms=50) == 0 and revived.claim_once() == 0
    assert len(firings(db, trigger["id"])) == len(many)


def _env(database_url: str, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMNILOOP_DATABASE_URL=database_url, OMNILOOP_HOME=str(home), OMNILOOP_LOG_JSON="false",
               PYTHONPATH=str(REPO))
    return env


def test_worker_processes_share_the_work_and_survive_one_being_killed(client, db, operator, many, redis_url,
                                                                      database_url, tmp_path):
    trigger = define(client, operator, "event", {"event": "登录"})
    procs = []
    for name in ("w1", "w2"):
        with open(tmp_path / f"{name}.log", "wb") as log:
            procs.append(subprocess.Popen(
                [OMNILOOP, "triggers", "run", "--no-upgrade", "--redis", redis_url, "--consumer", name, "--poll", "0.1",
                 "--claim-idle", "1"], env=_env(database_url, tmp_path), cwd=REPO, stdout=log, stderr=subprocess.STDOUT))
    try:
        def logs() -> str:
            return "\n".join(p.read_text(errors="replace") for p in tmp_path.glob("w*.log"))

        _wait(lambda: all("consuming" in (tmp_path / f"{n}.log").read_text() for n in ("w1", "w2")), "workers to start", 90)
        for round_ in range(5):
            send(client, *[track(c.customer_no, "登录", {"round": round_}) for c in many])
            time.sleep(0.15)
        _wait(lambda: len(firings(db, trigger["id"])) == 5 * len(many), f"the first rounds to fire\n{logs()}", 60)
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        for round_ in range(5, 8):
            send(client, *[track(c.customer_no, "登录", {"round": round_}) for c in many])
        _wait(lambda: len(firings(db, trigger["id"])) == 8 * len(many), f"the survivor to take over\n{logs()}", 60)
        time.sleep(1.5)
        done = firings(db, trigger["id"])
        assert len(done) == 8 * len(many) == len({(f.customer_id, f.occurrence_key) for f in done})
        assert {f.details["worker"] for f in done[: 5 * len(many)]} == {"w1", "w2"}
        procs[1].send_signal(signal.SIGTERM)
        assert procs[1].wait(20) == 0, logs()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
