"""Wave execution end to end: members, decisions, outbox rows, benefit grants; re-runs and crashes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from omniloop.audiences.engine import engine_for
from omniloop.benefits.models import Benefit, BenefitGrant
from omniloop.campaigns import config, execution, lifecycle, waves
from omniloop.campaigns.models import Campaign, CampaignMember, CampaignWave
from omniloop.campaigns.schemas import ConfigUpdate, WaveCreate
from omniloop.contacts.models import ContactDecision, OutboxMessage
from omniloop.core.db import session_factory
from omniloop.customers.models import Customer
from omniloop.org.models import Org
from tests.audiences.bank_data import bank_with_tags
from tests.campaigns.factories import approved_campaign, create_audience, create_benefit, create_template
from tests.plans.factories import principal


def _count(db, model, **where):
    stmt = select(func.count()).select_from(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return db.scalar(stmt)


@pytest.fixture
def setup(db, settings):
    bank = bank_with_tags(db, settings.home)
    campaign = approved_campaign(db, bank)
    audience = create_audience(db, bank)
    template = create_template(db, bank, channel="sms")
    benefit = create_benefit(db, bank, inventory=40)
    operator = principal(db, bank.users["operator"])
    config.update_config(session=db, principal=operator, campaign=campaign, data=ConfigUpdate(
        audience_id=audience.id, channels=["sms"], template_ids={"sms": template.id}, benefit_id=benefit.id,
        control_pct=20))
    wave = waves.create_wave(session=db, principal=operator, campaign=campaign, data=WaveCreate(name="第一波"))
    db.commit()
    lifecycle.transition(db, campaign=campaign, action="ready", actor=operator.actor)
    lifecycle.transition(db, campaign=campaign, action="launch", actor=operator.actor)
    db.commit()
    return bank, campaign, wave, benefit


def _in_branch_a(db, bank) -> set[int]:
    path = db.get(Org, bank.branch_a.id).path
    return set(db.scalars(select(Customer.id).join(Org, Org.id == Customer.org_id).where(Org.path.like(path + "%"))))


def _totals(db, campaign_id):
    return (_count(db, CampaignMember, campaign_id=campaign_id), _count(db, ContactDecision, campaign_id=campaign_id),
            _count(db, OutboxMessage, campaign_id=campaign_id), _count(db, BenefitGrant, campaign_id=campaign_id))


def test_a_wave_end_to_end_and_a_rerun_writes_nothing_twice(db, engine, settings, setup):
    bank, campaign, wave, benefit = setup
    assert db.get(CampaignWave, wave.id).job_id is not None  # launch queued the wave's job
    result = execution.run_wave(session_factory(engine), wave_id=wave.id, engine=engine_for(settings.home))
    db.expire_all()
    assert result["status"] == "done"
    members = db.execute(select(CampaignMember.customer_id, CampaignMember.cell, CampaignMember.filtered_reason)
                         .where(CampaignMember.campaign_id == campaign.id)).all()
    assert len(members) == len(bank.customers)  # the operator's snapshot holds every customer
    in_scope = _in_branch_a(db, bank)
    assert {cid for cid, cell, reason in members if reason == "out_of_scope"} == \
        {c.id for c in bank.customers} - in_scope  # the campaign belongs to branch A
    cells = {cid: cell for cid, cell, _ in members if cell != "filtered"}
    control = [c for c in cells.values() if c == "control"]
    assert 0 < len(control) < len(cells) * 0.4
    main = {cid for cid, cell in cells.items() if cell == "main"}
    decided = dict(db.execute(select(ContactDecision.customer_id, ContactDecision.outcome)
                              .where(ContactDecision.campaign_id == campaign.id)).all())
    assert set(decided) == main  # only the main cell is proposed; control is only recorded
    allowed = [cid for cid, outcome in decided.items() if outcome != "skipped"]
    grants = _count(db, BenefitGrant, campaign_id=campaign.id)
    assert grants == min(40, len(main)) and len(allowed) == grants  # the inventory caps who is contacted
    exhausted = _count(db, ContactDecision, campaign_id=campaign.id, reason=execution.BENEFIT_EXHAUSTED)
    assert exhausted == len(main) - grants
    assert db.get(Benefit, benefit.id).inventory_left == 40 - grants
    assert _count(db, OutboxMessage, campaign_id=campaign.id) == len(allowed)
    assert {r.occasion for r in db.scalars(select(OutboxMessage))} == {f"wave:{wave.id}"}
    funnel = db.get(CampaignWave, wave.id).funnel
    assert funnel["snapshot_size"] == len(bank.customers)
    assert funnel["filtered"]["out_of_scope"] == len(bank.customers) - len(in_scope)
    assert funnel["reasons"][execution.BENEFIT_EXHAUSTED] == exhausted
    assert db.get(Campaign, campaign.id).status == "completed"  # its only wave is done

    before = _totals(db, campaign.id)
    assert execution.run_wave(session_factory(engine), wave_id=wave.id, engine=engine_for(settings.home)) == \
        {"skipped": "done"}
    # Even forced to start over, the unique keys keep every row single.
    row = db.get(CampaignWave, wave.id)
    row.status, row.cursor = "running", 0
    db.get(Campaign, campaign.id).status = "running"
    db.commit()
    execution.run_wave(session_factory(engine), wave_id=wave.id, engine=engine_for(settings.home))
    db.expire_all()
    assert _totals(db, campaign.id) == before
    assert db.get(Benefit, benefit.id).inventory_left == 40 - before[3]


def test_a_crash_mid_wave_resumes_after_the_last_committed_chunk(db, engine, settings, setup, monkeypatch):
    bank, campaign, wave, _ = setup
    real = execution.run_chunk
    calls = {"n": 0}

    def crashing(session, ctx, items, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            real(session, ctx, items, **kw)  # wrote its rows, then dies before the commit
            raise RuntimeError("worker died")
        return real(session, ctx, items, **kw)

    monkeypatch.setattr(execution, "run_chunk", crashing)
    with pytest.raises(RuntimeError):
        execution.run_wave(session_factory(engine), wave_id=wave.id, engine=engine_for(settings.home), chunk_size=50)
    db.expire_all()
    row = db.get(CampaignWave, wave.id)
    ids = sorted(c.id for c in bank.customers)
    assert row.status == "running" and row.cursor == ids[99]  # two chunks of 50 committed
    assert _count(db, CampaignMember, campaign_id=campaign.id) == 100  # the third chunk rolled back
    monkeypatch.setattr(execution, "run_chunk", real)
    seen = []
    result = execution.run_wave(session_factory(engine), wave_id=wave.id, engine=engine_for(settings.home),
                                chunk_size=50, progress=lambda f, m: seen.append(f))
    assert result["status"] == "done" and result["chunks"] == 3  # 240 − 100 = 140 → three chunks
    assert seen[-1] == 1.0 and seen[0] > 100 / 240
    db.expire_all()
    assert _count(db, CampaignMember, campaign_id=campaign.id) == len(bank.customers)


def test_pause_holds_the_wave_and_resume_continues(db, engine, settings, setup):
    bank, campaign, wave, _ = setup
    operator = principal(db, bank.users["operator"])
    done = {"n": 0}

    def pause_after_first(fraction, message):
        done["n"] += 1
        if done["n"] == 1:
            with session_factory(engine)() as other:
                lifecycle.transition(other, campaign=other.get(Campaign, campaign.id), action="pause",
                                     actor=operator.actor)
                other.commit()

    result = execution.run_wave(session_factory(engine), wave_id=wave.id, engine=engine_for(settings.home),
                                chunk_size=100, progress=pause_after_first)
    assert result["held"] == "paused" and result["chunks"] == 1
    db.expire_all()
    assert db.get(CampaignWave, wave.id).status == "paused"
    assert _count(db, CampaignMember, campaign_id=campaign.id) == 100
    lifecycle.transition(db, campaign=db.get(Campaign, campaign.id), action="resume", actor=operator.actor)
    db.commit()
    assert db.get(Campaign, campaign.id).status == "running"
    result = execution.run_wave(session_factory(engine), wave_id=wave.id, engine=engine_for(settings.home))
    assert result["status"] == "done"
    db.expire_all()
    assert _count(db, CampaignMember, campaign_id=campaign.id) == len(bank.customers)
