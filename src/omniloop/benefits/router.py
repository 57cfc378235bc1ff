"""HTTP routes for the benefit catalog (权益管理) and grants (权益发放)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from omniloop.benefits import catalog
from omniloop.benefits.schemas import (
    BenefitCreate,
    BenefitKind,
    BenefitPage,
    BenefitRead,
    BenefitStatus,
    BenefitUpdate,
    GrantPage,
    GrantStatus,
    InventoryAdjust,
)
from omniloop.core.deps import SessionDep
from omniloop.core.ids import IdPath
from omniloop.core.pagination import PageDep, paginate
from omniloop.customers import service as customer_service
from omniloop.org.auth import Principal, require
from omniloop.org.roles import Permission

router = APIRouter(tags=["benefits"])
ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"}}
NOT_FOUND = {**ERR, 404: {"description": "Not found or outside your scope"}}
INVALID = {**NOT_FOUND, 409: {"description": "Conflict (code taken, in use, not enough inventory)"},
           422: {"description": "Invalid input (details: field)"}}


def _now(request: Request):
    return request.app.state.clock.now()


def _read(request: Request, session, principal: Principal, benefit) -> BenefitRead:
    return catalog.reads(session, principal, [benefit], _now(request))[0]


@router.get("/api/benefits", response_model=BenefitPage, responses=ERR)
def list_benefits(request: Request, session: SessionDep, page: PageDep,
                  q: Annotated[str | None, Query(max_length=100, description="name or code contains")] = None,
                  kind: BenefitKind | None = None, status: BenefitStatus | None = None,
                  principal: Principal = require(Permission.campaigns_read)) -> BenefitPage:
    """The benefit catalog (权益目录) with inventory, budget used and grant counts."""
    rows, total = paginate(session, catalog.list_statement(principal, q=q, kind=kind, status=status), page)
    return BenefitPage(items=catalog.reads(session, principal, rows, _now(request)), total=total, page=page.page,
                       page_size=page.page_size)


@router.post("/api/benefits", response_model=BenefitRead, status_code=201, responses=INVALID)
def create_benefit(request: Request, data: BenefitCreate, session: SessionDep,
                   principal: Principal = require(Permission.elements_manage)) -> BenefitRead:
    benefit = catalog.create(session=session, principal=principal, data=data)
    session.commit()
    return _read(request, session, principal, benefit)


@router.get("/api/benefits/{benefit_id}", response_model=BenefitRead, responses=NOT_FOUND)
def get_benefit(request: Request, benefit_id: IdPath, session: SessionDep,
                principal: Principal = require(Permission.campaigns_read)) -> BenefitRead:
    return _read(request, session, principal, catalog.get_visible(session=session, principal=principal,
                                                                  benefit_id=benefit_id))


@router.patch("/api/benefits/{benefit_id}", response_model=BenefitRead, responses=INVALID)
def update_benefit(request: Request, benefit_id: IdPath, data: BenefitUpdate, session: SessionDep,
                   principal: Principal = require(Permission.elements_manage)) -> BenefitRead:
    """Edit name, value, cost, budget (not below what is spent), validity or status. Inventory changes go
    through ``/inventory``."""
    benefit = catalog.get_editable(session=session, principal=principal, benefit_id=benefit_id)
    catalog.update(session=session, principal=principal, benefit=benefit, data=data)
    session.commit()
    return _read(request, session, principal, benefit)


@router.delete("/api/benefits/{benefit_id}", status_code=204, responses=INVALID)
def delete_benefit(benefit_id: IdPath, session: SessionDep,
                   principal: Principal = require(Permission.elements_manage)) -> Response:
    """Delete a benefit no campaign uses and nobody was granted; otherwise 409 ``benefit_in_use``."""
    benefit = catalog.get_editable(session=session, principal=principal, benefit_id=benefit_id)
    catalog.delete(session=session, principal=principal, benefit=benefit)
    session.commit()
    return Response(status_code=204)


@router.post("/api/benefits/{benefit_id}/inventory", response_model=BenefitRead, responses=INVALID)
def adjust_inventory(request: Request, benefit_id: IdPath, data: InventoryAdjust, session: SessionDep,
                     principal: Principal = require(Permission.elements_manage)) -> BenefitRead:
    """Add or remove inventory with a reason (库存调整); removing more than is left is 409."""
    benefit = catalog.get_editable(session=session, principal=principal, benefit_id=benefit_id)
    catalog.adjust(session=session, principal=principal, benefit=benefit, data=data)
    session.commit()
    return _read(request, session, principal, benefit)


@router.get("/api/benefits/{benefit_id}/grants", response_model=GrantPage, responses=NOT_FOUND)
def list_grants(benefit_id: IdPath, session: SessionDep, page: PageDep, status: GrantStatus | None = None,
                principal: Principal = require(Permission.campaigns_read)) -> GrantPage:
    """Grants of this benefit (发放记录) to customers you may see, newest first."""
    catalog.get_visible(session=session, principal=principal, benefit_id=benefit_id)
    items, total = catalog.grants(session, principal, page, benefit_id=benefit_id, status=status)
    return GrantPage(items=items, total=total, page=page.page, page_size=page.page_size)


@router.get("/api/customers/{customer_no}/benefit-grants", response_model=GrantPage, responses=NOT_FOUND)
def customer_grants(customer_no: Annotated[str, Path(max_length=32)], session: SessionDep, page: PageDep,
                    principal: Principal = require(Permission.customers_read)) -> GrantPage:
    """A customer's benefit grants (权益发放) for the customer 360 timeline."""
    customer = customer_service.get_readable(session=session, principal=principal, customer_no=customer_no)
    items, total = catalog.grants(session, principal, page, customer_id=customer.id)
    return GrantPage(items=items, total=total, page=page.page, page_size=page.page_size)
