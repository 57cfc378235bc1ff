"""Uploaded customer lists: archive / restore (hidden from pickers, still usable) and delete, refused with
``list_in_use`` while an audience, a list-sourced tag or a campaign uses the list; all audited."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from omniloop.audiences.engine import DbCatalog
from omniloop.audiences.models import Audience
from omniloop.core.audit import SYSTEM, AuditRecord
from omniloop.customers.models import CustomerList
from omniloop.org.auth import Principal
from omniloop.tags import service as tag_service
from omniloop.tags.schemas import TagCreate
from tests.benefits.factories import create_campaign
from tests.factories import create_bank, create_customer, login_headers


@pytest.fixture
def bank(db):
    bank = create_bank(db)
    bank.customers = [create_customer(db, org=org) for org in (bank.sub_a, bank.sub_a, bank.sub_b, bank.head)]
    db.commit()
    return bank


def _upload(client, headers, name: str, numbers: list[str]) -> int:
    out = io.StringIO()
    csv.writer(out).writerows([["customer_no"], *[[n] for n in numbers]])
    response = client.post("/api/customer-lists", data={"name": name}, headers=headers,
                           files={"file": (f"{name}.csv", out.getvalue().encode(), "text/csv")})
    assert response.status_code == 201, response.text
    return response.json()["list"]["id"]


def _actions(db, list_id: int) -> list[str]:
    return list(db.scalars(select(AuditRecord.action).where(AuditRecord.entity_type == "customer_list",
                                                            AuditRecord.entity_id == str(list_id))
                           .order_by(AuditRecord.id)))


def test_a_list_in_use_cannot_be_deleted_and_an_unused_one_can(client, bank, db):
    operator = login_headers(client, "operator")
    numbers = [c.customer_no for c in bank.customers]
    by_audience, by_tag, by_campaign, unused = (_upload(client, operator, name, numbers)
                                                for name in ("人群名单", "标签名单", "排除名单", "闲置名单"))
    db.add(Audience(name="名单人群", expression={"op": "list", "list_id": by_audience}, org_id=bank.head.id,
                    archived=True))  # archived audiences can be restored: they still count
    tag_service.create_tag_as(db, actor=SYSTEM, org_id=bank.head.id, data=TagCreate(
        code="vip_list", name_zh="贵宾名单", name_en="VIP list", category="basic", source="list",
        value_type="boolean", definition={"list_id": by_tag}))
    campaign = create_campaign(db, bank.users["operator"], bank.head)
    campaign.suppression_list_ids = [by_campaign]
    db.commit()

    listed = {row["id"]: row for row in client.get("/api/customer-lists", headers=operator).json()["items"]}
    assert [u["kind"] for u in listed[by_audience]["uses"]] == ["audience"]
    assert [(u["kind"], u["code"]) for u in listed[by_tag]["uses"]] == [("tag", "vip_list")]
    assert [(u["kind"], u["id"], u["status"]) for u in listed[by_campaign]["uses"]] == [
        ("campaign", campaign.id, "draft")]
    assert listed[unused]["uses"] == []

    for list_id, kind in ((by_audience, "audience"), (by_tag, "tag"), (by_campaign, "campaign")):
        refused = client.delete(f"/api/customer-lists/{list_id}", headers=operator)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "list_in_use"
        assert [u["kind"] for u in refused.json()["error"]["details"]["uses"]] == [kind]
        assert db.get(CustomerList, list_id) is not None

    assert client.delete(f"/api/customer-lists/{unused}", headers=login_headers(client, "rm_a")).status_code == 403
    assert client.delete(f"/api/customer-lists/{unused}", headers=login_headers(client, "manager_a")
                         ).status_code == 404  # a head-office list is outside a branch's subtree
    deleted = client.delete(f"/api/customer-lists/{unused}", headers=operator)
    assert deleted.status_code == 204
    db.expire_all()
    assert db.get(CustomerList, unused) is None
    assert _actions(db, unused) == ["customer_list.create", "customer_list.delete"]
    record = db.scalar(select(AuditRecord).where(AuditRecord.action == "customer_list.delete"))
    assert record.before["name"] == "闲置名单" and "members" not in record.before
    assert client.get(f"/api/customer-lists/{unused}", headers=operator).status_code == 404


def test_archive_hides_a_list_from_pickers_and_restore_brings_it_back(client, bank, db):
    operator = login_headers(client, "operator")
    list_id = _upload(client, operator, "季度名单", [c.customer_no for c in bank.customers])
    kept = _upload(client, operator, "常用名单", [bank.customers[0].customer_no])

    archived = client.post(f"/api/customer-lists/{list_id}/archive", headers=operator)
    assert archived.status_code == 200 and archived.json()["archived_at"] is not None
    assert client.post(f"/api/customer-lists/{list_id}/archive", headers=operator).status_code == 200  # no-op
    assert [r["id"] for r in client.get("/api/customer-lists", headers=operator).json()["items"]] == [kept]
    assert [r["id"] for r in client.get("/api/customer-lists", params={"archived": True},
                                        headers=operator).json()["items"]] == [list_id]
    catalog = client.get("/api/audiences/catalog", headers=operator).json()
    assert [row["id"] for row in catalog["lists"]] == [kept]
    # An expression that already names the archived list still validates (it keeps serving its users).
    operator_user = bank.users["operator"]
    principal = Principal(user=operator_user, org=bank.head, token_hash="")
    assert DbCatalog(db, principal, {}).has_list(list_id)

    assert client.post(f"/api/customer-lists/{list_id}/restore", headers=login_headers(client, "rm_a")
                       ).status_code == 403
    restored = client.post(f"/api/customer-lists/{list_id}/restore", headers=operator)
    assert restored.status_code == 200 and restored.json()["archived_at"] is None
    assert client.get("/api/customer-lists", headers=operator).json()["total"] == 2
    assert _actions(db, list_id) == ["customer_list.create", "customer_list.archive", "customer_list.restore"]
    archive = db.scalar(select(AuditRecord).where(AuditRecord.action == "customer_list.archive"))
    assert archive.before == {"archived_at": None} and archive.after["archived_at"] is not None
