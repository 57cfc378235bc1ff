"""Console API: sources and keys (permissions, key shown once, audit), event search scoped by org and role,
the live stream, the schema browser, customer timelines and identities."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from omniloop.core.audit import AuditRecord
from omniloop.events.models import EventSource
from omniloop.events.service import key_digest
from tests.events.test_ingest import post
from tests.factories import login_headers


def _seed(client, world) -> dict:
    c = world["customers"]
    batch = [{"type": "track", "userId": c[k].customer_no, "event": "登录", "messageId": f"{k}-login",
              "properties": {"channel": "app"}} for k in ("a1", "a2", "b1")]
    batch += [{"type": "page", "userId": c["a1"].customer_no, "name": "理财产品", "messageId": "a1-page",
               "properties": {"product_code": "W001", "price_fen": 100, "hot": True}},
              {"type": "track", "anonymousId": "anon-z", "event": "浏览", "messageId": "anon"}]
    assert post(client, "/v1/batch", {"batch": batch}).status_code == 200
    return c


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.text
    return {e["message_id"] for e in response.json()["items"]}


def test_sources_crud_key_shown_once_and_audited(client, db, world):
    admin = login_headers(client, "admin")
    created = client.post("/api/event-sources", json={"name": "官网", "kind": "web", "description": "PC 官网"},
                          headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["write_key"]
    assert body["key_prefix"] == key[:8] and body["org_id"] == world["bank"].head.id
    source = db.scalar(select(EventSource).where(EventSource.id == body["id"]))
    assert source.key_hash == key_digest(key) and key not in (source.key_prefix, source.key_hash)
    got = client.get(f"/api/event-sources/{body['id']}", headers=admin).json()
    assert "write_key" not in got and got["name"] == "官网"
    listed = client.get("/api/event-sources", headers=admin).json()
    assert listed["total"] == 3 and all("write_key" not in s for s in listed["items"])
    audit = db.scalars(select(AuditRecord).where(AuditRecord.entity_type == "event_source",
                                                 AuditRecord.entity_id == str(body["id"]))).all()
    assert [a.action for a in audit] == ["create"] and "key_hash" not in audit[0].after
    assert post(client, "/v1/track", {"anonymousId": "a", "event": "x"}, key=key).status_code == 200


def test_source_permissions_and_scope(client, db, world):
    manager = login_headers(client, "manager_a")  # events.read, not sources.manage
    assert client.post("/api/event-sources", json={"name": "x", "kind": "web"}, headers=manager).status_code == 403
    assert client.get("/api/event-sources", headers=manager).json()["total"] == 1  # the branch-A partner only
    assert client.get(f"/api/event-sources/{world['app'].id}", headers=manager).status_code == 404
    approver = login_headers(client, "approver")
    assert client.get("/api/event-sources", headers=approver).status_code == 403
    assert client.get("/api/event-sources").status_code == 401
    operator = login_headers(client, "operator")
    bad_org = client.post("/api/event-sources", json={"name": "x", "kind": "partner", "org_id": 999999},
                          headers=operator)
    assert bad_org.status_code == 404
    assert client.patch(f"/api/event-sources/{world['app'].id}", json={"name": "手机银行 App"},
                        headers=operator).json()["name"] == "手机银行 App"


def test_event_search_is_scoped_by_org_and_role(client, db, world):
    _seed(client, world)
    everything = {"a1-login", "a2-login", "b1-login", "a1-page", "anon"}
    assert _ids(client.get("/api/events", headers=login_headers(client, "admin"))) == everything
    assert _ids(client.get("/api/events", headers=login_headers(client, "operator"))) == everything
    manager = login_headers(client, "manager_a")
    assert _ids(client.get("/api/events", headers=manager)) == {"a1-login", "a2-login", "a1-page"}
    rm = login_headers(client, "rm_a")
    assert _ids(client.get("/api/events", headers=rm)) == {"a1-login", "a1-page"}
    b1 = world["customers"]["b1"].customer_no
    assert client.get("/api/events", params={"customer_no": b1}, headers=manager).status_code == 404
    assert client.get(f"/api/customers/{b1}/events", headers=rm).status_code == 404
    assert client.get(f"/api/customers/{b1}/identities", headers=manager).status_code == 404
    assert client.get("/api/events", headers=login_headers(client, "approver")).status_code == 403


def test_event_search_filters_masking_and_cursor(client, db, world):
    c = _seed(client, world)
    admin, manager = login_headers(client, "admin"), login_headers(client, "manager_a")
    assert _ids(client.get("/api/events", params={"name": "登录"}, headers=admin)) == {
        "a1-login", "a2-login", "b1-login"}
    assert _ids(client.get("/api/events", params={"type": "page"}, headers=admin)) == {"a1-page"}
    assert _ids(client.get("/api/events", params={"customer_no": c["a1"].customer_no}, headers=admin)) == {
        "a1-login", "a1-page"}
    future = client.get("/api/events", params={"since": "2999-01-01T00:00:00Z"}, headers=admin)
    assert _ids(future) == set()
    assert client.get("/api/events", params={"since": "2026-01-01T00:00:00"}, headers=admin).status_code == 422
    page1 = client.get("/api/events", params={"limit": 2}, headers=admin).json()
    assert len(page1["items"]) == 2 and page1["next_before_id"] == page1["items"][-1]["id"]
    assert page1["items"][0]["id"] > page1["items"][1]["id"]  # newest first
    page2 = client.get("/api/events", params={"limit": 10, "before_id": page1["next_before_id"]},
                       headers=admin).json()
    assert len(page2["items"]) == 3 and page2["next_before_id"] is None
    named = {e["message_id"]: e for e in client.get("/api/events", headers=admin).json()["items"]}
    assert named["a1-login"]["customer_name"] == "张三丰" and named["a1-login"]["source_name"] == "手机银行"
    masked = {e["message_id"]: e for e in client.get("/api/events", headers=manager).json()["items"]}
    assert masked["a1-login"]["customer_name"] == "张*丰" and masked["a1-login"]["customer_no"] == c["a1"].customer_no


def test_live_stream_long_poll_returns_new_events(client, db, world):
    c = _seed(client, world)
    admin = login_headers(client, "admin")
    first = client.get("/api/events/stream", headers=admin).json()
    assert len(first["items"]) == 5 and first["last_id"] == first["items"][0]["id"]
    empty = client.get("/api/events/stream", params={"after_id": first["last_id"]}, headers=admin).json()
    assert empty == {"items": [], "last_id": first["last_id"]}

    def later():
        time.sleep(0.6)
        post(client, "/v1/track", {"userId": c["a2"].customer_no, "event": "转账", "messageId": "live"})

    thread = threading.Thread(target=later)
    thread.start()
    started = time.monotonic()
    waited = client.get("/api/events/stream", params={"after_id": first["last_id"], "wait": 10}, headers=admin)
    thread.join()
    assert [e["message_id"] for e in waited.json()["items"]] == ["live"]
    assert time.monotonic() - started < 8
    rm_b = login_headers(client, "rm_b")
    assert client.get("/api/events/stream", params={"after_id": first["last_id"]}, headers=rm_b).json()["items"] == []


def test_schema_browser_counts_names_and_property_types(client, db, world):
    _seed(client, world)
    post(client, "/v1/page", {"userId": world["customers"]["a2"].customer_no, "name": "理财产品",
                              "properties": {"product_code": 7}})
    schema = client.get("/api/events/schema", params={"days": 7}, headers=login_headers(client, "rm_a")).json()
    entries = {(e["type"], e["name"]): e for e in schema["items"]}
    login = entries[("track", "登录")]
    assert (login["count"], login["customers"]) == (3, 3)
    page = entries[("page", "理财产品")]
    props = {p["name"]: p for p in page["properties"]}
    assert props["product_code"]["types"] == ["integer", "string"] and props["product_code"]["seen"] == 2
    assert props["hot"]["types"] == ["boolean"] and page["sample_size"] == 2


def test_customer_timeline_and_identities(client, db, world):
    a1 = world["customers"]["a1"]
    post(client, "/v1/track", {"anonymousId": "dev-a1", "event": "打开App", "messageId": "t0",
                               "timestamp": "2026-01-01T08:00:00Z"})
    post(client, "/v1/identify", {"anonymousId": "dev-a1", "userId": a1.customer_no, "messageId": "t1",
                                  "timestamp": "2026-01-01T08:01:00Z"})
    post(client, "/v1/alias", {"previousId": a1.customer_no, "userId": "wx-a1", "messageId": "t2",
                               "timestamp": "2026-01-01T08:02:00Z"})
    post(client, "/v1/track", {"userId": "wx-a1", "event": "领券", "messageId": "t3",
                               "timestamp": "2026-01-02T09:00:00Z"})
    rm = login_headers(client, "rm_a")
    timeline = client.get(f"/api/customers/{a1.customer_no}/events", headers=rm).json()
    assert [e["message_id"] for e in timeline["items"]] == ["t3", "t2", "t1", "t0"] and timeline["total"] == 4
    only = client.get(f"/api/customers/{a1.customer_no}/events", params={"name": "领券"}, headers=rm).json()
    assert [e["message_id"] for e in only["items"]] == ["t3"]
    ids = client.get(f"/api/customers/{a1.customer_no}/identities", headers=rm).json()
    assert {(i["value"], i["kind"]) for i in ids["identities"]} == {("dev-a1", "anonymous"), ("wx-a1", "external")}
    assert [(m["identity"], m["via"]) for m in ids["merges"]] == [("wx-a1", "alias"), ("dev-a1", "identify")]
    assert ids["merges"][1]["events_attached"] == 1 and ids["merges"][1]["source_name"] == "手机银行"
    assert set(ids["user_ids"]) == {a1.customer_no, "wx-a1"}
