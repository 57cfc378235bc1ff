"""The trigger API: validation (422 with field paths), permissions, scoping and masking of firing history,
status changes with audit, and the editor's "test against recent events"."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from omniloop.core.audit import AuditRecord
from tests.factories import login_headers
from tests.triggers.conftest import ago, define, send, track


@pytest.mark.parametrize(("kind", "definition", "field"), [
    ("event", {}, "definition.event"),
    ("event", {"event": "登录", "filters": [{"property": "amount", "op": "like", "value": 1}]}, "definition.filters.0.op"),
    ("event", {"event": "登录", "filters": [{"property": "amount", "op": "gt", "value": "abc", "type": "number"}]},
     "definition.filters.0.value"),
    ("event", {"event": "登录", "filters": [{"property": "d", "op": "between", "value": ["2026-12-31", "2026-01-01"],
                                            "type": "date"}]}, "definition.filters.0.value"),
    ("event", {"event": "登录", "filters": [{"property": "d", "op": "lt", "value": "2026-13-01", "type": "date"}]},
     "definition.filters.0.value"),
    ("event", {"event": "登录", "filters": [{"property": "bad name!", "op": "exists"}]}, "definition.filters.0.property"),
    ("first_time", {"event": "绑卡", "window_days": 0}, "definition.window_days"),
    ("breakpoint", {"event": "点击绑卡", "then_event": "绑卡完成"}, "definition.within_seconds"),
    ("breakpoint", {"event": "点击绑卡", "then_event": "点击绑卡", "within_seconds": 60}, "definition.then_event"),
    ("key_date", {"date_kind": "wedding"}, "definition.date_kind"),
    ("key_date", {"date_kind": "maturity", "product_types": ["gold"]}, "definition.product_types"),
    ("threshold", {"direction": "sideways", "value_fen": 1}, "definition.direction"),
    ("threshold", {"direction": "up"}, "definition.value_fen"),
])
def test_invalid_definitions_are_422_with_the_field(client, operator, kind, definition, field):
    r = client.post("/api/triggers", json={"name": "坏的", "kind": kind, "definition": definition}, headers=operator)
    assert r.status_code == 422, r.text
    body = r.json()["error"]
    assert body["code"] == "invalid_definition"
    assert field in [d["field"] for d in body["details"]], body["details"]
    assert all(d["message_zh"] and d["message_en"] for d in body["details"])


def test_unknown_kind_and_out_of_range_test_days_are_422(client, operator):
    r = client.post("/api/triggers", json={"name": "x", "kind": "magic", "definition": {}}, headers=operator)
    assert r.status_code == 422
    r = client.post("/api/triggers/test", json={"kind": "event", "definition": {"event": "登录"}, "days": 99},
                    headers=operator)
    assert r.status_code == 422


def test_permissions_manage_to_edit_read_to_view(client, world, operator):
    trigger = define(client, operator, "event", {"event": "登录"}, status="draft")
    assert trigger["status"] == "draft" and trigger["editable"] is True
    rm = login_headers(client, "rm_a")
    manager = login_headers(client, "manager_a")
    approver = login_headers(client, "approver")
    assert client.get("/api/triggers").status_code == 401
    assert client.get("/api/triggers", headers=approver).status_code == 403  # no events.read
    listed = client.get("/api/triggers", headers=rm)
    assert listed.status_code == 200 and [t["id"] for t in listed.json()["items"]] == [trigger["id"]]
    assert listed.json()["items"][0]["editable"] is False
    for headers in (rm, manager):
        assert client.post("/api/triggers", json={"name": "x", "kind": "event", "definition": {"event": "a"}},
                           headers=headers).status_code == 403
        assert client.patch(f"/api/triggers/{trigger['id']}", json={"name": "y"}, headers=headers).status_code == 403
        assert client.post(f"/api/triggers/{trigger['id']}/activate", headers=headers).status_code == 403
    assert client.get("/api/triggers/999999", headers=rm).status_code == 404
    assert client.get("/api/triggers/catalog", headers=rm).json()["kinds"][0]["value"] == "event"


def test_status_changes_are_audited_and_checked(client, db, world, operator):
    trigger = define(client, operator, "event", {"event": "登录"}, status="draft")
    tid = trigger["id"]
    assert client.post(f"/api/triggers/{tid}/pause", headers=operator).status_code == 409
    active = client.post(f"/api/triggers/{tid}/activate", headers=operator).json()
    assert active["status"] == "active" and active["active_since"]
    changed = client.patch(f"/api/triggers/{tid}", json={"definition": {"event": "登录", "filters": [
        {"property": "channel", "op": "eq", "value": "app"}]}}, headers=operator).json()
    assert changed["version"] == 2 and changed["definition"]["filters"][0]["type"] == "string"
    assert client.post(f"/api/triggers/{tid}/archive", headers=operator).json()["status"] == "archived"
    assert client.patch(f"/api/triggers/{tid}", json={"name": "z"}, headers=operator).status_code == 409
    assert client.get("/api/triggers", headers=operator).json()["total"] == 0  # archived are hidden by default
    assert client.get("/api/triggers?status=archived", headers=operator).json()["total"] == 1
    db.rollback()
    actions = db.scalars(select(AuditRecord.action).where(AuditRecord.entity_type == "trigger",
                                                          AuditRecord.entity_id == str(tid))
                         .order_by(AuditRecord.id)).all()
    assert actions == ["create", "activate", "update", "archive"]


def test_firing_history_is_scoped_by_org_and_rm_and_masked(client, db, world, operator, runner):
    a1, a2, b1 = (world["customers"][k] for k in ("a1", "a2", "b1"))
    trigger = define(client, operator, "event", {"event": "登录"})
    send(client, track(a1.customer_no, "登录", {"channel": "app"}), track(a2.customer_no, "登录"),
         track(b1.customer_no, "登录"))
    runner.tail_once()

    def seen(username: str) -> list[dict]:
        r = client.get(f"/api/triggers/{trigger['id']}/firings", headers=login_headers(client, username))
        assert r.status_code == 200, r.text
        return r.json()["items"]

    assert {f["customer_no"] for f in seen("operator")} == {a1.customer_no, a2.customer_no, b1.customer_no}
    assert {f["customer_no"] for f in seen("manager_a")} == {a1.customer_no, a2.customer_no}
    assert [f["customer_no"] for f in seen("rm_a")] == [a1.customer_no]
    (mine,) = seen("rm_a")
    assert mine["customer_name"] == "王*明" and mine["masked"] is True
    assert mine["events"][0]["name"] == "登录" and mine["events"][0]["properties"] == {"channel": "app"}
    admin = {f["customer_no"]: f for f in seen("admin")}
    assert admin[a1.customer_no]["customer_name"] == "王小明" and admin[a1.customer_no]["masked"] is False
    listed = client.get("/api/triggers", headers=login_headers(client, "rm_a")).json()["items"][0]
    assert listed["firings_today"] == 1 and listed["firings_total"] == 1 and listed["last_fired_at"]
    ops_row = client.get("/api/triggers", headers=operator).json()["items"][0]
    assert ops_row["firings_today"] == 3

    newest = max(f["id"] for f in seen("operator"))
    after = client.get(f"/api/triggers/{trigger['id']}/firings?after_id={newest}", headers=operator).json()
    assert after["items"] == []


def test_test_against_recent_events(client, db, world, operator):
    a1, a2, b1 = (world["customers"][k] for k in ("a1", "a2", "b1"))
    send(client,
         track(a1.customer_no, "点击绑卡", {"flow_id": "1"}, ts=ago(hours=5)),
         track(a1.customer_no, "绑卡完成", {"flow_id": "1"}, ts=ago(hours=5, minutes=-3)),
         track(a2.customer_no, "点击绑卡", {"flow_id": "2"}, ts=ago(hours=4)),
         track(b1.customer_no, "点击绑卡", {"flow_id": "3"}, ts=ago(days=2)),
         track(b1.customer_no, "点击绑卡", {"flow_id": "4"}, ts=ago(days=20)))
    definition = {"event": "点击绑卡", "then_event": "绑卡完成", "within_seconds": 1800, "match_key": "flow_id"}
    r = client.post("/api/triggers/test", json={"kind": "breakpoint", "definition": definition, "days": 7},
                    headers=operator)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["customers"] == 2 and result["firings"] == 2 and result["events_scanned"] == 4
    assert {c["customer_no"] for c in result["sample"]} == {a2.customer_no, b1.customer_no}
    assert all("*" in c["customer_name"] for c in result["sample"])  # the operator may not see names
    rm = client.post("/api/triggers/test", json={"kind": "breakpoint", "definition": definition, "days": 30},
                     headers=login_headers(client, "rm_b")).json()
    assert rm["customers"] == 1 and rm["firings"] == 2  # only b1 is rm_b's, with two flows in 30 days
    bad = client.post("/api/triggers/test", json={"kind": "breakpoint", "definition": {"event": "x"}},
                      headers=operator)
    assert bad.status_code == 422
