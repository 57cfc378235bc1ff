"""The demo plans seed: a default countersign template and plans in every state, idempotent."""

from __future__ import annotations

from sqlalchemy import select

from omniloop.campaigns.models import Campaign
from omniloop.core.audit import Actor
from omniloop.demo.plans import seed_plans
from omniloop.plans.models import Plan
from tests.factories import create_bank


def test_seed_plans_covers_every_state_and_runs_once(db):
    bank = create_bank(db)
    operator = bank.users["operator"]
    result = seed_plans(db, actor=Actor(operator.id, operator.username), seed=7)
    assert result == {"created": True, "plans": 5}
    statuses = sorted(db.scalars(select(Plan.status)).all())
    assert statuses == ["approved", "approved", "draft", "in_review", "rejected"]
    revised = db.scalar(select(Plan).where(Plan.status == "rejected"))
    assert revised.version == 2
    assert len(db.scalars(select(Campaign)).all()) == 2
    assert db.scalar(select(Plan).where(Plan.source_type == "insight_alert")).status == "draft"
    assert seed_plans(db, actor=Actor(operator.id, operator.username)) == {"created": False}
    assert len(db.scalars(select(Plan)).all()) == 5
