"""The tag REST API: validation, permissions, audit, runs, schedules, lists, scores, lifecycle overview,
exports (scoped and masked) and a customer's tags."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from omniloop.core.audit import AuditRecord
from omniloop.core.db import utcnow
from omniloop.demo.tags import seed_tags
from omniloop.jobs import service as job_service
from omniloop.jobs.models import Job, JobSchedule
from omniloop.org.auth import Principal
from omniloop.org.models import Org
from omniloop.org.roles import Role
from omniloop.tags import export, runner
from omniloop.tags.models import TagDefinition
from tests.factories import create_user, login_headers
from tests.tags.conftest import AS_OF, NOW, features_by_cid, run

RULE_TAG = {"code": "rich", "name_zh": "富裕客户", "name_en": "Rich", "category": "value", "source": "rule",
            "value_type": "boolean", "definition": {"rule": "aum >= 50万"}}


@pytest.fixture
def seeded(tag_bank, db, factory):
    """The demo tags on the generated bank, run once."""
    seed_tags(db, actor=job_service_actor())
    db.commit()
    outcome = run(factory, tag_bank.home)
    assert outcome.status == "succeeded", outcome.error
    return tag_bank


def job_service_actor():
    from omniloop.core.audit import SYSTEM

    return SYSTEM


def test_validate_reports_problems_with_positions_and_features(client, tag_bank):
    headers = login_headers(client, "operator")
    ok = client.post("/api/tags/validate", json={"rule": "aum_avg_3m >= 500000 and risk_level in ('R3','R4')"},
                     headers=headers)
    assert ok.status_code == 200 and ok.json()["valid"] is True
    assert [f["name"] for f in ok.json()["features_used"]] == ["aum_avg_3m", "risk_level"]
    assert '"aum_avg_3m_fen" >= 50000000' in ok.json()["sql"]
    bad = client.post("/api/tags/validate", json={"rule": "aum_avg_3m >= 5 and risk_levle = 'R3'"}, headers=headers)
    (problem,) = bad.json()["problems"]
    assert (problem["kind"], problem["line"], problem["column"], problem["offset"], problem["length"]) == (
        "unknown_feature", 1, 21, 20, 10)
    whole = client.post("/api/tags/validate", headers=headers, json={
        "source": "rule", "value_type": "numeric", "definition": {"feature": "aum", "buckets": [
            {"value": "a", "min": 0, "max": 10}, {"value": "b", "min": 5, "max": None}]}})
    assert [p["kind"] for p in whole.json()["problems"]] == ["overlapping_buckets"]
    lifecycle = client.post("/api/tags/validate", headers=headers, json={
        "code": "lifecycle_status", "source": "rule", "value_type": "enum",
        "definition": {"cases": [{"value": "dormant", "rule": "lifecycle_stage = 'grow'"}]}})
    assert [p["kind"] for p in lifecycle.json()["problems"]] == ["lifecycle_reference"]
    no_trigger = client.post("/api/tags/validate", headers=headers, json={
        "source": "event", "value_type": "boolean", "definition": {"trigger_id": 987_654, "within_days": 7}})
    assert [(p["path"], p["kind"]) for p in no_trigger.json()["problems"]] == [("definition.trigger_id",
                                                                               "unknown_trigger")]


def test_create_patch_archive_with_audit_and_permissions(client, tag_bank, db):
    operator, rm = login_headers(client, "operator"), login_headers(client, "rm_a")
    assert client.post("/api/tags", json=RULE_TAG, headers=rm).status_code == 403
    bad = client.post("/api/tags", json={**RULE_TAG, "definition": {"rule": "aum >= "}}, headers=operator)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_tag"
    assert bad.json()["error"]["details"]["problems"][0]["path"] == "definition.rule"
    created = client.post("/api/tags", json=RULE_TAG, headers=operator)
    assert created.status_code == 201, created.text
    tag = created.json()
    assert tag["definition_version"] == 1 and tag["values"][0] == {"value": True, "label_zh": "是", "label_en": "Yes"}
    assert client.post("/api/tags", json=RULE_TAG, headers=operator).status_code == 409

    assert client.patch(f"/api/tags/{tag['id']}", json={"name_zh": "x"}, headers=rm).status_code == 403
    renamed = client.patch(f"/api/tags/{tag['id']}", json={"name_zh": "高资产客户"}, headers=operator).json()
    assert renamed["definition_version"] == 1  # a label is not the definition
    changed = client.patch(f"/api/tags/{tag['id']}", json={"definition": {"rule": "aum >= 100万"}}, headers=operator)
    assert changed.json()["definition_version"] == 2
    audits = db.scalars(select(AuditRecord).where(AuditRecord.entity_type == "tag").order_by(AuditRecord.id)).all()
    assert [a.action for a in audits] == ["tag.create", "tag.update", "tag.update"]
    assert audits[-1].before["definition"] == {"rule": "aum >= 50万"}
    assert audits[-1].after["definition"] == {"rule": "aum >= 100万"} and audits[-1].after["definition_version"] == 2

    archived = client.delete(f"/api/tags/{tag['id']}", headers=operator)
    assert archived.json()["status"] == "archived"
    listed = client.get("/api/tags", params={"status": "active"}, headers=rm).json()
    assert listed["total"] == 0


def test_system_tags_refuse_archive_and_reserved_codes(client, seeded):
    operator = login_headers(client, "operator")
    tags = client.get("/api/tags", params={"category": "lifecycle"}, headers=operator).json()["items"]
    stage = next(t for t in tags if t["code"] == "lifecycle_stage")
    assert stage["system"] and stage["last_run_status"] == "succeeded" and stage["coverage"] > 0
    response = client.delete(f"/api/tags/{stage['id']}", headers=operator)
    assert response.status_code == 409 and response.json()["error"]["code"] == "system_tag"
    reserved = client.post("/api/tags", json={**RULE_TAG, "code": "lifecycle_stage"}, headers=operator)
    assert reserved.status_code == 422
    bad_value = client.patch(f"/api/tags/{stage['id']}", headers=operator, json={"definition": {
        "cases": [{"value": "sleeping", "rule": "aum < 1"}]}})
    assert bad_value.status_code == 422


def test_list_and_detail_show_coverage_distribution_and_usage(client, seeded, db):
    operator = login_headers(client, "operator")
    page = client.get("/api/tags", params={"page_size": 50}, headers=operator).json()
    assert page["total"] == 12
    payroll = next(t for t in page["items"] if t["code"] == "payroll")
    features = features_by_cid(db)
    assert payroll["coverage"] == sum(1 for f in features.values() if f["payroll_flag"])
    detail = client.get(f"/api/tags/{payroll['id']}", headers=operator).json()
    yes = next(d for d in detail["distribution"] if d["value"] is True)
    assert yes["customers"] == payroll["coverage"] and yes["label_zh"] == "是"
    assert len(detail["coverage_history"]) == 1 and detail["runs"][0]["run_status"] == "succeeded"
    tier = next(t for t in page["items"] if t["code"] == "value_tier")
    dist = client.get(f"/api/tags/{tier['id']}", headers=operator).json()["distribution"]
    assert sum(d["customers"] for d in dist) == len(features)
    assert {d["label_zh"] for d in dist} >= {"大众客户"}
    found = client.get("/api/tags", params={"q": "代发"}, headers=operator).json()
    assert [t["code"] for t in found["items"]] == ["payroll"]


def test_run_now_enqueues_a_job_and_the_run_is_served(client, tag_bank, db, factory):
    operator = login_headers(client, "operator")
    created = client.post("/api/tags", json=RULE_TAG, headers=operator).json()
    assert client.post("/api/tag-runs", json={}, headers=login_headers(client, "rm_a")).status_code == 403
    assert client.post("/api/tag-runs", json={"tag_ids": [999]}, headers=operator).status_code == 422
    response = client.post("/api/tag-runs", json={"tag_ids": [created["id"]]}, headers=operator)
    assert response.status_code == 202
    queued = response.json()
    job = db.get(Job, queued["job_id"])
    assert (job.name, job.args, queued["status"]) == ("tags.run", {"run_id": queued["id"]}, "queued")
    runner.run_tags(factory, tag_bank.home, run_id=queued["id"], as_of=AS_OF, now=NOW)
    done = client.get(f"/api/tag-runs/{queued['id']}", headers=operator).json()
    assert done["status"] == "succeeded" and done["tagset_version"] == 1 and done["rows"] == len(tag_bank.customers)
    assert done["results"][0]["tag_code"] == "rich"
    runs = client.get("/api/tag-runs", headers=operator).json()
    assert runs["total"] == 1


def test_a_tag_schedule_and_the_daily_schedule_enqueue_runs(client, tag_bank, db):
    operator = login_headers(client, "operator")
    bad = client.post("/api/tags", json={**RULE_TAG, "schedule": "every day"}, headers=operator)
    assert bad.status_code == 422
    tag = client.post("/api/tags", json={**RULE_TAG, "schedule": "30 6 * * *"}, headers=operator).json()
    seed_tags(db, actor=job_service_actor())
    db.commit()
    schedules = {s.key: s for s in db.scalars(select(JobSchedule))}
    assert schedules[f"tags.tag.{tag['id']}"].args == {"tag_ids": [tag["id"]], "trigger": "schedule"}
    assert schedules["tags.daily"].cron == "0 2 * * *"
    jobs = job_service.tick_schedules(db, now=utcnow() + timedelta(days=1, hours=1))
    db.commit()
    assert sorted((j.name, tuple((j.args or {}).get("tag_ids") or ())) for j in jobs) == [
        ("tags.run", ()), ("tags.run", (tag["id"],))]
    client.patch(f"/api/tags/{tag['id']}", json={"schedule": None}, headers=operator)
    db.expire_all()
    assert db.scalar(select(JobSchedule).where(JobSchedule.key == f"tags.tag.{tag['id']}")).enabled is False


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def test_upload_list_reports_unknown_and_duplicates_within_the_uploaders_scope(client, tag_bank, db):
    bank = tag_bank.bank
    mine = tag_bank.by_org(bank.sub_a, bank.branch_a)
    theirs = tag_bank.by_org(bank.sub_b)
    rows = [["客户号", "备注"], [mine[0].customer_no, "x"], [mine[1].customer_no, ""], [mine[0].customer_no, ""],
            [theirs[0].customer_no, ""], ["NOPE1", ""], ["", "blank"]]
    manager = login_headers(client, "manager_a")
    assert client.post("/api/customer-lists", data={"name": "x"}, headers=login_headers(client, "rm_a"),
                       files={"file": ("l.csv", _csv(rows), "text/csv")}).status_code == 403
    response = client.post("/api/customer-lists", data={"name": "重点客户", "description": "d"}, headers=manager,
                           files={"file": ("list.csv", _csv(rows), "text/csv")})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["report"] == {"file_name": "list.csv", "column": "客户号", "rows": 5, "blank": 1, "matched": 2,
                              "duplicates": 1, "unknown_count": 2,
                              "unknown": sorted(["NOPE1", theirs[0].customer_no]), "unknown_truncated": False}
    assert body["list"]["size"] == 2 and body["list"]["org_id"] == bank.branch_a.id

    book = Workbook()
    book.active.append(["name", "customer_no"])
    book.active.append(["a", theirs[0].customer_no])
    data = io.BytesIO()
    book.save(data)
    operator = login_headers(client, "operator")
    xlsx = client.post("/api/customer-lists", data={"name": "宁波名单"}, headers=operator,
                       files={"file": ("l.xlsx", data.getvalue(), "application/octet-stream")})
    assert xlsx.status_code == 201 and xlsx.json()["report"]["matched"] == 1
    none = client.post("/api/customer-lists", data={"name": "x"}, headers=manager,
                       files={"file": ("l.csv", _csv([["customer_no"], ["NOPE"]]), "text/csv")})
    assert none.status_code == 422 and none.json()["error"]["details"]["unknown_count"] == 1

    assert client.get("/api/customer-lists", headers=manager).json()["total"] == 1  # not the head office's
    assert client.get("/api/customer-lists", headers=operator).json()["total"] == 2
    assert client.get("/api/customer-lists", params={"q": "宁波"}, headers=operator).json()["total"] == 1
    assert client.get(f"/api/customer-lists/{xlsx.json()['list']['id']}", headers=manager).status_code == 404


def test_score_upload_then_run(client, tag_bank, db, factory):
    operator = login_headers(client, "operator")
    tag = client.post("/api/tags", headers=operator, json={
        **RULE_TAG, "code": "churn", "source": "model_score", "category": "model_score",
        "definition": {"model": "m1", "threshold": 0.5}}).json()
    customers = tag_bank.customers
    rows = [["客户号", "分数"]] + [[c.customer_no, "0.9" if i % 2 else "0.1"] for i, c in enumerate(customers[:10])]
    rows += [["X1", "0.3"], [customers[0].customer_no, "bad"]]
    response = client.post(f"/api/tags/{tag['id']}/scores", headers=operator,
                           files={"file": ("s.csv", _csv(rows), "text/csv")})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["matched"], report["unknown"], report["invalid_scores"]) == (10, ["X1"], 1)
    rule = client.post("/api/tags", json={**RULE_TAG, "code": "rule2"}, headers=operator).json()
    assert client.post(f"/api/tags/{rule['id']}/scores", headers=operator,
                       files={"file": ("s.csv", _csv(rows), "text/csv")}).status_code == 422
    run(factory, tag_bank.home)
    detail = client.get(f"/api/tags/{tag['id']}", headers=operator).json()
    assert detail["coverage"] == 5 and detail["score_file"]["rows"] == 10


def test_lifecycle_overview_is_scoped_and_adds_up(client, seeded, db):
    bank = seeded.bank
    features = features_by_cid(db)
    operator = client.get("/api/lifecycle/overview", headers=login_headers(client, "operator")).json()
    assert operator["total_customers"] == len(features)
    assert operator["total_aum_fen"] == sum(f["aum_fen"] for f in features.values())
    assert operator["total_mau"] == sum(1 for f in features.values() if f["app_logins_month"] > 0)
    assert [s["value"] for s in operator["stages"]][:5] == ["acquire", "activate", "grow", "retain", "refer"]
    assert sum(s["customers"] for s in operator["statuses"]) == len(features)
    manager = client.get("/api/lifecycle/overview", headers=login_headers(client, "manager_a")).json()
    in_a = [f for f in features.values() if f["org_id"] in (bank.branch_a.id, bank.sub_a.id)]
    assert manager["total_customers"] == len(in_a) < len(features)
    assert manager["total_aum_fen"] == sum(f["aum_fen"] for f in in_a)
    rm = client.get("/api/lifecycle/overview", headers=login_headers(client, "rm_a")).json()
    assert rm["total_customers"] == sum(1 for f in features.values() if f["rm_id"] == bank.users["rm_a"].id)


def test_customer_tags_and_history_are_scoped(client, seeded, db, factory):
    bank = seeded.bank
    own = next(c for c in seeded.customers if c.rm_id == bank.users["rm_a"].id)
    other = next(c for c in seeded.customers if c.org_id == bank.sub_b.id)
    rm = login_headers(client, "rm_a")
    assert client.get(f"/api/customers/{other.customer_no}/tags", headers=rm).status_code == 404
    body = client.get(f"/api/customers/{own.customer_no}/tags", headers=rm).json()
    assert body["tagset_version"] == 1 and len(body["tags"]) == 12
    assert body["lifecycle_stage"]["value"] in ("acquire", "activate", "grow", "retain", "refer")
    assert body["lifecycle_stage"]["label_zh"].endswith("期") and body["history"] == []
    # Change a rule so that this customer's value changes, run again: the API serves the new value and history.
    senior = db.scalar(select(TagDefinition).where(TagDefinition.code == "senior"))
    before = next(t["value"] for t in body["tags"] if t["code"] == "senior")
    senior.definition = {"rule": "age >= 0 or age is null"} if not before else {"rule": "age > 200"}
    db.commit()
    run(factory, seeded.home)
    after = client.get(f"/api/customers/{own.customer_no}/tags", headers=rm).json()
    assert next(t["value"] for t in after["tags"] if t["code"] == "senior") is (not before)
    (change,) = [h for h in after["history"] if h["code"] == "senior"]
    assert change["previous"] == str(before).lower() and change["value_label_zh"] == ("否" if before else "是")


def test_export_is_scoped_masked_and_owned_by_the_requester(client, seeded, db, factory):
    bank = seeded.bank
    create_user(db, org=bank.head, role=Role.analyst, username="analyst")
    db.commit()
    tag = db.scalar(select(TagDefinition).where(TagDefinition.code == "value_tier"))
    assert client.post(f"/api/tags/{tag.id}/exports", json={}, headers=login_headers(client, "manager_a")
                       ).status_code == 403
    headers = login_headers(client, "analyst")
    bad = client.post(f"/api/tags/{tag.id}/exports", json={"values": ["gold"]}, headers=headers)
    assert bad.status_code == 422
    queued = client.post(f"/api/tags/{tag.id}/exports", json={"format": "csv", "values": ["mass"]}, headers=headers)
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    job = db.get(Job, queued.json()["job_id"])
    result = export.run_export(factory, seeded.home, job_id=job.id, progress=lambda f, m: None, **job.args)
    job.status, job.result = "succeeded", result
    db.commit()
    assert client.get(f"/api/tags/exports/{job.id}", headers=login_headers(client, "admin")).status_code == 404
    status = client.get(f"/api/tags/exports/{job.id}", headers=headers).json()
    assert status["download_url"] == f"/api/tags/exports/{job.id}/download"
    download = client.get(status["download_url"], headers=headers)
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    values = {}
    for cid, v in zip(*_tag_column(seeded.home, "value_tier"), strict=True):
        values[cid] = v
    expected = sorted(c.customer_no for c in seeded.customers if values[c.id] == "mass")
    assert [r[0] for r in rows[1:]] == expected and len(expected) > 0
    assert all("*" in r[1] and "****" in r[2] for r in rows[1:])  # analyst: no customers.pii
    assert {r[5] for r in rows[1:]} == {"大众客户"}

    # A branch manager's export (scope checked at the service: the role has no export permission).
    manager = bank.users["manager_a"]
    xlsx = export.run_export(factory, seeded.home, job_id=999, tag_id=tag.id, user_id=manager.id, format="xlsx",
                             values=None, progress=lambda f, m: None)
    sheet = load_workbook(export.export_dir(seeded.home) / xlsx["file_name"]).active
    numbers = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    in_a = sorted(c.customer_no for c in seeded.by_org(bank.branch_a, bank.sub_a))
    assert numbers == in_a
    principal = Principal(user=manager, org=db.get(Org, manager.org_id), token_hash="")
    assert principal.role.name_en == "Branch manager"


def _tag_column(home, code):
    import pyarrow.parquet as pq

    from omniloop.tags.tagset import tag_column, tag_store

    store = tag_store(home)
    table = pq.read_table(store.path(store.current_version()))
    return table["cid"].to_pylist(), table[tag_column(code)].to_pylist()


def test_a_scheduled_job_creates_its_run_once(tag_bank, db, factory, monkeypatch):
    from types import SimpleNamespace

    from omniloop.settings import get_settings
    from omniloop.tags import tasks
    from omniloop.tags.models import TagRun

    seed_tags(db, actor=job_service_actor())
    db.commit()
    (job,) = job_service.tick_schedules(db, now=utcnow() + timedelta(days=1, hours=1))
    db.commit()
    monkeypatch.setenv("OMNILOOP_HOME", str(tag_bank.home))
    get_settings.cache_clear()
    try:
        progress = []
        ctx = SimpleNamespace(job_id=job.id, session_factory=factory, progress=lambda f, m=None: progress.append(f))
        first = tasks.run(ctx, **job.args)
        again = tasks.run(ctx, **job.args)
    finally:
        get_settings.cache_clear()
    assert first["status"] == "succeeded" and again == first
    (tag_run,) = db.scalars(select(TagRun)).all()
    assert (tag_run.trigger, tag_run.job_id, tag_run.tag_ids, tag_run.attempts) == ("schedule", job.id, None, 1)
    assert progress[-1] == 1.0 and progress == sorted(progress)
