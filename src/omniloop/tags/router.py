"""HTTP routes for tags (标签管理), tag runs (跑批), the lifecycle overview and a customer's tags."""

from __future__ import annotations

import pathlib
from typing import Annotated

from fastapi import APIRouter, Depends, File, Path, Query, Request, UploadFile
from fastapi.responses import FileResponse

from omniloop.audiences.engine import app_engine
from omniloop.core.deps import SessionDep
from omniloop.core.ids import IdPath
from omniloop.core.pagination import PageDep
from omniloop.customers.uploads import saved_upload
from omniloop.org.auth import Principal, require
from omniloop.org.roles import Permission
from omniloop.tags import export, lifecycle, service
from omniloop.tags.models import TagDefinition
from omniloop.tags.schemas import (
    Category,
    CustomerTags,
    ExportCreate,
    ExportRead,
    LifecycleOverview,
    RunStatus,
    ScoreUploadReport,
    Source,
    TagCatalog,
    TagCreate,
    TagDetail,
    TagPage,
    TagRunCreate,
    TagRunDetail,
    TagRunPage,
    TagStatus,
    TagUpdate,
    ValidateRequest,
    ValidateResponse,
)

router = APIRouter(prefix="/api", tags=["tags"])
ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"}}
NOT_FOUND = {**ERR, 404: {"description": "Not found"}}
INVALID = {422: {"description": "Invalid definition (details.problems: path, kind, messages, rule positions)"}}


def _home(request: Request) -> pathlib.Path:
    return pathlib.Path(request.app.state.settings.home)


def tag_dep(tag_id: IdPath, session: SessionDep) -> TagDefinition:
    return service.get_tag(session, tag_id)


TagDep = Annotated[TagDefinition, Depends(tag_dep)]


def _detail(session: SessionDep, tag: TagDefinition, request: Request, principal: Principal) -> TagDetail:
    """Counts within the caller's scope (head office: bank-wide) from the API's audience engine."""
    return service.tag_detail(session, tag=tag, home=_home(request), principal=principal,
                              engine=app_engine(request.app))


@router.get("/tags/catalog", response_model=TagCatalog, responses=ERR)
def tag_catalog(principal: Principal = require(Permission.tags_read)) -> TagCatalog:
    """Categories, sources, value types and the customer features a rule may use (for the editor)."""
    return service.catalog()


@router.post("/tags/validate", response_model=ValidateResponse, responses=ERR)
def validate_tag(data: ValidateRequest, session: SessionDep,
                 principal: Principal = require(Permission.tags_read)) -> ValidateResponse:
    """Check a rule or a whole definition while it is typed: problems with positions, features used."""
    return service.validate(session, data, principal=principal)


@router.get("/tags", response_model=TagPage, responses=ERR)
def list_tags(
    request: Request,
    session: SessionDep,
    page: PageDep,
    category: Category | None = None,
    source: Source | None = None,
    status: TagStatus | None = None,
    q: Annotated[str | None, Query(max_length=100, description="code or name contains")] = None,
    principal: Principal = require(Permission.tags_read),
) -> TagPage:
    return service.list_tags(session, page=page, category=category, source=source, status=status, q=q,
                             principal=principal, engine=app_engine(request.app))


@router.post("/tags", response_model=TagDetail, status_code=201, responses={**ERR, **INVALID,
                                                                             409: {"description": "Code taken"}})
def create_tag(data: TagCreate, request: Request, session: SessionDep,
               principal: Principal = require(Permission.tags_manage)) -> TagDetail:
    tag = service.create_tag(session, principal=principal, data=data)
    session.commit()
    return _detail(session, tag, request, principal)


@router.get("/tags/exports/{job_id}", response_model=ExportRead, responses=NOT_FOUND)
def get_export(job_id: IdPath, session: SessionDep,
               principal: Principal = require(Permission.tags_export)) -> ExportRead:
    return export.export_read(export.get_export(session, principal=principal, job_id=job_id))


@router.get("/tags/exports/{job_id}/download", response_class=FileResponse,
            responses={**NOT_FOUND, 200: {"content": {"text/csv": {}, "application/octet-stream": {}}},
                       422: {"description": "Not finished yet"}})
def download_export(job_id: IdPath, request: Request, session: SessionDep,
                    principal: Principal = require(Permission.tags_export)) -> FileResponse:
    path = export.export_file(_home(request), export.get_export(session, principal=principal, job_id=job_id))
    media = "text/csv" if path.suffix == ".csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return FileResponse(path, media_type=media, filename=path.name)


@router.get("/tags/{tag_id}", response_model=TagDetail, responses=NOT_FOUND)
def get_tag(tag: TagDep, request: Request, session: SessionDep,
            principal: Principal = require(Permission.tags_read)) -> TagDetail:
    """Definition, value distribution and coverage in your scope (head office: bank-wide, with history),
    run log, and where it is used (audiences, campaigns)."""
    return _detail(session, tag, request, principal)


