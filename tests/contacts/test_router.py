"""The contact-control API: rules, suppression lists (with upload), consents, contacts, dry-run decisions."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from omniloop.contacts import service
from omniloop.contacts.models import ContactRule, OutboxMessage
from omniloop.contacts.policy import Proposal
from omniloop.core.audit import AuditRecord
from tests.contacts.factories import create_campaign
from tests.factories import create_bank, create_customer, login_headers


def test_rules_crud_validation_audit_and_permissions(client, db):
    create_bank(db)
    assert client.get("/api/contact-rules").status_code == 401
    analyst_less = login_headers(client, "manager_a")
    assert client.get("/api/contact-rules", headers=analyst_less).status_code == 403
    h = login_headers(client, "operator")
    bad = client.post("/api/contact-rules", headers=h, json={"kind": "cap", "name": "x", "channel": "sms"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_contact_rule"
    assert {d["field"] for d in bad.json()["error"]["details"]} == {"window_hours", "max_contacts"}
    r = client.post("/api/contact-rules", headers=h, json={
        "kind": "cap", "name": "短信每周2次", "channel": "sms", "window_hours": 168, "max_contacts": 2,
        "min_interval_hours": 5})
    assert r.status_code == 201, r.text
    rule = r.json()
    assert rule["summary_zh"] == "sms 滚动7天内最多2次" and rule["min_interval_hours"] is None
    quiet = client.post("/api/contact-rules", headers=h, json={
        "kind": "quiet_hours", "name": "夜间", "channel": "sms", "quiet_start": "21:00", "quiet_end": "08:00"})
    assert quiet.status_code == 201 and quiet.json()["quiet_start"] == "21:00:00"
    tz = client.patch(f"/api/contact-rules/{quiet.json()['id']}", headers=h, json={"timezone": "Mars/Base"})
    assert tz.status_code == 422 and tz.json()["error"]["details"][0]["code"] == "unknown_timezone"
    listed = client.get("/api/contact-rules", headers=h).json()
    assert len(listed["items"]) == 2 and "滚动" in listed["rolling_note_zh"]
    r = client.patch(f"/api/contact-rules/{rule['id']}", headers=h, json={"max_contacts": 3, "enabled": False})
    assert r.json()["max_contacts"] == 3 and r.json()["enabled"] is False
    assert client.delete(f"/api/contact-rules/{rule['id']}", headers=h).status_code == 204
    assert client.delete(f"/api/contact-rules/{rule['id']}", headers=h).status_code == 404
    db.expire_all()
    assert db.scalar(select(ContactRule.id).where(ContactRule.id == rule["id"])) is None
    actions = [a for (a,) in db.execute(select(AuditRecord.action).where(AuditRecord.entity_type == "contact_rule")
                                        .order_by(AuditRecord.id))]
    assert actions == ["create", "create", "update", "delete"]


def test_suppression_lists_entries_and_upload_are_scoped(client, db):
    bank = create_bank(db)
    mine = create_customer(db, org=bank.sub_a, customer_no="C100000001")
    create_customer(db, org=bank.sub_b, customer_no="C100000002")
    db.commit()
    h = login_headers(client, "operator")
    bad = client.post("/api/suppression-lists", headers=h, json={"name": "x", "kind": "dnd", "channel": "sms"})
    assert bad.json()["error"]["code"] == "dnd_list_scoped"
    dnd = client.post("/api/suppression-lists", headers=h, json={"name": "全局免打扰", "kind": "dnd"}).json()
    r = client.post(f"/api/suppression-lists/{dnd['id']}/entries", headers=h,
                    json={"customer_nos": ["C100000001", "NOPE"], "reason": "客户要求"})
    assert r.json() | {} == r.json() and (r.json()["added"], r.json()["unknown"]) == (1, ["NOPE"])
    csv = "客户号,备注\nC100000001,x\nC100000002,y\n".encode()
    r = client.post(f"/api/suppression-lists/{dnd['id']}/upload", headers=h, data={"reason": "批量"},
                    files={"file": ("list.csv", csv, "text/csv")})
    assert r.status_code == 200, r.text
    assert (r.json()["added"], r.json()["already"]) == (1, 1)
    entries = client.get(f"/api/suppression-lists/{dnd['id']}/entries", headers=h).json()
    assert entries["total"] == 2 and entries["items"][0]["customer_name"] != "张三丰"  # masked
    assert client.get(f"/api/suppression-lists/{dnd['id']}", headers=h).json()["entry_count"] == 2
    decided = client.post("/api/contacts/decide", headers=h, json={"customer_nos": [mine.customer_no],
                                                                   "channels": ["sms"]}).json()
    assert decided["results"][0]["reason"] == "dnd" and decided["results"][0]["reason_zh"] == "全局免打扰"
    r = client.post(f"/api/suppression-lists/{dnd['id']}/entries/remove", headers=h,
                    json={"customer_nos": ["C100000001"]})
    assert r.json()["removed"] == 1
    assert client.get("/api/suppression-lists?kind=dnd", headers=h).json()["total"] == 1
    assert client.delete(f"/api/suppression-lists/{dnd['id']}", headers=h).status_code == 204


def test_consents_are_honoured_at_once_and_scoped(client, db):
    bank = create_bank(db)
    customer = create_customer(db, org=bank.sub_a, rm=bank.users["rm_a"], customer_no="C200000001")
    db.commit()
    rm = login_headers(client, "rm_a")
    other_rm = login_headers(client, "rm_b")
    op = login_headers(client, "operator")
    assert client.get(f"/api/customers/{customer.customer_no}/consents", headers=other_rm).status_code == 404
    r = client.post(f"/api/customers/{customer.customer_no}/consents", headers=rm,
                    json={"channel": "sms", "status": "withdrawn", "source": "branch", "note": "柜台退订"})
    assert r.status_code == 201 and r.json()["source"] == "branch"
    overview = client.get(f"/api/customers/{customer.customer_no}/consents", headers=rm).json()
    sms = next(c for c in overview["current"] if c["channel"] == "sms")
    assert (sms["status"], sms["effective"]) == ("withdrawn", False)
    email = next(c for c in overview["current"] if c["channel"] == "email")
    assert (email["status"], email["effective"], email["default"]) == (None, False, "blocked")
    decided = client.post("/api/contacts/decide", headers=op, json={
        "customer_nos": [customer.customer_no, "C999"], "channels": ["sms", "rm_task"]}).json()
    assert (decided["results"][0]["channel"], decided["results"][0]["outcome"]) == ("rm_task", "allowed")
    assert decided["results"][0]["detail"]["tried"][0]["reason"] == "no_consent"
    assert decided["unknown"] == ["C999"]


def test_customer_contacts_timeline_and_receipt(client, db):
    bank = create_bank(db)
    customer = create_customer(db, org=bank.sub_a, customer_no="C300000001")
    campaign = create_campaign(db, bank.head)
    db.commit()
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    decisions = service.evaluate(db, proposals=[Proposal(campaign.id, "wave:1", customer.id, ("sms",), at=now)],
                                 now=now)
    service.record(db, campaign_id=campaign.id, wave_id=1, occasion="wave:1", decisions=decisions, now=now)
    db.commit()
    h = login_headers(client, "operator")
    page = client.get(f"/api/customers/{customer.customer_no}/contacts", headers=h).json()
    assert page["total"] == 2 and {i["kind"] for i in page["items"]} == {"decision", "message"}
    message = next(i for i in page["items"] if i["kind"] == "message")
    assert message["status"] == "pending" and message["campaign_name"] == campaign.name
    # A receipt for a row not sent yet changes nothing; once an adapter has sent it, it applies.
    r = client.post(f"/api/outbox/{message['id']}/receipt", headers=h, json={"status": "delivered"})
    assert r.json()["status"] == "pending"
    db.execute(update(OutboxMessage).where(OutboxMessage.id == message["id"]).values(status="sent"))
    db.commit()
    r = client.post(f"/api/outbox/{message['id']}/receipt", headers=h, json={"status": "bogus"})
    assert r.status_code == 422
    r = client.post(f"/api/outbox/{message['id']}/receipt", headers=h, json={"status": "failed", "error": "空号"})
    assert r.status_code == 200 and r.json()["status"] == "failed"
    assert client.post("/api/outbox/999999/receipt", headers=h, json={"status": "failed"}).status_code == 404
    assert client.get(f"/api/customers/{customer.customer_no}/contacts?kind=decision",
                      headers=h).json()["total"] == 1
    meta = client.get("/api/contact-policy/meta", headers=h).json()
    assert meta["adapters"]["sms"] == "sink" and any(r["code"] == "dnd" for r in meta["reasons"])
