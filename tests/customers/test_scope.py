"""Customer visibility by org subtree and role, and masking of personal data (I1, A1, H3)."""

import pytest

from omniloop.customers.models import CustomerMonthly
from omniloop.org.roles import Role
from tests.factories import create_bank, create_customer, create_user, login_headers


@pytest.fixture
def bank_with_customers(db):
    bank = create_bank(db)
    c1 = create_customer(db, org=bank.sub_a, rm=bank.users["rm_a"], name="李小龙", phone="13900001111")
    c2 = create_customer(db, org=bank.sub_a, rm=bank.users["rm_a2"], name="王五")
    c3 = create_customer(db, org=bank.sub_b, rm=bank.users["rm_b"], name="赵六")
    db.commit()
    return bank, (c1, c2, c3)


def _numbers(client, headers, **params):
    response = client.get("/api/customers", headers=headers, params={"page_size": 200, **params})
    assert response.status_code == 200, response.text
    return {c["customer_no"] for c in response.json()["items"]}


@pytest.mark.parametrize("user,expected", [
    ("operator", {0, 1, 2}),
    ("manager_a", {0, 1}),
    ("rm_a", {0}),
    ("rm_b", {2}),
])
def test_list_is_scoped(client, bank_with_customers, user, expected):
    _, customers = bank_with_customers
    assert _numbers(client, login_headers(client, user)) == {customers[i].customer_no for i in expected}


def test_out_of_scope_customer_is_404(client, bank_with_customers):
    _, (c1, c2, c3) = bank_with_customers
    headers = login_headers(client, "rm_a")
    assert client.get(f"/api/customers/{c1.customer_no}", headers=headers).status_code == 200
    assert client.get(f"/api/customers/{c2.customer_no}", headers=headers).status_code == 404
    assert client.get(f"/api/customers/{c3.customer_no}", headers=headers).status_code == 404


def test_rm_sees_masked_personal_data(client, bank_with_customers):
    _, (c1, _, _) = bank_with_customers
    detail = client.get(f"/api/customers/{c1.customer_no}", headers=login_headers(client, "rm_a")).json()
    profile = detail["profile"]
    assert profile["phone"] == "139****1111"
    assert profile["name"] == "李*龙"
    assert profile["id_number"] == "1101**********0011"
    assert profile["masked"] is True


def test_admin_sees_unmasked_personal_data(client, bank_with_customers):
    _, (c1, _, _) = bank_with_customers
    items = client.get("/api/customers", headers=login_headers(client, "admin"), params={"q": c1.customer_no}).json()
    assert items["items"][0]["phone"] == "13900001111" and items["items"][0]["masked"] is False


def test_approver_without_customer_permission_is_403(client, bank_with_customers):
    assert client.get("/api/customers", headers=login_headers(client, "approver")).status_code == 403


def test_filters_and_pagination(client, db, bank_with_customers):
    bank, _ = bank_with_customers
    for i in range(25):
        create_customer(db, org=bank.sub_b, aum_fen=i * 100_000_00, segment="private" if i % 5 == 0 else "retail")
    db.commit()
    headers = login_headers(client, "operator")
    page2 = client.get("/api/customers", headers=headers, params={"page": 2, "page_size": 10}).json()
    assert page2["total"] == 28 and len(page2["items"]) == 10 and page2["page"] == 2
    assert len(_numbers(client, headers, segment="private")) == 5
    assert len(_numbers(client, headers, org_id=bank.branch_a.id)) == 2
    rich = client.get("/api/customers", headers=headers, params={"sort": "-aum", "page_size": 1}).json()["items"][0]
    assert rich["aum_fen"] == 24 * 100_000_00
    bad = client.get("/api/customers", headers=headers, params={"page_size": 10_000})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"


def test_customer_360_has_holdings_trend_and_rm(client, db, bank_with_customers):
    from datetime import date

    bank, (c1, _, _) = bank_with_customers
    for m in range(1, 13):
        db.add(CustomerMonthly(customer_id=c1.id, month=date(2026, m, 1), aum_fen=m * 1000_00, app_logins=m))
    db.commit()
    detail = client.get(f"/api/customers/{c1.customer_no}", headers=login_headers(client, "manager_a")).json()
    assert [p["aum_fen"] for p in detail["monthly"]] == [m * 1000_00 for m in range(1, 13)]
    assert detail["rm"]["username"] == "rm_a"
    assert detail["org"]["path_names"] == ["总行", "杭州分行", "西湖支行"]
    assert detail["holdings"]["deposit_fen"] == 12_345_600
    assert detail["profile"]["age"] is not None


def test_branch_admin_does_not_get_head_office_data(client, db, bank_with_customers):
    bank, _ = bank_with_customers
    create_user(db, org=bank.branch_b, role=Role.admin, username="admin_b")
    db.commit()
    assert len(_numbers(client, login_headers(client, "admin_b"))) == 1
