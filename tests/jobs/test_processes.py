"""Real ``omniloop worker`` processes against the test database: each job runs once; a killed worker's job
is finished by another after its lease expires; the CLI enqueues and drains.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from omniloop import cli
from omniloop.core.db import get_engine
from omniloop.jobs import service
from omniloop.jobs.models import Job, Worker
from omniloop.settings import get_settings

REPO = Path(__file__).resolve().parents[2]
OMNILOOP = str(Path(sys.executable).parent / "omniloop")


def _env(database_url: str, home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        OMNILOOP_DATABASE_URL=database_url, OMNILOOP_HOME=str(home), OMNILOOP_LOG_JSON="false",
        OMNILOOP_JOB_MODULES="tests.jobs.sample_jobs", OMNILOOP_WORKER_POLL_SECONDS="0.1",
        PYTHONPATH=str(REPO),
        **extra,
    )
    return env


class Workers:
    """Worker subprocesses of one test, each logging to its own file; all are killed at the end."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path, self.env = tmp_path, env
        self.procs: list[subprocess.Popen] = []

    def start(self, *args: str) -> subprocess.Popen:
        with open(self.tmp_path / f"worker{len(self.procs)}.log", "wb") as log:
            # The child keeps its own copy of the descriptor; ours can close at once.
            proc = subprocess.Popen([OMNILOOP, "worker", "--no-upgrade", *args], env=self.env, cwd=REPO,
                                    stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.tmp_path.glob("worker*.log")))

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


@pytest.fixture
def workers(tmp_path: Path, database_url: str, engine):
    pool = Workers(tmp_path, _env(database_url, tmp_path, OMNILOOP_JOB_LEASE_SECONDS="2"))
    yield pool
    pool.close()


def _wait_for(predicate, what: str, workers: Workers, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; worker logs:\n{workers.logs()}")
        time.sleep(0.1)


def _registered(db, pids: set[int]) -> bool:
    db.rollback()
    return pids <= set(db.scalars(select(Worker.pid).where(Worker.stopped_at.is_(None))))


def test_two_worker_processes_run_each_of_40_jobs_exactly_once(db, workers, tmp_path):
    first, second = workers.start("--concurrency", "2"), workers.start("--concurrency", "2")
    _wait_for(lambda: _registered(db, {first.pid, second.pid}), "both workers to start", workers)

    log = tmp_path / "runs.log"
    args = {"log": str(log), "sleep": 0.05}
    ids = {service.enqueue(db, name="sample.record", args=args).id for _ in range(40)}
    db.commit()

    def all_done() -> bool:
        db.rollback()
        return db.scalar(select(func.count()).select_from(Job).where(Job.status == "succeeded")) == 40

    _wait_for(all_done, "40 jobs to succeed", workers)
    runs = [line.split() for line in log.read_text().splitlines()]
    assert Counter(int(job_id) for job_id, _pid, _attempt in runs) == Counter(ids)  # each exactly once
    assert {attempt for _job, _pid, attempt in runs} == {"1"}
    assert {int(pid) for _job, pid, _attempt in runs} == {first.pid, second.pid}  # both took a share

    for proc in (first, second):
        proc.send_signal(signal.SIGTERM)
    assert [first.wait(20), second.wait(20)] == [0, 0], workers.logs()
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Worker).where(Worker.stopped_at.is_(None))) == 0


def test_a_job_of_a_killed_worker_is_finished_by_another_after_its_lease(db, workers, tmp_path):
    procs = {p.pid: p for p in (workers.start(), workers.start())}
    _wait_for(lambda: _registered(db, set(procs)), "both workers to start", workers)
    log = tmp_path / "slow.log"
    job_id = service.enqueue(db, name="sample.slow_once", args={"log": str(log), "seconds": 60}).id
    db.commit()
    _wait_for(lambda: log.exists() and "start" in log.read_text(), "the first attempt to start", workers)
    # Whichever worker took the job is killed; the other one must finish it.
    doomed = procs.pop(int(log.read_text().split()[3]))
    (survivor,) = procs.values()

    doomed.send_signal(signal.SIGKILL)
    assert doomed.wait(10) == -signal.SIGKILL
    killed_at = time.monotonic()

    def succeeded() -> bool:
        db.rollback()
        return db.scalar(select(Job.status).where(Job.id == job_id)) == "succeeded"

    _wait_for(succeeded, "the job to be reclaimed and finished", workers)
    assert time.monotonic() - killed_at >= 1.0  # not before the 2 s lease could have run out
    db.expire_all()
    job = db.get(Job, job_id)
    assert job.attempts == 2 and job.result == {"attempt": 2}
    assert job.lease_owner.split(":")[1] == str(survivor.pid)
    assert log.read_text().splitlines() == [
        f"start {job_id} 1 {doomed.pid}",
        f"start {job_id} 2 {survivor.pid}",
        f"end {job_id} 2 {survivor.pid}",
    ]
    survivor.send_signal(signal.SIGTERM)
    assert survivor.wait(20) == 0, workers.logs()


@pytest.fixture
def cli_settings(monkeypatch, database_url: str, tmp_path: Path):
    """Point the in-process CLI at the test database; settings and engine are cached, so reset them."""
    for key, value in _env(database_url, tmp_path).items():
        if key.startswith("OMNILOOP_"):
            monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_cli_enqueues_lists_and_a_once_worker_drains(db, database_url, tmp_path, cli_settings):
    runner = CliRunner()
    enqueued = runner.invoke(cli.app, ["jobs", "enqueue", "system.noop", "--args", '{"ping": "pong"}',
                                       "--key", "ops-check"])
    assert enqueued.exit_code == 0, enqueued.output
    again = runner.invoke(cli.app, ["jobs", "enqueue", "system.noop", "--key", "ops-check"])
    assert again.output == enqueued.output  # the same job, not a second one
    bad = runner.invoke(cli.app, ["jobs", "enqueue", "system.noop", "--args", "[1, 2]"])
    assert bad.exit_code == 2 and "JSON object" in bad.output

    drain = subprocess.run([OMNILOOP, "worker", "--once", "--no-upgrade"], env=_env(database_url, tmp_path),
                           cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert drain.returncode == 0, drain.stderr
    db.rollback()
    job = db.scalars(select(Job)).one()
    assert (job.name, job.status, job.idempotency_key) == ("system.noop", "succeeded", "ops-check")
    assert job.result == {"echo": {"ping": "pong"}, "attempt": 1}
    assert f"job {job.id} system.noop -> succeeded" in drain.stderr

    listed = runner.invoke(cli.app, ["jobs", "list", "--status", "succeeded"])
    assert listed.exit_code == 0 and "system.noop" in listed.output
