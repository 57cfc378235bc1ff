"""The demo's running campaign: configured from an approved plan, first wave executed, contacts dispatched."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from omniloop.campaigns.models import Campaign, CampaignWave
from omniloop.contacts import dispatch
from omniloop.contacts.models import OutboxMessage
from omniloop.core.db import session_factory
from omniloop.demo.domains import seed_domains
from omniloop.demo.layout import DEMO_PASSWORD
from omniloop.demo.seed import seed_demo
from tests.factories import login_headers


def test_demo_campaign_runs_a_wave_and_its_contacts_reach_the_360_page(db, engine, client, settings):
    seed_demo(db, customers=400, as_of=date(2026, 10, 1))
    db.commit()
    summary = seed_domains(engine, home=settings.home)
    assert summary.campaigns["created"] is True and summary.campaigns["wave"] == "done"
    campaign = db.scalar(select(Campaign).where(Campaign.code == summary.campaigns["campaign"]))
    assert campaign.status == "running"  # the second wave is still scheduled
    waves = db.scalars(select(CampaignWave).where(CampaignWave.campaign_id == campaign.id)
                       .order_by(CampaignWave.seq)).all()
    assert [w.status for w in waves] == ["done", "scheduled"]
    assert waves[0].funnel["snapshot_size"] > 0
    sent = db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.campaign_id == campaign.id))
    assert sent > 0
    dispatch.dispatch_once(session_factory(engine))
    row = db.scalars(select(OutboxMessage).where(OutboxMessage.campaign_id == campaign.id)
                     .execution_options(populate_existing=True)).first()
    assert row.status == "delivered"
    # Seeding again changes nothing.
    assert seed_domains(engine, home=settings.home).campaigns["created"] is False
    operator = login_headers(client, "operator", DEMO_PASSWORD)
    detail = client.get(f"/api/campaigns/{campaign.id}/detail", headers=operator).json()
    assert detail["outbox"].get("delivered", 0) >= 1 and detail["members"]["main"] > 0
