"""Campaign test factories: an approved plan's draft, and the elements a campaign is configured with."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.approvals import service as approval_service
from omniloop.audiences.models import Audience
from omniloop.benefits.models import Benefit
from omniloop.campaigns.models import Campaign
from omniloop.content.models import MessageTemplate, MessageTemplateVersion
from tests.factories import Bank
from tests.plans.factories import branch_then_head_office, create_plan, principal

EVERYONE = {"op": "range", "feature": "age", "min": 0}


def approved_campaign(db: Session, bank: Bank, *, title: str = "手机银行绑卡激励") -> Campaign:
    """The draft campaign of a plan approved by the branch manager and the head office."""
    if not db.scalar(select(Campaign.id).limit(1)):
        branch_then_head_office(db)
    plan = create_plan(db, bank.users["operator"], owner_org=bank.branch_a, title=title)
    approval_service.submit(db, principal=principal(db, bank.users["operator"]), plan=plan)
    db.commit()
    for user in (bank.users["manager_a"], bank.users["approver"]):
        step = next(s for s in approval_service.plan_approvals(db, plan).instances[0].steps if s.status == "pending")
        approval_service.decide(db, principal=principal(db, user), step_id=step.id, action="approve")
        db.commit()
    return db.scalars(select(Campaign).where(Campaign.plan_id == plan.id)).one()


def create_audience(db: Session, bank: Bank, *, expression: dict | None = None, name: str = "全部客户",
                    org=None) -> Audience:
    audience = Audience(name=name, expression=expression or EVERYONE, org_id=(org or bank.head).id,
                        created_by_id=bank.users["operator"].id)
    db.add(audience)
    db.commit()
    return audience


def create_template(db: Session, bank: Bank, *, channel: str = "sms", code: str | None = None,
                    body: str = "{{ customer.name_masked }}您好，绑卡立享好礼，退订回T") -> MessageTemplate:
    template = MessageTemplate(code=code or f"T-{channel}", name=f"{channel} 模板", channel=channel,
                               owner_org_id=bank.head.id, current_version=1, status="active")
    db.add(template)
    db.flush()
    db.add(MessageTemplateVersion(template_id=template.id, version=1, body=body,
                                  subject="绑卡有礼" if channel in ("app_push", "email") else None, variables=[]))
    db.commit()
    return template


def create_benefit(db: Session, bank: Bank, *, inventory: int = 1000, status: str = "active") -> Benefit:
    benefit = Benefit(code=f"B-{inventory}-{status}", name="10元立减金", kind="coupon", face_value_fen=1000,
                      unit_cost_fen=1000, inventory_total=inventory, inventory_left=inventory, status=status,
                      owner_org_id=bank.head.id)
    db.add(benefit)
    db.commit()
    return benefit
