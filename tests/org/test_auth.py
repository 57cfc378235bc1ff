"""Login, lockout, expiry, logout (I1)."""

from datetime import timedelta

from sqlalchemy import select

from omniloop.core.audit import AuditRecord
from omniloop.core.db import utcnow
from omniloop.org.models import LoginSession
from tests.factories import PASSWORD, create_bank, login_headers


def test_login_returns_token_and_me(client, db):
    create_bank(db)
    response = client.post("/api/auth/login", json={"username": "rm_a", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["me"]["user"]["username"] == "rm_a"
    assert body["me"]["role"]["code"] == "rm"
    assert "customers.pii" not in body["me"]["role"]["permissions"]
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.json()["org"]["name"] == "西湖支行"


def test_wrong_password_is_401_with_bilingual_error(client, db):
    create_bank(db)
    response = client.post("/api/auth/login", json={"username": "rm_a", "password": "nope"},
                           headers={"Accept-Language": "en-US,en;q=0.9"})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "login_failed"
    assert error["message"] == "Wrong username or password"
    assert error["message_zh"] == "用户名或密码错误"


def test_lockout_after_repeated_failures(client, db, settings):
    create_bank(db)
    for _ in range(settings.login_max_failures):
        assert client.post("/api/auth/login", json={"username": "rm_a", "password": "bad"}).status_code == 401
    locked = client.post("/api/auth/login", json={"username": "rm_a", "password": PASSWORD})
    assert locked.status_code == 423
    assert locked.json()["error"]["code"] == "account_locked"
    actions = db.scalars(select(AuditRecord.action).where(AuditRecord.entity_type == "user")).all()
    assert "locked" in actions


def test_admin_unlocks_a_locked_user(client, db, settings):
    bank = create_bank(db)
    for _ in range(settings.login_max_failures):
        client.post("/api/auth/login", json={"username": "rm_a", "password": "bad"})
    admin = login_headers(client, "admin")
    assert client.post(f"/api/users/{bank.users['rm_a'].id}/unlock", headers=admin).status_code == 200
    assert client.post("/api/auth/login", json={"username": "rm_a", "password": PASSWORD}).status_code == 200


def test_logout_revokes_token(client, db):
    create_bank(db)
    headers = login_headers(client, "operator")
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    response = client.get("/api/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "session_expired"


def test_expired_token_is_rejected(client, db):
    create_bank(db)
    headers = login_headers(client, "operator")
    for login in db.scalars(select(LoginSession)):
        login.expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    assert client.get("/api/auth/me", headers=headers).status_code == 401


def test_missing_and_garbage_tokens_are_401(client, db):
    assert client.get("/api/auth/me").status_code == 401
    response = client.get("/api/auth/me", headers={"Authorization": "Bearer garbage"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token"
