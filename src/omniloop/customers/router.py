"""HTTP routes for customers: list with filters, customer 360, bulk import."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Path, Query, Request, UploadFile

from omniloop.core.deps import SessionDep
from omniloop.core.ids import IdQuery
from omniloop.core.pagination import PageDep, paginate
from omniloop.customers import loader, service
from omniloop.customers.schemas import Customer360, CustomerPage, RiskLevel, Segment
from omniloop.customers.uploads import saved_upload
from omniloop.org.auth import Principal, require
from omniloop.org.roles import Permission

router = APIRouter(prefix="/api/customers", tags=["customers"])
ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"}}


@router.get("", response_model=CustomerPage, responses=ERR)
def list_customers(
    session: SessionDep,
    page: PageDep,
    q: Annotated[str | None, Query(max_length=64, description="customer number, name prefix or phone")] = None,
    org_id: IdQuery = None,
    rm_id: IdQuery = None,
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




@router.post(
    "/import",
    response_model=loader.LoadReport,
    responses={
        **ERR,
        413: {"description": "File larger than the upload limit"},
        415: {"description": "Not a CSV, Parquet or .xlsx file"},
        422: {"description": "Rows with errors (details: the load report); nothing was loaded"},
    },
)
def import_customers(
    request: Request,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="CSV, Parquet or Excel (.xlsx); columns as Customer fields")],
    skip_invalid: Annotated[bool, Query(description="load the valid rows and report the others")] = False,
    principal: Principal = require(Permission.customers_write),
) -> loader.LoadReport:
    """Upsert customers from a file (客户批量导入), confined to the caller's org subtree."""
    file_name = file.filename or ""
    with saved_upload(file, max_mb=request.app.state.settings.import_max_mb, prefix="omniloop-import-") as path:
        report = loader.load_customers(
            session=session, path=path, file_name=file_name, skip_invalid=skip_invalid, scope=principal.org,
            actor=principal.actor, today=request.app.state.clock.today(),
        )
    if not report.loaded:
        raise loader.ImportInvalidRows(details=report.model_dump(mode="json"))
    return report


@router.get("/{customer_no}", response_model=Customer360, responses={**ERR, 404: {"description": "Not found"}})
def get_customer(
    customer_no: Annotated[str, Path(max_length=32)],
    request: Request,
    session: SessionDep,
    principal: Principal = require(Permission.customers_read),
) -> Customer360:
    return service.customer_360(session=session, principal=principal, customer_no=customer_no,
                                today=request.app.state.clock.today())
