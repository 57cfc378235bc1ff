"""Factories for plans and countersign tests: principals, templates and plans through the real services."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from omniloop.approvals import service as approval_service
from omniloop.approvals.schemas import TemplateCreate
from omniloop.core.audit import SYSTEM
from omniloop.org.auth import Principal
from omniloop.org.models import Org, User
from omniloop.plans import service as plan_service
from omniloop.plans.models import Plan
from omniloop.plans.schemas import PlanCreate


def principal(session: Session, user: User) -> Principal:
    return Principal(user=user, org=session.get(Org, user.org_id), token_hash="test")


def rule(role: str, org: str, **extra) -> dict:
    return {"role": role, "org": org, **extra}


def create_template(session: Session, steps: list[dict], *, name: str = "标准会签流程", default: bool = True):
    template = approval_service.create_template(
        session, data=TemplateCreate(name=name, steps=steps, is_default=default), actor=SYSTEM)
    session.commit()
    return template


def branch_then_head_office(session: Session):
    """The usual route: the plan's branch manager, then head-office approvers (any one of them)."""
    return create_template(session, [
        {"name": "分行负责人审批", "mode": "single", "approvers": [rule("branch_manager", "plan_branch")]},
        {"name": "总行会签", "mode": "any", "approvers": [rule("approver", "head_office")]},
    ])


def create_plan(session: Session, owner: User, *, owner_org: Org | None = None, title: str = "信用卡新客首刷礼",
                **fields) -> Plan:
    values = dict(objective="提升新客首刷率", lifecycle_stage="novice", business_line="credit_card",
                  channels=["sms", "app_push"], benefit_type="cash_coupon", budget_fen=50_000_000,
                  start_date=date(2026, 12, 1), end_date=date(2026, 12, 31),
                  audience_description="近30天新开卡未首刷客户")
    values.update(fields)
    plan = plan_service.create_plan(session=session, principal=principal(session, owner),
                                    data=PlanCreate(title=title, owner_org_id=owner_org.id if owner_org else None,
                                                    **values))
    session.commit()
    return plan
