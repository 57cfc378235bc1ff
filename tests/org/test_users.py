"""User and org administration, scoped to the admin's subtree and audited (I1)."""

from sqlalchemy import select

from omniloop.core.audit import AuditRecord
from omniloop.org.roles import Role
from tests.factories import create_bank, create_user, login_headers


def test_admin_creates_user_and_it_is_audited(client, db):
    bank = create_bank(db)
    headers = login_headers(client, "admin")
    response = client.post("/api/users", headers=headers, json={
        "username": "new.rm", "display_name": "新客户经理", "org_id": bank.sub_b.id, "role": "rm",
        "password": "LongEnough1",
    })
    assert response.status_code == 201, response.text
    record = db.scalar(select(AuditRecord).where(AuditRecord.entity_type == "user", AuditRecord.action == "create",
                                                 AuditRecord.entity_id == str(response.json()["id"])))
    assert record is not None and record.actor_name == "admin"
    assert "password_hash" not in record.after
    audit = client.get("/api/audit", headers=headers, params={"entity_type": "user", "action": "create"}).json()
    assert any(item["entity_id"] == str(response.json()["id"]) for item in audit["items"])


def test_duplicate_username_is_409(client, db):
    bank = create_bank(db)
    headers = login_headers(client, "admin")
    body = {"username": "rm_a", "display_name": "x", "org_id": bank.sub_a.id, "role": "rm", "password": "LongEnough1"}
    response = client.post("/api/users", headers=headers, json=body)
    assert response.status_code == 409 and response.json()["error"]["details"] == {"field": "username"}


def test_short_password_is_422_with_field(client, db):
    bank = create_bank(db)
    headers = login_headers(client, "admin")
    body = {"username": "abc", "display_name": "x", "org_id": bank.sub_a.id, "role": "rm", "password": "short"}
    response = client.post("/api/users", headers=headers, json=body)
    assert response.status_code == 422
    assert ["body", "password"] in [d["loc"] for d in response.json()["error"]["details"]]


def test_branch_admin_sees_only_subtree_users(client, db):
    bank = create_bank(db)
    create_user(db, org=bank.branch_a, role=Role.admin, username="admin_a")
    db.commit()
    headers = login_headers(client, "admin_a")
    names = {u["username"] for u in client.get("/api/users", headers=headers, params={"page_size": 200}).json()["items"]}
    assert names == {"admin_a", "manager_a", "rm_a", "rm_a2"}
    # a user of another branch is "not found", and cannot be created there
    assert client.get(f"/api/users/{bank.users['rm_b'].id}", headers=headers).status_code == 404
    body = {"username": "x.y", "display_name": "x", "org_id": bank.sub_b.id, "role": "rm", "password": "LongEnough1"}
    assert client.post("/api/users", headers=headers, json=body).status_code == 404


def test_non_admin_cannot_manage_users(client, db):
    create_bank(db)
    response = client.get("/api/users", headers=login_headers(client, "operator"))
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


def test_disabling_user_revokes_their_sessions(client, db):
    bank = create_bank(db)
    rm_headers = login_headers(client, "rm_a")
    admin = login_headers(client, "admin")
    response = client.patch(f"/api/users/{bank.users['rm_a'].id}", headers=admin, json={"is_active": False})
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert client.get("/api/auth/me", headers=rm_headers).status_code == 401


def test_org_tree_is_subtree_of_caller(client, db):
    create_bank(db)
    tree = client.get("/api/orgs/tree", headers=login_headers(client, "manager_a")).json()
    assert tree["name"] == "杭州分行"
    assert [c["name"] for c in tree["children"]] == ["西湖支行"]


def test_org_level_validation(client, db):
    bank = create_bank(db)
    headers = login_headers(client, "admin")
    response = client.post("/api/orgs", headers=headers, json={
        "code": "BAD1", "name": "错误分行", "level": "branch", "parent_id": bank.sub_a.id})
    assert response.status_code == 422 and response.json()["error"]["details"]["field"] == "level"
    ok = client.post("/api/orgs", headers=headers, json={
        "code": "SUB9", "name": "新支行", "level": "sub_branch", "parent_id": bank.branch_b.id})
    assert ok.status_code == 201
