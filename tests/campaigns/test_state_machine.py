"""The campaign state machine over the API: legal and illegal transitions, the launch guard, audit; the
preview (dry run); event-triggered campaigns fed by trigger firings."""

from __future__ import annotations

from sqlalchemy import func, select

from omniloop.audiences.engine import engine_for
from omniloop.campaigns import streams
from omniloop.campaigns.models import Campaign, CampaignMember, CampaignWave
from omniloop.contacts.models import ContactDecision, OutboxMessage
from omniloop.core.audit import AuditRecord
from omniloop.core.db import session_factory
from omniloop.jobs.models import Job
from omniloop.triggers.models import Trigger, TriggerFiring
from tests.audiences.bank_data import bank_with_tags
from tests.campaigns.factories import approved_campaign, create_audience, create_benefit, create_template
from tests.factories import login_headers


def _post(client, headers, campaign_id, action, status=200):
    response = client.post(f"/api/campaigns/{campaign_id}/{action}", headers=headers)
    assert response.status_code == status, response.text
    return response.json()


def test_transitions_guards_and_audit(client, db, settings):
    bank = bank_with_tags(db, settings.home)
    campaign = approved_campaign(db, bank)
    audience = create_audience(db, bank)
    sms = create_template(db, bank, channel="sms")
    op = login_headers(client, "operator")
    cid = campaign.id

    incomplete = _post(client, op, cid, "ready", 409)["error"]
    assert incomplete["code"] == "campaign_incomplete"
    assert set(incomplete["details"]["missing"]) == {"audience_id", "channels", "waves"}
    client.patch(f"/api/campaigns/{cid}/config", json={"audience_id": audience.id, "channels": ["sms"],
                                                       "template_ids": {"sms": sms.id}, "test_pct": 10}, headers=op)
    client.post(f"/api/campaigns/{cid}/waves", json={"name": "第一波"}, headers=op)
    assert _post(client, op, cid, "launch", 409)["error"]["code"] == "illegal_transition"  # draft → running
    assert _post(client, op, cid, "ready")["status"] == "ready"
    assert _post(client, op, cid, "launch-test", 409)["error"]["code"] == "no_test_wave"
    client.post(f"/api/campaigns/{cid}/waves", json={"name": "试点", "kind": "test", "seq": 9}, headers=op)
    assert _post(client, op, cid, "launch-test")["status"] == "testing"
    test_wave = db.scalar(select(CampaignWave).where(CampaignWave.campaign_id == cid, CampaignWave.kind == "test"))
    full_wave = db.scalar(select(CampaignWave).where(CampaignWave.campaign_id == cid, CampaignWave.kind == "full"))
    db.expire_all()
    assert db.get(CampaignWave, test_wave.id).job_id is not None  # only the test wave is queued
    assert db.get(CampaignWave, full_wave.id).job_id is None
    assert _post(client, op, cid, "pause")["status"] == "paused"
    assert _post(client, op, cid, "pause", 409)["error"]["details"]["allowed_actions"] == ["resume", "stop"]
    assert _post(client, op, cid, "resume")["status"] == "testing"  # back to what it was
    detail = client.get(f"/api/campaigns/{cid}/detail", headers=op).json()
    assert detail["allowed_actions"] == ["launch", "pause", "stop"] and len(detail["waves"]) == 2

    # The launch guard: a plan whose approved version changed cannot launch.
    row = db.get(Campaign, cid)
    row.plan_version = 99
    db.commit()
    assert _post(client, op, cid, "launch", 409)["error"]["code"] == "plan_not_approved"
    row.plan_version = 1
    db.commit()
    launched = _post(client, op, cid, "launch")
    assert launched["status"] == "running" and launched["launched_at"]
    db.expire_all()
    assert db.get(CampaignWave, full_wave.id).job_id is not None
    assert db.scalar(select(func.count()).select_from(Job).where(Job.name == "campaigns.wave")) == 2
    assert _post(client, op, cid, "stop")["status"] == "stopped"
    db.expire_all()
    assert {w.status for w in db.scalars(select(CampaignWave).where(CampaignWave.campaign_id == cid))} == {"cancelled"}
    assert _post(client, op, cid, "resume", 409)["error"]["code"] == "illegal_transition"
    actions = db.scalars(select(AuditRecord.action).where(AuditRecord.entity_type == "campaign")
                         .order_by(AuditRecord.id)).all()
    assert [a for a in actions if a.startswith("campaign.") and a not in ("campaign.create", "campaign.configure")] \
        == ["campaign.ready", "campaign.launch_test", "campaign.pause", "campaign.resume", "campaign.launch",
            "campaign.stop"]
    assert _post(client, login_headers(client, "manager_a"), cid, "pause", 403)


