"""HTTP routes for uploaded customer lists (上传名单): upload with a match report, list, get, archive /
restore (归档 / 恢复) and delete (refused while the list is in use)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel
from sqlalchemy import select

from omniloop.core.deps import SessionDep
from omniloop.core.ids import IdPath
from omniloop.core.pagination import PageDep, paginate
from omniloop.customers import lists
from omniloop.customers.models import CustomerList
from omniloop.customers.uploads import saved_upload
from omniloop.org.auth import Principal, require
from omniloop.org.models import Org, User
from omniloop.org.roles import Permission

router = APIRouter(prefix="/api/customer-lists", tags=["customer-lists"])
ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"}}


class CustomerListRead(BaseModel):
    id: int
    name: str
    description: str | None
    org_id: int
    org_name: str | None = None
    created_by_id: int | None
    created_by_name: str | None = None
    source_filename: str | None
    size: int
    unknown_count: int
    created_at: datetime
    archived_at: datetime | None = None
    uses: list[lists.ListUse] = []  # audiences, tags and campaigns using the list: it cannot be deleted


class CustomerListPage(BaseModel):
    items: list[CustomerListRead]
    total: int
    page: int
    page_size: int


class CustomerListUploaded(BaseModel):
    list: CustomerListRead
    report: lists.ListUploadReport


def _read(session, rows: list[CustomerList]) -> list[CustomerListRead]:
    if not rows:
        return []
    uses = lists.list_uses(session, [r.id for r in rows])
    orgs = dict(session.execute(select(Org.id, Org.name).where(Org.id.in_({r.org_id for r in rows}))).all())
    user_ids = {r.created_by_id for r in rows if r.created_by_id}
    users = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids))).all()) \
        if user_ids else {}
    return [CustomerListRead(id=r.id, name=r.name, description=r.description, org_id=r.org_id,
                             org_name=orgs.get(r.org_id), created_by_id=r.created_by_id,
                             created_by_name=users.get(r.created_by_id), source_filename=r.source_filename,
                             size=r.size, unknown_count=r.unknown_count, created_at=r.created_at,
                             archived_at=r.archived_at, uses=uses.get(r.id, [])) for r in rows]


@router.post("", response_model=CustomerListUploaded, status_code=201, responses={
    **ERR, 413: {"description": "File larger than the upload limit"},
    415: {"description": "Not a CSV, Parquet or .xlsx file"},
    422: {"description": "No customer numbers, or none known in your scope (details: the report)"}})
def upload_customer_list(
    request: Request,
    session: SessionDep,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    file: Annotated[UploadFile, File(description="CSV or Excel (.xlsx) with a customer_no / 客户号 column "
                                                 "(else the first column)")],
    description: Annotated[str | None, Form(max_length=500)] = None,
    principal: Principal = require(Permission.audiences_manage),
) -> CustomerListUploaded:
    """Upload a customer list (上传名单); numbers are matched among the customers you may read."""
    file_name = file.filename or ""
    with saved_upload(file, max_mb=request.app.state.settings.import_max_mb, prefix="omniloop-list-") as path:
        row, report = lists.upload_list(session, principal=principal, path=path, file_name=file_name,
                                        name=name.strip() or name, description=description)
    session.commit()
    return CustomerListUploaded(list=_read(session, [row])[0], report=report)


@router.get("", response_model=CustomerListPage, responses=ERR)
def list_customer_lists(
    session: SessionDep,
    page: PageDep,
    q: Annotated[str | None, Query(max_length=100, description="name contains")] = None,
    archived: Annotated[bool, Query(description="true: the archived lists instead of the live ones")] = False,
    principal: Principal = require(Permission.audiences_read),
) -> CustomerListPage:
    stmt = lists.readable_lists(principal, archived=archived)
    if q and q.strip():
        stmt = stmt.where(CustomerList.name.contains(q.strip(), autoescape=True))
    rows, total = paginate(session, stmt.order_by(CustomerList.id.desc()), page)
    return CustomerListPage(items=_read(session, rows), total=total, page=page.page, page_size=page.page_size)


@router.get("/{list_id}", response_model=CustomerListRead, responses={**ERR, 404: {"description": "Not found"}})
def get_customer_list(
    list_id: IdPath,
    session: SessionDep,
    principal: Principal = require(Permission.audiences_read),
) -> CustomerListRead:
    return _read(session, [lists.get_readable_list(session, principal, list_id)])[0]


NOT_FOUND = {**ERR, 404: {"description": "Not found"}}


@router.post("/{list_id}/archive", response_model=CustomerListRead, responses=NOT_FOUND)
def archive_customer_list(
    list_id: IdPath,
    session: SessionDep,
    principal: Principal = require(Permission.audiences_manage),
) -> CustomerListRead:
    """Archive a list (归档): it leaves the pickers; audiences and tags using it keep working."""
    row = lists.set_archived(session, principal=principal, row=lists.get_readable_list(session, principal, list_id),
                             archived=True)
    session.commit()
    return _read(session, [row])[0]


@router.post("/{list_id}/restore", response_model=CustomerListRead, responses=NOT_FOUND)
def restore_customer_list(
    list_id: IdPath,
    session: SessionDep,
    principal: Principal = require(Permission.audiences_manage),
) -> CustomerListRead:
    """Restore an archived list (取消归档)."""
    row = lists.set_archived(session, principal=principal, row=lists.get_readable_list(session, principal, list_id),
                             archived=False)
    session.commit()
    return _read(session, [row])[0]


@router.delete("/{list_id}", status_code=204, response_class=Response, responses={
    **NOT_FOUND, 409: {"description": "In use by an audience, a tag or a campaign (list_in_use; details.uses)"}})
def delete_customer_list(
    list_id: IdPath,
    session: SessionDep,
    principal: Principal = require(Permission.audiences_manage),
) -> Response:
    """Delete a list that nothing uses; one in use is refused with 409 ``list_in_use`` (archive it instead)."""
    lists.delete_list(session, principal=principal, row=lists.get_readable_list(session, principal, list_id))
    session.commit()
    return Response(status_code=204)
