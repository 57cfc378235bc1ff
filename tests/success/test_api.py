"""Success rule API (I2/D7): CRUD with filter validation, scope, the test against a customer's events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from omniloop.core.audit import AuditRecord
from tests.factories import create_bank, create_customer, login_headers
from tests.success.test_service import add_event

RULE = {"name": "7日内购买理财≥1万", "event_name": "购买理财", "window_days": 7, "value_property": "amount_fen",
        "property_filter": [{"property": "amount_fen", "op": "gte", "value": 1_000_000}]}


def test_crud_validation_and_test(client, db):
    bank = create_bank(db)
    customer = create_customer(db, org=bank.sub_a, rm=bank.users["rm_a"])
    now = datetime.now(UTC)
    add_event(db, customer.id, "购买理财", now - timedelta(days=2), {"amount_fen": 5_000_000})
    add_event(db, customer.id, "购买理财", now - timedelta(days=1), {"amount_fen": 100})
    add_event(db, customer.id, "登录", now - timedelta(days=1))
    db.commit()
    assert client.get("/api/success-rules").status_code == 401
    op = login_headers(client, "operator")
    assert client.post("/api/success-rules", json=RULE, headers=login_headers(client, "manager_a")).status_code == 403
    created = client.post("/api/success-rules", json=RULE, headers=op)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["property_filter"] == [{"property": "amount_fen", "op": "gte", "value": 1_000_000.0, "type": "number"}]
    bad = client.post("/api/success-rules", headers=op,
                      json={**RULE, "property_filter": [{"property": "amount_fen", "op": "like", "value": 1}]})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_property_filter"
    assert bad.json()["error"]["details"][0]["field"] == "property_filter.0.op"
    assert client.post("/api/success-rules", json={**RULE, "window_days": 0}, headers=op).status_code == 422

    patched = client.patch(f"/api/success-rules/{rule['id']}", json={"window_days": 14}, headers=op)
    assert patched.json()["window_days"] == 14
    listed = client.get("/api/success-rules", headers=login_headers(client, "manager_a")).json()
    assert listed["total"] == 1 and listed["items"][0]["editable"] is False

    tested = client.post(f"/api/success-rules/{rule['id']}/test", json={"customer_no": customer.customer_no},
                         headers=op).json()
    assert [e["matched"] for e in tested["events"]] == [False, True]  # newest first; 登录 is not listed
    assert tested["matched_count"] == 1 and tested["events"][1]["value"] == 5_000_000
    assert client.post(f"/api/success-rules/{rule['id']}/test", json={"customer_no": "NOPE"},
                       headers=op).status_code == 404
    assert client.get("/api/success-rules/999999", headers=op).json()["error"]["code"] == "success_rule_not_found"
    assert client.delete(f"/api/success-rules/{rule['id']}", headers=op).status_code == 204
    actions = db.scalars(select(AuditRecord.action).where(AuditRecord.entity_type == "success_rule")).all()
    assert actions == ["success_rule.create", "success_rule.update", "success_rule.delete"]
