"""The demo's running campaign (营销活动执行): the approved plan "代发工资客户激活" configured end to end.

Two waves: the first has run when the demo starts (its contacts are in the outbox, and the demo worker's
dispatcher delivers them, so they show on customers' 360 pages); the second is scheduled a week later, so
the campaign stays ``running``. Idempotent: a campaign that is already configured is left alone.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from omniloop.audiences.engine import engine_for
from omniloop.audiences.models import Audience
from omniloop.benefits.models import Benefit
from omniloop.campaigns import config, execution, lifecycle, waves
from omniloop.campaigns.models import Campaign, CampaignWave
from omniloop.campaigns.schemas import ConfigUpdate, WaveCreate
from omniloop.content.models import MessageTemplate
from omniloop.core.db import utcnow
from omniloop.customers import lists as customer_lists
from omniloop.customers.models import Customer
from omniloop.org import service as org_service
from omniloop.org.auth import Principal
from omniloop.org.models import Org, User
from omniloop.plans.models import Plan
from omniloop.success.models import SuccessRule

PLAN_TITLE = "代发工资客户激活"
AUDIENCE_NAME = "代发工资客户激活·首批客群"
WAVE_SIZE = 200


def _operator(session: Session) -> Principal | None:
    user = session.scalar(select(User).where(User.role == "operator", User.is_active.is_(True)).order_by(User.id))
    return Principal(user=user, org=session.get(Org, user.org_id), token_hash="demo") if user else None


def _by_code(session: Session, model, code: str):
    return session.scalar(select(model).where(model.code == code))


def seed_campaigns(factory: sessionmaker[Session], *, home: Path) -> dict:
    """Configure, launch and run the first wave of the demo campaign; returns what was done."""
    with factory() as session:
        campaign = session.scalar(select(Campaign).join(Plan, Plan.id == Campaign.plan_id)
                                  .where(Plan.title == PLAN_TITLE).order_by(Campaign.id))
        operator = _operator(session)
        if campaign is None or operator is None:
            return {"campaign": None}
        if campaign.status != "draft" or campaign.audience_id is not None:
            return {"campaign": campaign.code, "created": False}
        owner_path = session.get(Org, campaign.owner_org_id).path
        cids = session.scalars(select(Customer.id).join(Org, Org.id == Customer.org_id)
                               .where(org_service.subtree_condition(Org.path, owner_path), Customer.phone.is_not(None))
                               .order_by(Customer.payroll_flag.desc(), Customer.id).limit(WAVE_SIZE)).all()
        members = customer_lists.create_list(session, actor=operator.actor, name=AUDIENCE_NAME,
                                             org_id=campaign.owner_org_id, cids=cids,
                                             created_by_id=operator.user.id)
        audience = Audience(name=AUDIENCE_NAME, description="演示：代发工资客户首批 200 人",
                            expression={"op": "list", "list_id": members.id}, org_id=campaign.owner_org_id,
                            created_by_id=operator.user.id, last_total=len(cids))
        session.add(audience)
        session.flush()
        push = _by_code(session, MessageTemplate, "TPL-PUSH-WM")
        sms = _by_code(session, MessageTemplate, "TPL-SMS-WM")
        benefit = _by_code(session, Benefit, "WM-EXP-50")
        rule = session.scalar(select(SuccessRule).where(SuccessRule.name.like("7日内登录%")))
        channels = [c for c, t in (("app_push", push), ("sms", sms)) if t is not None]
        config.update_config(session=session, principal=operator, campaign=campaign, data=ConfigUpdate(
            audience_id=audience.id, channels=channels,
            template_ids={c: t.id for c, t in (("app_push", push), ("sms", sms)) if t is not None},
            benefit_id=benefit.id if benefit is not None else None,
            success_rule_id=rule.id if rule is not None else None, priority=6, expected_value_fen=1_500,
            control_pct=10, campaign_type="marketing"))
        first = waves.create_wave(session=session, principal=operator, campaign=campaign,
                                  data=WaveCreate(name="首批触达"))
        waves.create_wave(session=session, principal=operator, campaign=campaign,
                          data=WaveCreate(name="第二波（加推）", scheduled_at=utcnow() + timedelta(days=7)))
        lifecycle.transition(session, campaign=campaign, action="ready", actor=operator.actor)
        lifecycle.transition(session, campaign=campaign, action="launch", actor=operator.actor)
        session.commit()
        code, wave_id = campaign.code, first.id
    execution.run_wave(factory, wave_id=wave_id, engine=engine_for(home))
    with factory() as session:
        wave = session.get(CampaignWave, wave_id)
        return {"campaign": code, "created": True, "wave": wave.status, "funnel": wave.funnel}


__all__ = ["seed_campaigns"]
