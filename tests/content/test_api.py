"""Template library API (I2/D6): versions on edit, problems refused, preview on sample customers, blocked words."""

from __future__ import annotations

from sqlalchemy import select

from omniloop.core.audit import AuditRecord
from tests.factories import create_bank, create_customer, login_headers

SMS = {"code": "SMS-WM", "name": "理财体验券短信", "channel": "sms", "purpose": "marketing",
       "body": "【之江银行】{{ customer.salutation }}，{{ benefit.name }}已到账，{{ benefit.valid_to }}前有效。{{ unsubscribe }}"}


def test_create_edit_versions_archive(client, db):
    create_bank(db)
    assert client.get("/api/message-templates").status_code == 401
    op = login_headers(client, "operator")
    assert client.post("/api/message-templates", json=SMS, headers=login_headers(client, "manager_a")).status_code == 403
    created = client.post("/api/message-templates", json=SMS, headers=op)
    assert created.status_code == 201, created.text
    t = created.json()
    assert t["current_version"] == 1 and t["current"]["variables"] == [
        "customer.salutation", "benefit.name", "benefit.valid_to", "unsubscribe"]
    tid = t["id"]
    same = client.patch(f"/api/message-templates/{tid}", json={"name": "理财券短信", "body": SMS["body"]}, headers=op)
    assert same.json()["current_version"] == 1 and same.json()["name"] == "理财券短信"  # content unchanged
    edited = client.patch(f"/api/message-templates/{tid}", json={"body": SMS["body"].replace("已到账", "已发放")},
                          headers=op)
    assert edited.json()["current_version"] == 2
    versions = client.get(f"/api/message-templates/{tid}/versions", headers=op).json()
    assert [v["version"] for v in versions] == [2, 1] and "已到账" in versions[1]["body"]

    no_opt_out = client.patch(f"/api/message-templates/{tid}", json={"body": "{{ customer.salutation }}您好"},
                              headers=op)
    assert no_opt_out.status_code == 422
    assert no_opt_out.json()["error"]["code"] == "template_problems"
    assert [p["code"] for p in no_opt_out.json()["error"]["details"]] == ["sms_unsubscribe_missing"]
    # Switching the purpose to service makes the same text acceptable.
    ok = client.patch(f"/api/message-templates/{tid}", json={"purpose": "service", "body": "{{ customer.salutation }}您好"},
                      headers=op)
    assert ok.status_code == 200 and ok.json()["current_version"] == 3

    assert client.post("/api/message-templates", json=SMS, headers=op).json()["error"]["code"] == "template_code_taken"
    archived = client.delete(f"/api/message-templates/{tid}", headers=op)
    assert archived.json()["status"] == "archived"
    assert client.get("/api/message-templates", headers=op).json()["total"] == 0
    assert client.get("/api/message-templates", params={"status": "archived"}, headers=op).json()["total"] == 1
    actions = db.scalars(select(AuditRecord.action).where(AuditRecord.entity_type == "message_template")).all()
    assert actions.count("message_template.new_version") == 2 and actions[0] == "message_template.create"


def test_sandbox_escape_is_refused_on_save(client, db):
    create_bank(db)
    op = login_headers(client, "operator")
    bad = client.post("/api/message-templates", headers=op,
                      json={**SMS, "body": "{{ ''.__class__.__mro__ }}{{ unsubscribe }}"})
    assert bad.status_code == 422
    assert "unsafe_attribute" in [p["code"] for p in bad.json()["error"]["details"]]


def test_blocked_words_crud_and_check(client, db):
    create_bank(db)
    op = login_headers(client, "operator")
    word = client.post("/api/blocked-words", json={"word": "保本保息", "category": "违规承诺"}, headers=op)
    assert word.status_code == 201
    assert client.post("/api/blocked-words", json={"word": "保本保息"}, headers=op).json()["error"]["code"] == \
        "blocked_word_exists"
    refused = client.post("/api/message-templates", json={**SMS, "body": "保本保息！" + SMS["body"]}, headers=op)
    assert [p["code"] for p in refused.json()["error"]["details"]] == ["blocked_word"]
    wid = word.json()["id"]
    assert client.patch(f"/api/blocked-words/{wid}", json={"category": "夸大收益"}, headers=op).json()["category"] == \
        "夸大收益"
    assert client.get("/api/blocked-words", params={"q": "保本"}, headers=op).json()["total"] == 1
    assert client.delete(f"/api/blocked-words/{wid}", headers=op).status_code == 204
    assert client.delete(f"/api/blocked-words/{wid}", headers=op).status_code == 404
    assert client.post("/api/message-templates", json={**SMS, "body": "保本保息！" + SMS["body"]},
                       headers=op).status_code == 201


def test_preview_on_sample_customers_of_the_callers_scope(client, db):
    bank = create_bank(db)
    create_customer(db, org=bank.sub_a, rm=bank.users["rm_a"], name="李四", gender="M")
    create_customer(db, org=bank.sub_b, rm=bank.users["rm_b"], name="王芳", gender="F")
    db.commit()
    client.post("/api/blocked-words", json={"word": "稳赚"}, headers=login_headers(client, "operator"))
    draft = {"channel": "sms", "purpose": "marketing", "sample_size": 5,
             "body": "{{ customer.salutation }}，稳赚机会：{{ benefit.name }}{{ benefit.amount }}元"}
    rm = login_headers(client, "manager_a")  # a branch manager: customers of branch A only
    result = client.post("/api/message-templates/preview", json=draft, headers=rm)
    assert result.status_code == 200, result.text
    data = result.json()
    assert [p["code"] for p in data["problems"]] == ["sms_unsubscribe_missing", "blocked_word"]
    assert [s["customer_name"] for s in data["samples"]] == ["李*"]  # only branch A's customer, masked
    sample = data["samples"][0]
    assert sample["body"] == "李先生，稳赚机会：50元理财体验券50元"
    assert sample["sms"]["segments"] == 1 and sample["sms"]["encoding"] == "ucs2"
    assert data["longest"]["body"].startswith("欧阳女士")
    assert data["variables"] == ["customer.salutation", "benefit.name", "benefit.amount"]

    broken = client.post("/api/message-templates/preview", headers=rm,
                         json={**draft, "body": "{{ customer.nmae }}"}).json()
    assert [p["code"] for p in broken["problems"]][0] == "unknown_variable" and broken["samples"] == []
    variables = client.get("/api/message-templates/variables", headers=login_headers(client, "rm_a"))
    assert variables.status_code == 403  # an RM has no campaigns.read
    names = [v["name"] for v in client.get("/api/message-templates/variables",
                                            headers=login_headers(client, "operator")).json()]
    assert "customer.name_masked" in names and "benefit.amount" in names
