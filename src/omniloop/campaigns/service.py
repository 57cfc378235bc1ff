"""Campaigns (营销活动): the draft created from an approved plan version, and the launch guard.

``assert_launchable`` is the server-side rule that nothing launches without an approved plan; every
launch path (waves, journeys, tests) calls it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omniloop.campaigns import config
from omniloop.campaigns.models import Campaign
from omniloop.campaigns.schemas import CampaignRead, CampaignUpdate
from omniloop.core import audit
from omniloop.core.audit import Actor
from omniloop.core.db import utcnow
from omniloop.core.errors import Conflict, NotFound, ValidationFailed
from omniloop.org import service as org_service
from omniloop.org.auth import Principal
from omniloop.org.models import Org
from omniloop.plans import service as plan_service
from omniloop.plans.models import Plan

CODE_PREFIX = "MKT"
_CODE_ATTEMPTS = 5


class PlanNotApproved(Conflict):
    code = "plan_not_approved"
    message_zh = "活动关联的方案未通过会签，不能上线"
    message_en = "The campaign's plan has not been approved in countersign; it cannot launch"


def readable_statement(principal: Principal) -> Select:
    return select(Campaign).join(Org, Org.id == Campaign.owner_org_id).where(
        org_service.subtree_condition(Org.path, principal.org.path))


def list_statement(principal: Principal, *, q: str | None = None, status: str | None = None) -> Select:
    stmt = readable_statement(principal)
    if q and q.strip():
        stmt = stmt.where(or_(Campaign.name.contains(q.strip(), autoescape=True),
                              Campaign.code.contains(q.strip(), autoescape=True)))
    if status:
        stmt = stmt.where(Campaign.status == status)
    return stmt.order_by(Campaign.id.desc())


def get_campaign(*, session: Session, principal: Principal, campaign_id: int) -> Campaign:
    campaign = session.scalar(readable_statement(principal).where(Campaign.id == campaign_id))
    if campaign is None:
        raise NotFound("活动不存在或不在您的管辖范围内", "Campaign not found or outside your scope",
                       code="campaign_not_found", details={"campaign_id": campaign_id})
    return campaign


def read_campaigns(session: Session, campaigns: Sequence[Campaign]) -> list[CampaignRead]:
    if not campaigns:
        return []
    orgs = {o.id: o for o in session.scalars(select(Org).where(Org.id.in_({c.owner_org_id for c in campaigns})))}
    titles = dict(session.execute(select(Plan.id, Plan.title)
                                  .where(Plan.id.in_({c.plan_id for c in campaigns}))).all())
    items = []
    for campaign in campaigns:
        item = CampaignRead.model_validate(campaign)
        org = orgs.get(campaign.owner_org_id)
        item.owner_org_name, item.owner_org_name_en = (org.name, org.name_en) if org else (None, None)
        item.plan_title = titles.get(campaign.plan_id)
        item.missing = config.missing(campaign, session)
        items.append(item)
    return items


def campaigns_for_plans(session: Session, *, plan_ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    """plan id → (campaign id, code) of the campaign created from it."""
    if not plan_ids:
        return {}
    rows = session.execute(select(Campaign.plan_id, Campaign.id, Campaign.code)
                           .where(Campaign.plan_id.in_(plan_ids)).order_by(Campaign.id)).all()
    return {plan_id: (cid, code) for plan_id, cid, code in rows}


def _next_code(session: Session, year: int) -> str:
    prefix = f"{CODE_PREFIX}-{year}-"
    last = session.scalar(select(Campaign.code).where(Campaign.code.like(prefix + "%"))
                          .order_by(Campaign.code.desc()).limit(1))
    number = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{number:05d}"


def _description(plan: Plan) -> str:
    parts = [("活动目标", plan.objective), ("目标客群", plan.audience_description), ("权益", plan.benefits),
             ("预估产出", plan.expected_output)]
    return "\n".join(f"{label}：{text.strip()}" for label, text in parts if text and text.strip())[:5000]


def create_draft_from_plan(session: Session, *, plan: Plan, actor: Actor, timezone: str = "Asia/Shanghai",
                           now: datetime | None = None) -> Campaign:
    """The campaign draft for an approved plan version (活动信息自动生成): code, name, dates, description.

    Idempotent per plan version: approving the same version twice returns the same campaign.
    """
    if plan.status != "approved" or plan.approved_version is None:
        raise PlanNotApproved(details={"plan_id": plan.id, "status": plan.status})
    existing = session.scalar(select(Campaign).where(Campaign.plan_id == plan.id,
                                                     Campaign.plan_version == plan.approved_version))
    if existing is not None:
        return existing
    year = (now or utcnow()).astimezone(ZoneInfo(timezone)).year
    for attempt in range(_CODE_ATTEMPTS):
        campaign = Campaign(code=_next_code(session, year), name=plan.title, description=_description(plan),
                            start_date=plan.start_date, end_date=plan.end_date, plan_id=plan.id,
                            plan_version=plan.approved_version, owner_org_id=plan.owner_org_id, status="draft",
                            created_by_id=actor.user_id)
        try:
            with session.begin_nested():  # a concurrent approval may take the same number: take the next
                session.add(campaign)
                session.flush()
            break
        except IntegrityError:
            if attempt == _CODE_ATTEMPTS - 1:
                raise
    audit.record(session, actor=actor, action="campaign.create", entity_type="campaign", entity_id=campaign.id,
                 after=audit.snapshot(campaign))
    return campaign


def update_campaign(*, session: Session, principal: Principal, campaign: Campaign, data: CampaignUpdate) -> Campaign:
    if campaign.status not in config.EDITABLE_STATUSES:
        raise config.NotEditable(details={"status": campaign.status})
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if not (k == "name" and v is None)}
    start = changes.get("start_date", campaign.start_date)
    end = changes.get("end_date", campaign.end_date)
    if start and end and end < start:
        raise ValidationFailed("结束日期不能早于开始日期", "The end date cannot be before the start date",
                               details=[{"loc": ["body", "end_date"], "msg": "before start_date"}])
    before = audit.snapshot(campaign)
    for key, value in changes.items():
        setattr(campaign, key, value)
    campaign.updated_at = utcnow()
    session.flush()
    audit.record(session, actor=principal.actor, action="campaign.update", entity_type="campaign",
                 entity_id=campaign.id, before=before, after=audit.snapshot(campaign))
    return campaign


def assert_launchable(session: Session, campaign_id: int) -> Campaign:
    """Raise 409 ``plan_not_approved`` unless the campaign's plan version is the approved one."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("活动不存在", "Campaign not found", code="campaign_not_found",
                       details={"campaign_id": campaign_id})
    plan = plan_service.get_plan_unscoped(session=session, plan_id=campaign.plan_id)
    if plan.status != "approved" or plan.approved_version != campaign.plan_version:
        raise PlanNotApproved(details={"campaign_id": campaign.id, "plan_id": plan.id, "plan_status": plan.status,
                                       "plan_version": campaign.plan_version,
                                       "approved_version": plan.approved_version})
    return campaign
