"""Benefit catalog API (I2/D4): permissions, validation codes, scope, inventory adjustments, grants, audit."""

from __future__ import annotations

from sqlalchemy import select

from omniloop.benefits import service
from omniloop.core.audit import AuditRecord
from omniloop.org.roles import Role
from tests.benefits.factories import create_benefit, create_campaign
from tests.factories import create_bank, create_customer, create_user, login_headers

NEW = {"code": "WM-50", "name": "50元理财体验券", "kind": "coupon", "face_value_fen": 5000, "unit_cost_fen": 5000,
       "inventory_total": 100, "budget_fen": 300_000, "valid_from": "2026-01-01T00:00:00+08:00",
       "valid_to": "2027-01-01T00:00:00+08:00"}


def test_permissions_and_crud(client, db):
    create_bank(db)
    assert client.get("/api/benefits").status_code == 401
    rm = login_headers(client, "rm_a")
    assert client.get("/api/benefits", headers=rm).status_code == 403
    manager = login_headers(client, "manager_a")
    assert client.post("/api/benefits", json=NEW, headers=manager).status_code == 403
    op = login_headers(client, "operator")

    created = client.post("/api/benefits", json=NEW, headers=op)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["inventory_left"], body["budget_used_fen"], body["editable"], body["available"]) == (100, 0, True, True)
    bid = body["id"]
    assert client.post("/api/benefits", json={**NEW, "code": "wm-50"}, headers=op).json()["error"]["code"] == \
        "benefit_code_taken"
    bad = client.post("/api/benefits", json={**NEW, "code": "X1", "valid_to": "2025-01-01T00:00:00+08:00"}, headers=op)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    naive = client.post("/api/benefits", json={**NEW, "code": "X2", "valid_to": "2027-01-01T00:00:00"}, headers=op)
    assert naive.status_code == 422

    listed = client.get("/api/benefits", params={"q": "理财"}, headers=manager).json()
    assert listed["total"] == 1 and listed["items"][0]["editable"] is False  # head-office catalog, read-only
    patched = client.patch(f"/api/benefits/{bid}", json={"name": "理财体验券", "status": "inactive"}, headers=op)
    assert patched.status_code == 200 and patched.json()["available"] is False and patched.json()["version"] == 2
    assert client.patch(f"/api/benefits/{bid}", json={"budget_fen": 0}, headers=op).status_code == 200

    assert client.get("/api/benefits/999999", headers=op).json()["error"]["code"] == "benefit_not_found"
    assert client.delete(f"/api/benefits/{bid}", headers=op).status_code == 204
    actions = db.scalars(select(AuditRecord.action).where(AuditRecord.entity_type == "benefit")).all()
    assert actions == ["benefit.create", "benefit.update", "benefit.update", "benefit.delete"]


def test_branch_benefits_are_invisible_to_other_branches(client, db):
    bank = create_bank(db)
    create_user(db, org=bank.branch_b, role=Role.branch_manager, username="manager_b")
    db.commit()
    create_benefit(db, bank.branch_a, name="杭州分行专享")
    create_benefit(db, bank.head, name="总行权益")
    names_b = [b["name"] for b in client.get("/api/benefits", headers=login_headers(client, "manager_b")).json()["items"]]
    names_a = [b["name"] for b in client.get("/api/benefits", headers=login_headers(client, "manager_a")).json()["items"]]
    assert names_b == ["总行权益"] and sorted(names_a) == sorted(["杭州分行专享", "总行权益"])


def test_inventory_adjustment_budget_and_delete_in_use(client, db):
    bank = create_bank(db)
    op = login_headers(client, "operator")
    benefit = create_benefit(db, bank.head, inventory_total=5, unit_cost_fen=100, budget_fen=1_000)
    campaign = create_campaign(db, bank.users["operator"], bank.head)
    customers = [create_customer(db, org=bank.sub_a, rm=bank.users["rm_a"]).id for _ in range(3)]
    db.commit()
    service.reserve(db, benefit_id=benefit.id, campaign_id=campaign.id, occasion="wave:1", customer_ids=customers)
    db.commit()

    too_many = client.post(f"/api/benefits/{benefit.id}/inventory", json={"delta": -3, "reason": "回收"}, headers=op)
    assert too_many.status_code == 409 and too_many.json()["error"]["code"] == "inventory_insufficient"
    ok = client.post(f"/api/benefits/{benefit.id}/inventory", json={"delta": 10, "reason": "追加采购"}, headers=op)
    assert (ok.json()["inventory_total"], ok.json()["inventory_left"], ok.json()["reserved_count"]) == (15, 12, 3)
    assert client.post(f"/api/benefits/{benefit.id}/inventory", json={"delta": 0, "reason": "x"},
                       headers=op).json()["error"]["code"] == "invalid_adjustment"
    below = client.patch(f"/api/benefits/{benefit.id}", json={"budget_fen": 200}, headers=op)
    assert below.status_code == 422 and below.json()["error"]["code"] == "budget_below_used"
    audit = db.scalars(select(AuditRecord).where(AuditRecord.action == "benefit.adjust_inventory")).one()
    assert audit.after["reason"] == "追加采购" and audit.after["delta"] == 10

    in_use = client.delete(f"/api/benefits/{benefit.id}", headers=op)
    assert in_use.status_code == 409 and in_use.json()["error"]["code"] == "benefit_in_use"

    grants = client.get(f"/api/benefits/{benefit.id}/grants", headers=op).json()
    assert grants["total"] == 3 and grants["items"][0]["customer_name"] == "张*丰"
    assert grants["items"][0]["campaign_code"] == campaign.code
    customer_no = grants["items"][0]["customer_no"]
    rm = login_headers(client, "rm_a")
    mine = client.get(f"/api/customers/{customer_no}/benefit-grants", headers=rm)
    assert mine.status_code == 200 and mine.json()["total"] == 1
    assert client.get(f"/api/customers/{customer_no}/benefit-grants",
                      headers=login_headers(client, "rm_b")).status_code == 404
