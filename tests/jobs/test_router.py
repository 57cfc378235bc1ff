"""Jobs API: who may read, cancel and retry; error shapes; schedules and workers."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import select

from omniloop.core.audit import SYSTEM, AuditRecord
from omniloop.core.db import session_factory, utcnow
from omniloop.jobs import service
from omniloop.jobs.models import Job
from omniloop.jobs.worker import Worker
from tests.factories import create_bank, login_headers
from tests.jobs import sample_jobs  # noqa: F401  (registers sample.* jobs)


def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_cancel_and_retry_a_running_job_through_the_api(client, db, engine):
    create_bank(db)
    admin, operator = login_headers(client, "admin"), login_headers(client, "operator")
    job_id = service.enqueue(db, name="sample.until_cancelled", args={"seconds": 20}).id
    db.commit()
    worker = Worker(engine, poll_seconds=0.05, lease_seconds=30, tick_schedules=False)
    claimed = service.claim(session_factory(engine), worker_id=worker.id, lease_seconds=30)
    outcome: list[str | None] = []
    runner = threading.Thread(target=lambda: outcome.append(worker.execute(claimed)))
    runner.start()
    try:
        _wait_for(lambda: client.get(f"/api/jobs/{job_id}", headers=operator).json()["progress"] > 0)

        denied = client.post(f"/api/jobs/{job_id}/cancel", headers=operator)
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"

        running = client.post(f"/api/jobs/{job_id}/retry", headers={**admin, "Accept-Language": "en"})
        assert running.status_code == 409
        error = running.json()["error"]
        assert error["code"] == "job_not_retryable" and error["details"]["status"] == "running"
        assert error["message"] == "Job is running; only failed or cancelled jobs can be retried"
        assert "正在运行" in error["message_zh"]

        response = client.post(f"/api/jobs/{job_id}/cancel", headers=admin)
        assert response.status_code == 200
        assert response.json()["status"] == "running" and response.json()["cancel_requested"] is True
    finally:
        runner.join(30)
    assert outcome == ["cancelled"]
    assert client.get(f"/api/jobs/{job_id}", headers=operator).json()["status"] == "cancelled"

    assert client.post(f"/api/jobs/{job_id}/retry", headers=operator).status_code == 403
    retried = client.post(f"/api/jobs/{job_id}/retry", headers=admin)
    assert retried.status_code == 200
    body = retried.json()
    assert (body["status"], body["attempts"], body["cancel_requested"]) == ("queued", 0, False)
    assert body["progress"] == 0 and body["error"] is None and body["finished_at"] is None

    audits = db.scalars(select(AuditRecord).where(AuditRecord.entity_type == "job",
                                                  AuditRecord.entity_id == str(job_id))
                        .order_by(AuditRecord.id)).all()
    assert [(a.action, a.actor_name) for a in audits] == [("cancel", "admin"), ("retry", "admin")]
    assert audits[1].before["status"] == "cancelled" and audits[1].after["status"] == "queued"


def test_cancelling_a_queued_job_is_immediate_and_a_finished_one_is_409(client, db):
    create_bank(db)
    admin = login_headers(client, "admin")
    job = service.enqueue(db, name="system.noop")
    db.commit()
    response = client.post(f"/api/jobs/{job.id}/cancel", headers=admin)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = client.post(f"/api/jobs/{job.id}/cancel", headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "job_not_cancellable"
    assert client.post("/api/jobs/999999/cancel", headers=admin).status_code == 404


def test_list_filters_and_paginates_and_get_reports_missing_jobs(client, db):
    create_bank(db)
    operator = login_headers(client, "operator")
    for i in range(3):
        service.enqueue(db, name="system.noop", args={"i": i})
    service.enqueue(db, name="system.sleep")
    db.commit()
    service.cancel(db, job_id=db.scalar(select(Job.id).where(Job.name == "system.sleep")), actor=SYSTEM)
    db.commit()

    page = client.get("/api/jobs", headers=operator, params={"name": "system.noop", "page_size": 2}).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["items"][0]["args"] == {"i": 2}
    cancelled = client.get("/api/jobs", headers=operator, params={"status": "cancelled"}).json()
    assert [j["name"] for j in cancelled["items"]] == ["system.sleep"]
    assert client.get("/api/jobs", headers=operator, params={"status": "bogus"}).status_code == 422

    missing = client.get("/api/jobs/424242", headers={**operator, "Accept-Language": "en"})
    assert missing.status_code == 404
    assert missing.json()["error"] == {"code": "not_found", "message": "Job not found", "message_zh": "作业不存在",
                                       "message_en": "Job not found", "details": {"job_id": 424242}}
    assert client.get("/api/jobs").status_code == 401
    assert client.get("/api/jobs", headers=login_headers(client, "rm_a")).status_code == 403


def test_schedules_and_workers_with_liveness(client, db):
    create_bank(db)
    operator = login_headers(client, "operator")
    service.upsert_schedule(db, key="tags.nightly", job_name="system.noop", cron="0 2 * * *")
    now = utcnow()
    service.register_worker(db, worker_id="host-a:1:aaaaaa", hostname="host-a", pid=1, now=now)
    service.register_worker(db, worker_id="host-b:2:bbbbbb", hostname="host-b", pid=2,
                            now=now - timedelta(minutes=5))
    db.commit()

    schedules = client.get("/api/jobs/schedules", headers=operator).json()
    assert [(s["key"], s["cron"], s["timezone"]) for s in schedules] == [
        ("tags.nightly", "0 2 * * *", "Asia/Shanghai")]
    workers = {w["id"]: w["alive"] for w in client.get("/api/jobs/workers", headers=operator).json()}
    assert workers == {"host-a:1:aaaaaa": True, "host-b:2:bbbbbb": False}
    assert client.get("/api/jobs/workers", headers=login_headers(client, "approver")).status_code == 403
