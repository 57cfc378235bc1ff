"""Factories for the campaign elements' tests: a campaign to grant on, benefits, templates, success rules."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from omniloop.benefits.models import Benefit
from omniloop.campaigns.models import Campaign
from omniloop.org.models import Org, User
from tests.plans.factories import create_plan

_seq = itertools.count(1)


def create_campaign(session: Session, owner: User, org: Org) -> Campaign:
    plan = create_plan(session, owner)
    n = next(_seq)
    campaign = Campaign(code=f"MKT-T-{n:05d}", name=f"测试活动{n}", plan_id=plan.id, plan_version=1, owner_org_id=org.id)
    session.add(campaign)
    session.commit()
    return campaign


def create_benefit(session: Session, org: Org, **fields) -> Benefit:
    n = next(_seq)
    now = datetime.now(UTC)
    values = dict(code=f"BEN-T-{n:04d}", name=f"50元理财体验券{n}", kind="coupon", face_value_fen=5_000,
                  unit_cost_fen=5_000, inventory_total=100, inventory_left=100, budget_fen=None,
                  budget_used_fen=0, valid_from=now - timedelta(days=1), valid_to=now + timedelta(days=30),
                  status="active", owner_org_id=org.id)
    values.update(fields)
    if "inventory_total" in fields and "inventory_left" not in fields:
        values["inventory_left"] = values["inventory_total"]
    benefit = Benefit(**values)
    session.add(benefit)
    session.commit()
    return benefit
