"""Demo campaign plans (演示活动方案): a default countersign route and needs/plans in every state.

``seed_plans`` runs after the demo bank exists: it adds the standard countersign template (the branch
manager of the plan's branch, then any head-office approver) and a handful of Chinese plans — a need raised
from an insight alert, one waiting in countersign, one rejected and revised, and approved ones with their
campaign drafts. Safe to run twice: it does nothing if the template exists already.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.approvals import service as approval_service
from omniloop.approvals.models import WorkflowTemplate
from omniloop.approvals.schemas import TemplateCreate
from omniloop.core.audit import Actor
from omniloop.org.auth import Principal
from omniloop.org.models import Org, User
from omniloop.plans import service as plan_service
from omniloop.plans.schemas import PlanCreate, PlanFromAlert, PlanUpdate

TEMPLATE_NAME = "标准营销方案会签流程"
TEMPLATE_STEPS = [
    {"name": "分行负责人审批", "mode": "single", "approvers": [{"role": "branch_manager", "org": "plan_branch"}]},
    {"name": "总行会签", "mode": "any", "approvers": [{"role": "approver", "org": "head_office"}]},
]

_PLANS = [
    dict(title="信用卡新客首刷有礼", objective="近30天新开卡客户首刷率由22%提升至35%", lifecycle_stage="novice",
         business_line="credit_card", audience_description="近30天新开卡且未首刷的零售客户",
         channels=["sms", "app_push"], benefit_type="cash_coupon", benefits="首刷满88元送20元立减金", mode="event",
         budget_fen=50_000_000, expected_reach=40_000, expected_conversion_rate=0.12,
         expected_output="预计新增首刷客户4,800户，带动消费约3,000万元"),
    dict(title="理财到期资金留存计划", objective="理财到期资金行内留存率提升10个百分点", lifecycle_stage="churn_risk",
         business_line="wealth", audience_description="未来30天内理财产品到期、AUM 5万元以上的客户",
         channels=["rm_task", "sms"], benefit_type="rate_coupon", benefits="续购送0.2%加息券", mode="batch",
         budget_fen=30_000_000, expected_reach=12_000, expected_conversion_rate=0.25,
         expected_output="预计留存到期资金2.4亿元"),
    dict(title="手机银行绑卡激励", objective="手机银行绑卡客户数提升15%", lifecycle_stage="growth",
         business_line="retail", audience_description="已开户未绑定手机银行的活跃客户",
         channels=["app_push", "wechat"], benefit_type="points", benefits="绑卡即送500积分", mode="realtime",
         budget_fen=12_000_000, expected_reach=60_000, expected_conversion_rate=0.08,
         expected_output="预计新增绑卡客户4,800户"),
    dict(title="代发工资客户激活", objective="代发客户手机银行月活提升至60%", lifecycle_stage="growth",
         business_line="retail", audience_description="代发工资到账但近3个月未登录手机银行的客户",
         channels=["sms", "outbound_call"], benefit_type="cash_coupon", benefits="登录领5元话费券", mode="batch",
         budget_fen=8_000_000, expected_reach=25_000, expected_conversion_rate=0.15,
         expected_output="预计激活代发客户3,750户"),
]


def _principal(session: Session, user: User) -> Principal:
    return Principal(user=user, org=session.get(Org, user.org_id), token_hash="demo")


def _first(session: Session, role: str, org: Org | None = None) -> User | None:
    stmt = select(User).where(User.role == role, User.is_active.is_(True)).order_by(User.id)
    if org is not None:
        stmt = stmt.where(User.org_id == org.id)
    return session.scalar(stmt.limit(1))


def seed_plans(session: Session, *, actor: Actor, seed: int = 42) -> dict:
    """Add the default countersign template and demo plans; commit. Returns what was created."""
    if session.scalar(select(WorkflowTemplate.id).where(WorkflowTemplate.name == TEMPLATE_NAME)) is not None:
        return {"created": False}
    rng = random.Random(seed)
    approval_service.create_template(session, actor=actor, data=TemplateCreate(
        name=TEMPLATE_NAME, description="分行负责人审批后，总行会签人任一人审批通过即可（或签）",
        steps=TEMPLATE_STEPS, is_default=True))
    author = session.get(User, actor.user_id) if actor.user_id else None
    author = author if author is not None and author.role in ("operator", "admin") else _first(session, "operator")
    head = session.scalar(select(Org).where(Org.parent_id.is_(None)).order_by(Org.id).limit(1))
    branch = session.scalar(select(Org).where(Org.level == "branch").order_by(Org.id).limit(1))
    if author is None or head is None or branch is None:
        session.commit()
        return {"created": True, "plans": 0}
    manager = _first(session, "branch_manager", branch)
    approver = _first(session, "approver", head)
    writer = _principal(session, author)
    start = date(2026, 12, 1)
    plans = []
    for i, fields in enumerate(_PLANS):
        budget = fields["budget_fen"] + rng.randrange(0, 10) * 1_000_000
        begin = start + timedelta(days=7 * i)
        plans.append(plan_service.create_plan(session=session, principal=writer, data=PlanCreate(
            **{**fields, "budget_fen": budget}, start_date=begin, end_date=begin + timedelta(days=30),
            owner_org_id=branch.id)))
    plan_service.create_from_alert(session=session, principal=writer, data=PlanFromAlert(
        source_type="insight_alert", source_ref=f"alert:churn_risk:{branch.code}", owner_org_id=branch.id,
        title=f"{branch.name}流失预警客户挽留", lifecycle_stage="churn_risk",
        summary="近一月AUM下降超过30%的客户较上月增加，建议开展挽留活动"))
    session.flush()
    if manager is None or approver is None:
        session.commit()
        return {"created": True, "plans": len(plans) + 1}

    def decide(user: User, plan, action: str, comment: str) -> None:
        step = next(s for s in approval_service.plan_approvals(session, plan).instances[0].steps
                    if s.status == "pending")
        approval_service.decide(session, principal=_principal(session, user), step_id=step.id, action=action,
                                comment=comment)

    card, wealth, binding, payroll = plans
    approval_service.submit(session, principal=writer, plan=card, comment="请审批信用卡新客首刷活动方案")
    approval_service.submit(session, principal=writer, plan=wealth)
    decide(manager, wealth, "reject", "加息券成本偏高，请压降预算并补充测算依据")
    plan_service.update_plan(session=session, principal=writer, plan=wealth, data=PlanUpdate(
        budget_fen=wealth.budget_fen - 5_000_000, note="按分行意见压降预算"))
    for plan in (binding, payroll):
        approval_service.submit(session, principal=writer, plan=plan)
        decide(manager, plan, "approve", "同意")
        decide(approver, plan, "approve", "同意，注意客户打扰频次")
    session.commit()
    return {"created": True, "plans": len(plans) + 1}
