"""Campaign configuration (D1–D8): validation with codes, editability by status, waves, global holdout."""

from __future__ import annotations

from sqlalchemy import select

from omniloop.campaigns.models import Campaign
from omniloop.core.audit import AuditRecord
from omniloop.org.roles import Role
from tests.campaigns.factories import approved_campaign, create_audience, create_benefit, create_template
from tests.factories import create_bank, create_user, login_headers


def _codes(response) -> set[str]:
    assert response.status_code == 422, response.text
    return {d["code"] for d in response.json()["error"]["details"]}


def test_config_validation_codes(client, db):
    bank = create_bank(db)
    campaign = approved_campaign(db, bank)
    sms = create_template(db, bank, channel="sms")
    push = create_template(db, bank, channel="app_push")
    inactive = create_benefit(db, bank, status="inactive")
    op = login_headers(client, "operator")
    url = f"/api/campaigns/{campaign.id}/config"

    assert _codes(client.patch(url, json={"audience_id": 999_999}, headers=op)) == {"audience_not_found"}
    assert _codes(client.patch(url, json={"mode": "triggered"}, headers=op)) == {"trigger_required"}
    assert _codes(client.patch(url, json={"channels": ["sms", "sms"]}, headers=op)) == {"duplicate_channel"}
    assert _codes(client.patch(url, json={"channels": ["fax"]}, headers=op)) == {"unknown_channel"}
    assert _codes(client.patch(url, json={"channels": ["sms"], "template_ids": {"sms": push.id}},
                               headers=op)) == {"template_channel_mismatch"}
    assert _codes(client.patch(url, json={"benefit_id": inactive.id}, headers=op)) == {"benefit_inactive"}
    assert _codes(client.patch(url, json={"success_rule_id": 12345}, headers=op)) == {"success_rule_not_found"}
    assert _codes(client.patch(url, json={"suppression_list_ids": [77]}, headers=op)) == {"suppression_list_not_found"}
    assert client.patch(url, json={"test_pct": 10, "control_pct": 55}, headers=op).status_code == 422
    assert client.patch(url, json={"test_pct": 11}, headers=op).status_code == 422
    assert client.patch(url, json={"priority": 0}, headers=op).status_code == 422

    audience = create_audience(db, bank)
    ok = client.patch(url, json={"mode": "batch", "audience_id": audience.id, "channels": ["app_push", "sms"],
                                 "template_ids": {"sms": sms.id, "app_push": push.id}, "priority": 7,
                                 "test_pct": 10, "control_pct": 20, "name": "绑卡激励（改）"}, headers=op)
    assert ok.status_code == 200, ok.text
    body = client.get(f"/api/campaigns/{campaign.id}", headers=op).json()
    assert (body["channels"], body["priority"], body["test_pct"], body["control_pct"], body["name"]) == \
        (["app_push", "sms"], 7, 10, 20, "绑卡激励（改）")
    assert body["missing"] == ["waves"]  # a batch campaign needs a wave
    # Dropping a channel drops its template.
    client.patch(url, json={"channels": ["sms"]}, headers=op)
    assert client.get(f"/api/campaigns/{campaign.id}", headers=op).json()["template_ids"] == {"sms": sms.id}
    actions = db.scalars(select(AuditRecord.action).where(AuditRecord.entity_type == "campaign")).all()
    assert actions.count("campaign.configure") == 2
    # A branch manager may read but not configure.
    assert client.patch(url, json={"priority": 3}, headers=login_headers(client, "manager_a")).status_code == 403


def test_scope_of_the_audience_is_the_callers(client, db):
    bank = create_bank(db)
    create_user(db, org=bank.branch_b, role=Role.operator, username="op_b")
    db.commit()
    campaign = approved_campaign(db, bank)
    other = create_audience(db, bank, org=bank.branch_b, name="宁波人群")
    campaign.owner_org_id = bank.head.id
    db.commit()
    # The head-office operator sees branch B's audience; branch A's manager could not even read the campaign.
    assert client.patch(f"/api/campaigns/{campaign.id}/config", json={"audience_id": other.id},
                        headers=login_headers(client, "operator")).status_code == 200
    own = create_audience(db, bank, org=bank.branch_a, name="杭州人群")
    assert client.get(f"/api/campaigns/{campaign.id}", headers=login_headers(client, "op_b")).status_code == 404
    assert own.id


def test_waves_crud_and_editability(client, db):
    bank = create_bank(db)
    campaign = approved_campaign(db, bank)
    op = login_headers(client, "operator")
    base = f"/api/campaigns/{campaign.id}/waves"
    first = client.post(base, json={"name": "试点", "kind": "test"}, headers=op)
    assert first.status_code == 201 and first.json()["seq"] == 1
    second = client.post(base, json={"name": "第一波", "scheduled_at": "2026-12-01T01:00:00Z"}, headers=op).json()
    assert second["seq"] == 2 and second["kind"] == "full"
    assert client.post(base, json={"name": "重复", "seq": 2}, headers=op).json()["error"]["code"] == "wave_seq_taken"
    patched = client.patch(f"{base}/{second['id']}", json={"name": "首波", "scheduled_at": None}, headers=op)
    assert patched.json()["name"] == "首波" and patched.json()["scheduled_at"] is None
    assert client.delete(f"{base}/{first.json()['id']}", headers=op).status_code == 204
    assert [w["name"] for w in client.get(base, headers=op).json()] == ["首波"]
    assert client.patch(f"{base}/999999", json={"name": "x"}, headers=op).status_code == 404

    campaign = db.get(Campaign, campaign.id)
    campaign.status = "running"
    db.commit()
    blocked = client.patch(f"/api/campaigns/{campaign.id}/config", json={"priority": 2}, headers=op)
    assert (blocked.status_code, blocked.json()["error"]["code"]) == (409, "campaign_not_editable")
    assert client.patch(f"/api/campaigns/{campaign.id}", json={"name": "x"}, headers=op).status_code == 409
    campaign.status = "paused"
    db.commit()
    assert client.patch(f"/api/campaigns/{campaign.id}/config", json={"priority": 2}, headers=op).status_code == 200
    locked = client.patch(f"/api/campaigns/{campaign.id}/config", json={"control_pct": 30}, headers=op)
    assert (locked.status_code, locked.json()["error"]["code"]) == (409, "field_locked_while_paused")
    campaign.status = "stopped"
    db.commit()
    assert client.post(base, json={"name": "迟到"}, headers=op).json()["error"]["code"] == "campaign_closed"


def test_global_holdout_settings(client, db):
    create_bank(db)
    op = login_headers(client, "operator")
    assert client.get("/api/holdout-settings", headers=op).json() == {"enabled": False, "pct": 0, "updated_at": None}
    put = client.put("/api/holdout-settings", json={"enabled": True, "pct": 5}, headers=op)
    assert put.status_code == 200 and (put.json()["enabled"], put.json()["pct"]) == (True, 5)
    assert client.put("/api/holdout-settings", json={"enabled": True, "pct": 11}, headers=op).status_code == 422
    manager = login_headers(client, "manager_a")
    assert client.get("/api/holdout-settings", headers=manager).status_code == 200
    assert client.put("/api/holdout-settings", json={"enabled": False, "pct": 0}, headers=manager).status_code == 403
    audit = db.scalars(select(AuditRecord).where(AuditRecord.action == "holdout.update")).all()
    assert len(audit) == 1 and "salt" not in (audit[0].after or {})
