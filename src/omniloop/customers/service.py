"""Customer queries. Every customer read goes through ``readable_customers`` (org subtree + role scope)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from omniloop.core.errors import NotFound
from omniloop.customers.models import Customer, CustomerMonthly
from omniloop.customers.schemas import (
    Customer360,
    CustomerDetail,
    CustomerListItem,
    Holdings,
    MonthlyPoint,
    OrgRef,
    RmRef,
)
from omniloop.org.auth import Principal
from omniloop.org.models import Org, User
from omniloop.org.roles import Permission
from omniloop.org.service import subtree_condition


def readable_customers(principal: Principal) -> Select:
    """The only statement that selects customers for a user: their org subtree, and for an RM only
    the customers assigned to them (管户)."""
    stmt = select(Customer).join(Org, Org.id == Customer.org_id).where(subtree_condition(Org.path, principal.org.path))
    if principal.role.assigned_customers_only:
        stmt = stmt.where(Customer.rm_id == principal.user.id)
    return stmt


def list_statement(
    principal: Principal,
    *,
    q: str | None = None,
    org_id: int | None = None,
    rm_id: int | None = None,
    segment: str | None = None,
    risk_level: str | None = None,
    lifecycle_stage: str | None = None,
    min_aum_fen: int | None = None,
    max_aum_fen: int | None = None,
    sort: str = "customer_no",
) -> Select:
    stmt = readable_customers(principal)
    if q:
        q = q.strip()
        conditions = [Customer.customer_no == q, Customer.name.startswith(q, autoescape=True)]
        if q.isdigit() and len(q) >= 7:
            conditions.append(Customer.phone == q)
        stmt = stmt.where(or_(*conditions))
    if org_id is not None:
        sub = select(Org.path).where(Org.id == org_id).scalar_subquery()
        stmt = stmt.where(Org.path.like(sub + "%"))
    if rm_id is not None:
        stmt = stmt.where(Customer.rm_id == rm_id)
    if segment:
        stmt = stmt.where(Customer.segment == segment)
    if risk_level:
        stmt = stmt.where(Customer.risk_level == risk_level)
    if lifecycle_stage:
        stmt = stmt.where(Customer.lifecycle_stage == lifecycle_stage)
    if min_aum_fen is not None:
        stmt = stmt.where(Customer.aum_fen >= min_aum_fen)
    if max_aum_fen is not None:
        stmt = stmt.where(Customer.aum_fen <= max_aum_fen)
    order = {
        "customer_no": Customer.customer_no.asc(),
        "-aum": Customer.aum_fen.desc(),
        "aum": Customer.aum_fen.asc(),
        "name": Customer.name.asc(),
    }[sort]
    return stmt.order_by(order, Customer.id)


def list_items(session: Session, principal: Principal, customers: list[Customer]) -> list[CustomerListItem]:
    org_names = {
        org_id: (name, name_en)
        for org_id, name, name_en in session.execute(
            select(Org.id, Org.name, Org.name_en).where(Org.id.in_({c.org_id for c in customers}))
        )
    }
    rm_ids = {c.rm_id for c in customers if c.rm_id}
    rm_names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(rm_ids))).all()) if rm_ids else {}
    unmask = principal.can(Permission.customers_pii)
    items = []
    for c in customers:
        item = CustomerListItem.of(c, unmask=unmask)
        item.org_name, item.org_name_en = org_names.get(c.org_id, (None, None))
        item.rm_name = rm_names.get(c.rm_id)
        items.append(item)
    return items


def get_readable(*, session: Session, principal: Principal, customer_no: str) -> Customer:
    customer = session.scalar(readable_customers(principal).where(Customer.customer_no == customer_no))
    if customer is None:
        # Customers outside the caller's scope are indistinguishable from missing ones.
        raise NotFound("客户不存在或不在您的管辖范围内", "Customer not found or outside your scope",
                       details={"customer_no": customer_no})
    return customer


def _age(birth: date | None, today: date) -> int | None:
    if birth is None:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def customer_360(*, session: Session, principal: Principal, customer_no: str, today: date) -> Customer360:
    customer = get_readable(session=session, principal=principal, customer_no=customer_no)
    profile = CustomerDetail.of(customer, unmask=principal.can(Permission.customers_pii))
    profile.age = _age(customer.birth_date, today)
    monthly = session.scalars(
        select(CustomerMonthly).where(CustomerMonthly.customer_id == customer.id).order_by(CustomerMonthly.month)
    ).all()
    org = session.get(Org, customer.org_id)
    ancestor_ids = [int(p) for p in org.path.strip("/").split("/")]
    ancestors = {o.id: o for o in session.scalars(select(Org).where(Org.id.in_(ancestor_ids)))}
    path = [ancestors[i] for i in ancestor_ids if i in ancestors]
    rm = session.get(User, customer.rm_id) if customer.rm_id else None
    return Customer360(
        profile=profile,
        holdings=Holdings.model_validate(customer, from_attributes=True),
        monthly=[MonthlyPoint(month=m.month, aum_fen=m.aum_fen, app_logins=m.app_logins) for m in monthly],
        org=OrgRef(id=org.id, code=org.code, name=org.name, name_en=org.name_en,
                   path_names=[o.name for o in path], path_names_en=[o.name_en for o in path]),
        rm=RmRef(id=rm.id, display_name=rm.display_name, username=rm.username) if rm else None,
    )