def test_preview_funnel_and_samples(client, db, settings):
    bank = bank_with_tags(db, settings.home)
    campaign = approved_campaign(db, bank)
    audience = create_audience(db, bank)
    sms = create_template(db, bank, channel="sms")
    benefit = create_benefit(db, bank, inventory=5)
    op = login_headers(client, "operator")
    client.patch(f"/api/campaigns/{campaign.id}/config", json={
        "audience_id": audience.id, "channels": ["sms"], "template_ids": {"sms": sms.id}, "benefit_id": benefit.id,
        "control_pct": 20, "test_pct": 10}, headers=op)
    body = client.post(f"/api/campaigns/{campaign.id}/preview", headers=op).json()
    steps = {s["step"]: s for s in body["funnel"]}
    assert body["audience_size"] == len(bank.customers)
    assert steps["audience"]["remaining"] == len(bank.customers)
    assert steps["out_of_scope"]["removed"] > 0  # the campaign belongs to branch A
    assert steps["control"]["removed"] > 0
    assert steps["benefit_inventory"]["remaining"] == 5
    assert steps["benefit_inventory"]["reasons"] == {"benefit_exhausted": steps["contact_policy"]["remaining"] - 5}
    assert body["policy_sampled"] is False
    assert body["samples"][0]["channel"] == "sms" and "您好" in body["samples"][0]["body"]
    test = client.post(f"/api/campaigns/{campaign.id}/preview?wave_kind=test", headers=op).json()
    assert {s["step"]: s for s in test["funnel"]}["cell"]["remaining"] < steps["cell"]["remaining"]
    # A dry run writes nothing.
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(ContactDecision)) == 0
    assert db.scalar(select(func.count()).select_from(CampaignMember)) == 0


def test_triggered_campaign_turns_each_firing_into_one_contact(client, db, engine, settings):
    bank = bank_with_tags(db, settings.home)
    campaign = approved_campaign(db, bank)
    trigger = Trigger(name="绑卡中断", kind="event", definition={}, status="active", owner_org_id=bank.head.id)
    db.add(trigger)
    db.commit()
    sms = create_template(db, bank, channel="sms")
    op = login_headers(client, "operator")
    assert client.patch(f"/api/campaigns/{campaign.id}/config", json={
        "mode": "triggered", "trigger_id": trigger.id, "channels": ["sms"], "template_ids": {"sms": sms.id}},
        headers=op).status_code == 200
    _post(client, op, campaign.id, "ready")
    _post(client, op, campaign.id, "launch")
    in_a = [c.id for c in bank.customers if c.org_id in (bank.branch_a.id, bank.sub_a.id)]
    firings = [TriggerFiring(trigger_id=trigger.id, customer_id=cid, occurrence_key=f"k{i}")
               for i, cid in enumerate([in_a[0], in_a[1], in_a[0]])]
    db.add_all(firings)
    db.commit()
    factory = session_factory(engine)
    assert streams.consume_firings(factory, campaign_id=campaign.id, engine=engine_for(settings.home)) == 3
    assert streams.consume_firings(factory, campaign_id=campaign.id, engine=engine_for(settings.home)) == 0
    db.expire_all()
    occasions = set(db.scalars(select(CampaignMember.occasion).where(CampaignMember.campaign_id == campaign.id)))
    assert occasions == {f"firing:{f.id}" for f in firings}
    wave = db.scalar(select(CampaignWave).where(CampaignWave.campaign_id == campaign.id))
    assert wave.cursor == firings[-1].id
    outbox = db.scalars(select(OutboxMessage.occasion).where(OutboxMessage.campaign_id == campaign.id)).all()
    assert set(outbox) <= occasions and len(outbox) >= 1
