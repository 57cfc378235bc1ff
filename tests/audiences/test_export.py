"""Audience exports (人群导出): a real worker runs ``audiences.export``; masking by role, scope at run time."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
from sqlalchemy import select

from omniloop.audiences import export as export_module
from omniloop.customers.models import Customer
from omniloop.jobs.worker import Worker
from tests.audiences.bank_data import bank_with_tags, duckdb_cids, publish_tags, subtree_org_ids
from tests.audiences.test_api import RICH, VIP, _ok
from tests.factories import login_headers

MASKED_PHONE = re.compile(r"^1\d\d\*{4}\d{4}$")


@pytest.fixture
def bank(db, settings):
    return bank_with_tags(db, settings.home)


@pytest.fixture
def run_jobs(engine, settings, monkeypatch):
    """Drain the job queue with a real worker whose data directory is the test's."""
    monkeypatch.setattr("omniloop.audiences.tasks.get_settings", lambda: settings)

    def run() -> None:
        Worker(engine, once=True, tick_schedules=False, poll_seconds=0.05).run()

    return run


def _download(client, headers, job_id) -> bytes:
    response = client.get(f"/api/audiences/exports/{job_id}/download", headers=headers)
    assert response.status_code == 200, response.text
    return response.content


def _csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens the UTF-8 file correctly
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def _customer_nos(db, cids) -> set[str]:
    return set(db.scalars(select(Customer.customer_no).where(Customer.id.in_(list(cids)))))


def test_csv_masked_for_operator_and_xlsx_unmasked_for_admin(client, bank, settings, db, run_jobs, monkeypatch):
    monkeypatch.setattr(export_module, "CHUNK", 17)  # several chunks, as for a million members
    operator = login_headers(client, "operator")
    audience = _ok(client.post("/api/audiences", headers=operator, json={"name": "高净值", "expression": RICH}))
    queued = client.post(f"/api/audiences/{audience['id']}/exports", headers=operator, json={"format": "csv"})
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    job_id = queued.json()["job_id"]
    not_ready = client.get(f"/api/audiences/exports/{job_id}/download", headers=operator)
    assert not_ready.status_code == 409 and not_ready.json()["error"]["code"] == "export_not_ready"
    run_jobs()
    status = _ok(client.get(f"/api/audiences/exports/{job_id}", headers=operator))
    expected = _customer_nos(db, duckdb_cids(settings.home, RICH))
    assert status["status"] == "succeeded" and status["progress"] == 1.0
    assert status["rows"] == len(expected) and status["masked"] is True
    rows = _csv_rows(_download(client, operator, job_id))
    assert rows[0] == ["客户号", "姓名", "手机号", "所属机构", "所属分行", "生命周期阶段"]
    assert {r[0] for r in rows[1:]} == expected and len(rows) - 1 == len(expected)
    assert all(MASKED_PHONE.match(r[2]) for r in rows[1:])
    assert all("*" in r[1] for r in rows[1:])
    assert {r[4] for r in rows[1:]} <= {"杭州分行", "宁波分行", ""}
    assert {r[5] for r in rows[1:]} <= {"获客期", "激活期", "成长期", "留存期", "推荐期", ""}

    admin = login_headers(client, "admin")
    job = _ok(client.post(f"/api/audiences/{audience['id']}/exports", headers=admin, json={"format": "xlsx"}))
    run_jobs()
    done = _ok(client.get(f"/api/audiences/exports/{job['job_id']}", headers=admin))
    assert done["masked"] is False and done["file_name"].endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO(_download(client, admin, job["job_id"])), read_only=True)
    sheet_rows = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    phones = dict(db.execute(select(Customer.customer_no, Customer.phone)).all())
    assert {r[0] for r in sheet_rows[1:]} == expected
    assert all(r[2] == phones[r[0]] for r in sheet_rows[1:])
    # Exports are private to whoever asked for them.
    assert client.get(f"/api/audiences/exports/{job['job_id']}", headers=operator).status_code == 404
    assert client.get(f"/api/audiences/exports/{job_id}/download", headers=admin).status_code == 404


def test_scope_is_checked_again_when_the_export_runs(client, bank, settings, db, run_jobs):
    operator = login_headers(client, "operator")
    audience = _ok(client.post("/api/audiences", headers=operator, json={"name": "VIP", "expression": VIP}))
    manager = login_headers(client, "manager_a")
    job = _ok(client.post(f"/api/audiences/{audience['id']}/exports", headers=manager, json={"format": "csv"}))
    # Before the job runs, the manager moves from branch A to the Xihu sub-branch: a smaller scope.
    user = db.get(type(bank.users["manager_a"]), bank.users["manager_a"].id)
    user.org_id = bank.sub_a.id
    db.commit()
    run_jobs()
    status = _ok(client.get(f"/api/audiences/exports/{job['job_id']}", headers=manager))
    expected = _customer_nos(db, duckdb_cids(settings.home, VIP, scope_org_ids=subtree_org_ids(db, bank.sub_a)))
    wider = _customer_nos(db, duckdb_cids(settings.home, VIP, scope_org_ids=subtree_org_ids(db, bank.branch_a)))
    assert len(expected) < len(wider)
    rows = _csv_rows(_download(client, manager, job["job_id"]))
    assert {r[0] for r in rows[1:]} == expected and status["rows"] == len(expected)


def test_snapshot_export_keeps_the_frozen_members(client, bank, settings, db, run_jobs):
    headers = login_headers(client, "operator")
    audience = _ok(client.post("/api/audiences", headers=headers, json={"name": "VIP", "expression": VIP}))
    frozen = _customer_nos(db, duckdb_cids(settings.home, VIP))
    snap = _ok(client.post(f"/api/audiences/{audience['id']}/snapshots", headers=headers, json={}))
    publish_tags(db, settings.home, seed=77, rebuild=False)
    now = _customer_nos(db, duckdb_cids(settings.home, VIP))
    assert now != frozen
    job = _ok(client.post(f"/api/audience-snapshots/{snap['id']}/exports", headers=headers, json={"format": "csv"}))
    assert job["snapshot_id"] == snap["id"]
    run_jobs()
    rows = _csv_rows(_download(client, headers, job["job_id"]))
    assert {r[0] for r in rows[1:]} == frozen


def test_export_needs_the_export_permission(client, bank):
    operator = login_headers(client, "operator")
    audience = _ok(client.post("/api/audiences", headers=operator, json={"name": "VIP", "expression": VIP}))
    for user in ("rm_a", "approver"):
        response = client.post(f"/api/audiences/{audience['id']}/exports", headers=login_headers(client, user),
                               json={"format": "csv"})
        assert response.status_code == 403
    bad = client.post(f"/api/audiences/{audience['id']}/exports", headers=operator, json={"format": "pdf"})
    assert bad.status_code == 422
    assert client.post("/api/audiences/999999/exports", headers=operator, json={}).status_code == 404
