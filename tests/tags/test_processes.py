"""API and worker as two processes (as in production): a run triggered through a real ``omniloop serve`` is
computed by a real ``omniloop worker`` on the same database and OMNILOOP_HOME, and the API serves the new
values — and, after a rule change and a second run, the next tag set — without a restart."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from omniloop.core.audit import SYSTEM
from omniloop.demo.tags import seed_tags
from tests.factories import PASSWORD, create_bank
from tests.tags.conftest import generate_customers

REPO = Path(__file__).resolve().parents[2]
OMNILOOP = str(Path(sys.executable).parent / "omniloop")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def processes(db, database_url, tmp_path):
    bank = create_bank(db)
    customers = generate_customers(db, bank, n=40)
    seed_tags(db, actor=SYSTEM)
    db.commit()
    env = {**os.environ, "OMNILOOP_DATABASE_URL": database_url, "OMNILOOP_HOME": str(tmp_path),
           "OMNILOOP_LOG_JSON": "false", "OMNILOOP_WORKER_POLL_SECONDS": "0.1", "PYTHONPATH": str(REPO),
           "OMNILOOP_WEB_DIST": str(tmp_path / "no-console")}
    port = _free_port()
    logs = {name: tmp_path / f"{name}.log" for name in ("serve", "worker")}
    procs = []
    for name, args in (("serve", ["serve", "--host", "127.0.0.1", "--port", str(port), "--no-upgrade"]),
                       ("worker", ["worker", "--no-upgrade"])):
        with logs[name].open("wb") as log:
            procs.append(subprocess.Popen([OMNILOOP, *args], env=env, cwd=tmp_path, stdout=log,
                                          stderr=subprocess.STDOUT))

    def output() -> str:
        return "\n".join(f"--- {n}\n{p.read_text(errors='replace')[-3000:]}" for n, p in logs.items())

    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # a loaded machine imports slowly
    while True:
        try:
            if httpx.get(base + "/api/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or procs[0].poll() is not None:
            pytest.fail(f"serve did not start:\n{output()}")
        time.sleep(0.2)
    try:
        yield base, customers, output
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_run(client: httpx.Client, run_id: int, output) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        run = client.get(f"/api/tag-runs/{run_id}").json()
        if run["status"] in ("succeeded", "partial", "failed"):
            return run
        time.sleep(0.2)
    pytest.fail(f"run {run_id} did not finish:\n{output()}")


@pytest.mark.slow
def test_serve_and_worker_processes_run_tags_and_the_api_serves_each_new_version(processes):
    base, customers, output = processes
    with httpx.Client(base_url=base, timeout=30) as client:
        token = client.post("/api/auth/login", json={"username": "operator", "password": PASSWORD}).json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        created = client.post("/api/tags", json={
            "code": "rich", "name_zh": "富裕客户", "name_en": "Rich", "category": "value", "source": "rule",
            "value_type": "boolean", "definition": {"rule": "aum >= 50万"}})
        assert created.status_code == 201, created.text
        tag_id = created.json()["id"]

        queued = client.post("/api/tag-runs", json={}).json()
        first = _wait_run(client, queued["id"], output)
        assert first["status"] == "succeeded", (first, output())
        assert first["tagset_version"] == 1 and first["rows"] == len(customers)

        def served(customer) -> tuple[int, bool]:
            body = client.get(f"/api/customers/{customer.customer_no}/tags").json()
            return body["tagset_version"], next(t["value"] for t in body["tags"] if t["code"] == "rich")

        for customer in customers[:10]:
            assert served(customer) == (1, customer.aum_fen >= 50_0000_00)
        poorer = [c for c in customers if c.aum_fen < 50_0000_00]
        assert poorer  # the data has customers whose value the new rule flips
        detail = client.get(f"/api/tags/{tag_id}").json()
        assert detail["coverage"] == sum(1 for c in customers if c.aum_fen >= 50_0000_00)

        changed = client.patch(f"/api/tags/{tag_id}", json={"definition": {"rule": "aum >= 0.01"}})
        assert changed.json()["definition_version"] == 2
        second = _wait_run(client, client.post("/api/tag-runs", json={"tag_ids": [tag_id]}).json()["id"], output)
        assert second["status"] == "succeeded" and second["tagset_version"] == 2, (second, output())
        for customer in poorer[:5]:
            version, value = served(customer)
            assert (version, value) == (2, customer.aum_fen >= 1)
        history = client.get(f"/api/customers/{poorer[0].customer_no}/tags").json()["history"]
        if poorer[0].aum_fen >= 1:
            assert [h["code"] for h in history] == ["rich"]
        overview = client.get("/api/lifecycle/overview").json()
        assert overview["tagset_version"] == 2 and overview["total_customers"] == len(customers)
