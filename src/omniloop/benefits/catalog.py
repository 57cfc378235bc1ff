"""The benefit catalog (权益目录): visibility, create / edit / delete, inventory adjustments, grant listings.

Visibility follows the org path like audiences: a head-office benefit serves every branch (read-only
there); a branch's own benefits are visible to its subtree and the offices above. Only users whose
subtree holds the owner org edit. Grants list only customers the caller may read, names masked by role.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from omniloop.audiences.engine import visible_org_condition
from omniloop.benefits import service
from omniloop.benefits.models import Benefit, BenefitGrant
from omniloop.benefits.schemas import BenefitCreate, BenefitRead, BenefitUpdate, GrantRead, InventoryAdjust
from omniloop.campaigns.models import Campaign
from omniloop.core import audit
from omniloop.core.errors import Conflict, ValidationFailed
from omniloop.core.pagination import PageParams, paginate
from omniloop.customers import service as customer_service
from omniloop.customers.models import Customer
from omniloop.org import service as org_service
from omniloop.org.auth import Principal
from omniloop.org.masking import mask_name
from omniloop.org.models import Org
from omniloop.org.roles import Permission

AUDITED = ("code", "name", "kind", "face_value_fen", "points", "unit_cost_fen", "inventory_total", "inventory_left",
           "budget_fen", "valid_from", "valid_to", "status", "description", "owner_org_id")


def visible_statement(principal: Principal) -> Select:
    return select(Benefit).join(Org, Org.id == Benefit.owner_org_id).where(visible_org_condition(Org.path, principal))


def list_statement(principal: Principal, *, q: str | None = None, kind: str | None = None,
                   status: str | None = None) -> Select:
    stmt = visible_statement(principal)
    if q and q.strip():
        stmt = stmt.where(or_(Benefit.name.contains(q.strip(), autoescape=True),
                              Benefit.code.contains(q.strip(), autoescape=True)))
    if kind:
        stmt = stmt.where(Benefit.kind == kind)
    if status:
        stmt = stmt.where(Benefit.status == status)
    return stmt.order_by(Benefit.id.desc())


def get_visible(*, session: Session, principal: Principal, benefit_id: int) -> Benefit:
    benefit = session.scalar(visible_statement(principal).where(Benefit.id == benefit_id))
    if benefit is None:
        raise service.BenefitNotFound(details={"benefit_id": benefit_id})
    return benefit


def get_editable(*, session: Session, principal: Principal, benefit_id: int) -> Benefit:
    benefit = get_visible(session=session, principal=principal, benefit_id=benefit_id)
    org_service.assert_owned_in_subtree(session, owner_org_id=benefit.owner_org_id, org_path=principal.org.path,
                                        code="benefit_read_only", what_zh="权益", what_en="benefit")
    return benefit


def reads(session: Session, principal: Principal, benefits: Sequence[Benefit], now: datetime) -> list[BenefitRead]:
    if not benefits:
        return []
    ids = [b.id for b in benefits]
    counts: dict[tuple[int, str], int] = {
        (b, s): n for b, s, n in session.execute(
            select(BenefitGrant.benefit_id, BenefitGrant.status, func.count())
            .where(BenefitGrant.benefit_id.in_(ids), BenefitGrant.status.in_(service.LIVE))
            .group_by(BenefitGrant.benefit_id, BenefitGrant.status))}
    orgs = {o.id: o for o in session.scalars(select(Org).where(Org.id.in_({b.owner_org_id for b in benefits})))}
    items = []
    for b in benefits:
        item = BenefitRead.model_validate(b)
        org = orgs.get(b.owner_org_id)
        item.owner_org_name, item.owner_org_name_en = (org.name, org.name_en) if org else (None, None)
        item.granted_count = counts.get((b.id, "granted"), 0)
        item.reserved_count = counts.get((b.id, "reserved"), 0)
        item.available = service.availability_problem(b, now) is None
        item.editable = bool(org and org.path.startswith(principal.org.path))
        items.append(item)
    return items


def _code_taken(session: Session, code: str) -> None:
    if session.scalar(select(Benefit.id).where(func.lower(Benefit.code) == code.lower())) is not None:
        raise Conflict("权益编码已存在", "The benefit code is already used", code="benefit_code_taken",
                       details={"code": code})


def create(*, session: Session, principal: Principal, data: BenefitCreate) -> Benefit:
    _code_taken(session, data.code)
    values = data.model_dump(exclude={"owner_org_id"})
    benefit = Benefit(**values, inventory_left=data.inventory_total, budget_used_fen=0, version=1,
                      owner_org_id=org_service.owner_org_for_create(session, requested=data.owner_org_id,
                                                                        caller_org=principal.org),
                      created_by_id=principal.user.id)
    session.add(benefit)
    session.flush()
    audit.record(session, actor=principal.actor, action="benefit.create", entity_type="benefit",
                 entity_id=benefit.id, after=audit.snapshot(benefit))
    return benefit


def update(*, session: Session, principal: Principal, benefit: Benefit, data: BenefitUpdate) -> Benefit:
    before = audit.snapshot(benefit)
    changes = data.model_dump(exclude_unset=True, exclude={"clear_budget"})
    if data.clear_budget:
        changes["budget_fen"] = None
    elif "budget_fen" in changes and changes["budget_fen"] is None:
        changes.pop("budget_fen")
    start = changes.get("valid_from", benefit.valid_from)
    end = changes.get("valid_to", benefit.valid_to)
    if start is not None and end is not None and end <= start:
        raise ValidationFailed("结束时间必须晚于开始时间", "valid_to must be after valid_from", code="invalid_validity",
                               details=[{"field": "valid_to"}])
    session.refresh(benefit)  # the latest budget_used_fen, then the guarded UPDATE below
    budget = changes.get("budget_fen", benefit.budget_fen)
    if budget is not None and budget < benefit.budget_used_fen:
        raise ValidationFailed("预算不能低于已使用金额", "The budget cannot be below what is already spent",
                               code="budget_below_used", details=[{"field": "budget_fen",
                                                                   "budget_used_fen": benefit.budget_used_fen}])
    for key, value in changes.items():
        setattr(benefit, key, value)
    benefit.version += 1
    session.flush()
    audit.record(session, actor=principal.actor, action="benefit.update", entity_type="benefit",
                 entity_id=benefit.id, before=before, after=audit.snapshot(benefit))
    return benefit


def adjust(*, session: Session, principal: Principal, benefit: Benefit, data: InventoryAdjust) -> Benefit:
    before = {"inventory_total": benefit.inventory_total, "inventory_left": benefit.inventory_left}
    if data.delta == 0:
        raise ValidationFailed("调整数量不能为 0", "The adjustment cannot be 0", code="invalid_adjustment",
                               details=[{"field": "delta"}])
    if not service.adjust_inventory(session, benefit_id=benefit.id, delta=data.delta):
        session.refresh(benefit)
        raise Conflict(f"剩余库存只有 {benefit.inventory_left}，不能减少 {-data.delta}",
                       f"Only {benefit.inventory_left} left; cannot remove {-data.delta}",
                       code="inventory_insufficient", details={"inventory_left": benefit.inventory_left})
    session.refresh(benefit)
    audit.record(session, actor=principal.actor, action="benefit.adjust_inventory", entity_type="benefit",
                 entity_id=benefit.id, before={**before, "reason": None},
                 after={"inventory_total": benefit.inventory_total, "inventory_left": benefit.inventory_left,
                        "reason": data.reason, "delta": data.delta})
    return benefit


def delete(*, session: Session, principal: Principal, benefit: Benefit) -> None:
    used_by = session.scalar(select(func.count()).select_from(Campaign).where(Campaign.benefit_id == benefit.id))
    grants = session.scalar(select(func.count()).select_from(BenefitGrant).where(BenefitGrant.benefit_id == benefit.id))
    if used_by or grants:
        raise Conflict("权益已被活动使用或已有发放记录，不能删除，可改为停用",
                       "The benefit is used by campaigns or has grants; deactivate it instead",
                       code="benefit_in_use", details={"campaigns": used_by, "grants": grants})
    audit.record(session, actor=principal.actor, action="benefit.delete", entity_type="benefit",
                 entity_id=benefit.id, before=audit.snapshot(benefit))
    session.delete(benefit)
    session.flush()


def grants(session: Session, principal: Principal, page: PageParams, *, benefit_id: int | None = None,
           customer_id: int | None = None, status: str | None = None) -> tuple[list[GrantRead], int]:
    """Grants of customers the caller may read, newest first."""
    readable = customer_service.readable_customers(principal).with_only_columns(Customer.id)
    stmt = select(BenefitGrant).where(BenefitGrant.customer_id.in_(readable))
    if benefit_id is not None:
        stmt = stmt.where(BenefitGrant.benefit_id == benefit_id)
    if customer_id is not None:
        stmt = stmt.where(BenefitGrant.customer_id == customer_id)
    if status:
        stmt = stmt.where(BenefitGrant.status == status)
    rows, total = paginate(session, stmt.order_by(BenefitGrant.reserved_at.desc(), BenefitGrant.id.desc()), page)
    if not rows:
        return [], total
    benefits = {b.id: b for b in session.scalars(select(Benefit).where(Benefit.id.in_({g.benefit_id for g in rows})))}
    campaigns = {c.id: c for c in session.scalars(select(Campaign).where(Campaign.id.in_({g.campaign_id for g in rows})))}
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_({g.customer_id for g in rows})))}
    unmask = principal.can(Permission.customers_pii)
    items = []
    for g in rows:
        b, c, cust = benefits[g.benefit_id], campaigns.get(g.campaign_id), customers[g.customer_id]
        items.append(GrantRead(
            id=g.id, benefit_id=g.benefit_id, benefit_code=b.code, benefit_name=b.name, campaign_id=g.campaign_id,
            campaign_code=c.code if c else None, campaign_name=c.name if c else None, occasion=g.occasion,
            customer_no=cust.customer_no, customer_name=cust.name if unmask else (mask_name(cust.name) or ""),
            status=g.status, cost_fen=g.cost_fen, reserved_at=g.reserved_at, granted_at=g.granted_at,
            released_at=g.released_at, release_reason=g.release_reason))
    return items, total
