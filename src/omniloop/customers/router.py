"""HTTP routes for customers: list with filters, customer 360."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from omniloop.core.deps import SessionDep
from omniloop.core.pagination import PageDep, paginate
from omniloop.customers import service
from omniloop.customers.schemas import Customer360, CustomerPage, RiskLevel, Segment
from omniloop.org.auth import Principal, require
from omniloop.org.roles import Permission

router = APIRouter(prefix="/api/customers", tags=["customers"])
ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"}}


@router.get("", response_model=CustomerPage, responses=ERR)
def list_customers(
    session: SessionDep,
    page: PageDep,
    q: Annotated[str | None, Query(max_length=64, description="customer number, name prefix or phone")] = None,
    org_id: int | None = None,
    rm_id: int | None = None,
    segment: Segment | None = None,
    risk_level: RiskLevel | None = None,
    lifecycle_stage: Annotated[str | None, Query(max_length=20)] = None,
    min_aum_fen: Annotated[int | None, Query(ge=0, le=10**15)] = None,
    max_aum_fen: Annotated[int | None, Query(ge=0, le=10**15)] = None,
    sort: Literal["customer_no", "aum", "-aum", "name"] = "customer_no",
    principal: Principal = require(Permission.customers_read),
) -> CustomerPage:
    stmt = service.list_statement(
        principal, q=q, org_id=org_id, rm_id=rm_id, segment=segment, risk_level=risk_level,
        lifecycle_stage=lifecycle_stage, min_aum_fen=min_aum_fen, max_aum_fen=max_aum_fen, sort=sort,
    )
    rows, total = paginate(session, stmt, page)
    return CustomerPage(items=service.list_items(session, principal, rows), total=total, page=page.page,
                        page_size=page.page_size)


@router.get("/{customer_no}", response_model=Customer360, responses={**ERR, 404: {"description": "Not found"}})
def get_customer(
    customer_no: Annotated[str, Path(max_length=32)],
    request: Request,
    session: SessionDep,
    principal: Principal = require(Permission.customers_read),
) -> Customer360:
    return service.customer_360(session=session, principal=principal, customer_no=customer_no,
                                today=request.app.state.clock.today())