@router.patch("/tags/{tag_id}", response_model=TagDetail, responses={**NOT_FOUND, **INVALID, 409: {
    "description": "System tag; or archiving a tag used by an unfinished campaign (tag_in_use)"}})
def update_tag(tag: TagDep, data: TagUpdate, request: Request, session: SessionDep,
               principal: Principal = require(Permission.tags_manage)) -> TagDetail:
    """Edit a tag; a changed definition gets the next definition version and applies from the next run."""
    service.update_tag(session, principal=principal, tag=tag, data=data)
    session.commit()
    return _detail(session, tag, request, principal)


@router.delete("/tags/{tag_id}", response_model=TagDetail, responses={**NOT_FOUND, 409: {
    "description": "System tag (system_tag); used by an unfinished campaign (tag_in_use, details.campaigns)"}})
def archive_tag(tag: TagDep, request: Request, session: SessionDep,
                principal: Principal = require(Permission.tags_manage)) -> TagDetail:
    """Archive a tag (归档): it leaves the next tag set; its history stays."""
    service.archive_tag(session, principal=principal, tag=tag)
    session.commit()
    return _detail(session, tag, request, principal)


@router.post("/tags/{tag_id}/scores", response_model=ScoreUploadReport, responses={
    **NOT_FOUND, 413: {"description": "File larger than the upload limit"},
    415: {"description": "Not a CSV, Parquet or .xlsx file"}, 422: {"description": "Not a score tag or no matches"}})
def upload_scores(
    tag: TagDep,
    request: Request,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="CSV / Excel / Parquet: customer_no (客户号) and score (分数)")],
    principal: Principal = require(Permission.tags_manage),
) -> ScoreUploadReport:
    """Upload a model's scores for a model-score tag; the next run buckets them."""
    file_name = file.filename or ""
    with saved_upload(file, max_mb=request.app.state.settings.import_max_mb, prefix="omniloop-scores-") as path:
        report = service.upload_scores(session, principal=principal, home=_home(request), tag=tag, path=path,
                                       file_name=file_name)
    session.commit()
    return report


@router.post("/tags/{tag_id}/exports", response_model=ExportRead, status_code=202, responses=NOT_FOUND)
def export_tag(tag: TagDep, data: ExportCreate, session: SessionDep,
               principal: Principal = require(Permission.tags_export)) -> ExportRead:
    """Export the tag's values for the customers in your scope (a job; poll it, then download)."""
    read = export.request_export(session, principal=principal, tag=tag, data=data)
    session.commit()
    return read


@router.post("/tag-runs", response_model=TagRunDetail, status_code=202, responses={**ERR, 422: {
    "description": "Unknown or archived tags"}})
def run_tags(data: TagRunCreate, session: SessionDep,
             principal: Principal = require(Permission.tags_manage)) -> TagRunDetail:
    """Run tags now (立即跑批): all active tags, or ``tag_ids``; returns the run and its job id."""
    run = service.request_run(session, actor=principal.actor, user_id=principal.user.id, tag_ids=data.tag_ids)
    session.commit()
    return service.get_run(session, run.id)


@router.get("/tag-runs", response_model=TagRunPage, responses=ERR)
def list_runs(session: SessionDep, page: PageDep, status: RunStatus | None = None,
              principal: Principal = require(Permission.tags_read)) -> TagRunPage:
    items, total = service.list_runs(session, page=page, status=status)
    return TagRunPage(items=items, total=total, page=page.page, page_size=page.page_size)


@router.get("/tag-runs/{run_id}", response_model=TagRunDetail, responses=NOT_FOUND)
def get_run(run_id: IdPath, session: SessionDep,
            principal: Principal = require(Permission.tags_read)) -> TagRunDetail:
    return service.get_run(session, run_id)


@router.get("/lifecycle/overview", response_model=LifecycleOverview, responses=ERR)
def lifecycle_overview(request: Request, session: SessionDep,
                       principal: Principal = require(Permission.tags_read)) -> LifecycleOverview:
    """Customers, MAU and AUM per lifecycle stage and status in your scope (生命周期双轨视图)."""
    return lifecycle.overview(session, principal=principal, home=_home(request))


@router.get("/customers/{customer_no}/tags", response_model=CustomerTags, responses=NOT_FOUND)
def customer_tags(
    customer_no: Annotated[str, Path(max_length=32)],
    request: Request,
    session: SessionDep,
    principal: Principal = require(Permission.customers_read),
) -> CustomerTags:
    """A customer's current tag values and lifecycle, and the history of their changes (customer 360)."""
    return service.customer_tags(session, principal=principal, home=_home(request), customer_no=customer_no)
