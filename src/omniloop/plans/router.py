"""HTTP routes for campaign needs and plans: CRUD, versions, documents and archive search (C1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse

from omniloop.core.deps import SessionDep
from omniloop.core.errors import NotFound
from omniloop.core.ids import IdPath, IdQuery
from omniloop.core.pagination import PageDep, paginate
from omniloop.org.auth import Principal, require
from omniloop.org.roles import Permission
from omniloop.plans import documents, service
from omniloop.plans.schemas import (
    BusinessLine,
    DocumentRead,
    DocumentText,
    DocumentUpload,
    LifecycleStage,
    PlanCreate,
    PlanFromAlert,
    PlanPage,
    PlanRead,
    PlanStatus,
    PlanUpdate,
    PlanVersionRead,
    SearchPage,
    VersionComparison,
)

router = APIRouter(prefix="/api/plans", tags=["plans"])
ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"}}
ERR_404 = {**ERR, 404: {"description": "Not found"}}
Version = Annotated[int, Query(ge=1, le=1_000_000)]


@router.get("", response_model=PlanPage, responses=ERR)
def list_plans(
    session: SessionDep, page: PageDep,
    q: Annotated[str | None, Query(max_length=100, description="title, objective or source contains")] = None,
    status: PlanStatus | None = None,
    lifecycle_stage: LifecycleStage | None = None,
    business_line: BusinessLine | None = None,
    owner_org_id: IdQuery = None,
    principal: Principal = require(Permission.plans_read),
) -> PlanPage:
    stmt = service.list_statement(principal, q=q, status=status, lifecycle_stage=lifecycle_stage,
                                  business_line=business_line, owner_org_id=owner_org_id)
    rows, total = paginate(session, stmt, page)
    return PlanPage(items=service.read_plans(session, rows), total=total, page=page.page, page_size=page.page_size)


@router.post("", response_model=PlanRead, status_code=201, responses={**ERR_404, 422: {}})
def create_plan(body: PlanCreate, session: SessionDep,
                principal: Principal = require(Permission.plans_manage)) -> PlanRead:
    plan = service.create_plan(session=session, principal=principal, data=body)
    session.commit()
    return service.read_plan(session, plan)


@router.post("/from-alert", response_model=PlanRead, status_code=201, responses={**ERR_404, 422: {}})
def create_from_alert(body: PlanFromAlert, session: SessionDep,
                      principal: Principal = require(Permission.plans_manage)) -> PlanRead:
    """Raise a campaign need from an insight alert; the alert's type and reference are kept on the need."""
    plan = service.create_from_alert(session=session, principal=principal, data=body)
    session.commit()
    return service.read_plan(session, plan)


@router.get("/search", response_model=SearchPage, responses=ERR)
def search_plans(
    session: SessionDep, page: PageDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="words to find (Chinese or English)")],
    principal: Principal = require(Permission.plans_read),
) -> SearchPage:
    """Full-text search over approved (archived) plans and their documents, BM25 over jieba tokens."""
    return service.search_archive(session=session, principal=principal, q=q, page=page)


@router.get("/documents/{document_id}", response_model=DocumentText, responses=ERR_404)
def get_document(document_id: IdPath, session: SessionDep,
                 principal: Principal = require(Permission.plans_read)) -> DocumentText:
    document = service.get_document(session=session, principal=principal, document_id=document_id)
    plan = service.get_plan_unscoped(session=session, plan_id=document.plan_id)
    return DocumentText(id=document.id, plan_id=document.plan_id, filename=document.filename,
                        file_type=document.file_type, text=document.text,
                        suggestions=service.suggestions(plan, document))


@router.get("/documents/{document_id}/download", response_class=FileResponse,
            responses={**ERR_404, 200: {"content": {"application/octet-stream": {}}}})
def download_document(document_id: IdPath, request: Request, session: SessionDep,
                      principal: Principal = require(Permission.plans_read)) -> FileResponse:
    document = service.get_document(session=session, principal=principal, document_id=document_id)
    path = service.document_path(request.app.state.settings.home, document)
    if not path.is_file():
        raise NotFound("文档原件缺失", "The original file is missing", code="document_file_missing",
                       details={"document_id": document_id})
    return FileResponse(path, filename=document.filename, media_type="application/octet-stream")


@router.get("/{plan_id}", response_model=PlanRead, responses=ERR_404)
def get_plan(plan_id: IdPath, session: SessionDep, principal: Principal = require(Permission.plans_read)) -> PlanRead:
    return service.read_plan(session, service.get_plan(session=session, principal=principal, plan_id=plan_id))


@router.patch("/{plan_id}", response_model=PlanRead, responses={**ERR_404, 409: {}, 422: {}})
def update_plan(plan_id: IdPath, body: PlanUpdate, session: SessionDep,
                principal: Principal = require(Permission.plans_manage)) -> PlanRead:
    """Edit a draft, rejected or withdrawn plan; once it has been submitted, each save is a new version."""
    plan = service.get_plan(session=session, principal=principal, plan_id=plan_id)
    service.update_plan(session=session, principal=principal, plan=plan, data=body)
    session.commit()
    return service.read_plan(session, plan)


@router.delete("/{plan_id}", status_code=204, responses={**ERR_404, 409: {}})
def delete_plan(plan_id: IdPath, session: SessionDep,
                principal: Principal = require(Permission.plans_manage)) -> Response:
    plan = service.get_plan(session=session, principal=principal, plan_id=plan_id)
    service.delete_plan(session=session, principal=principal, plan=plan)
    session.commit()
    return Response(status_code=204)


@router.get("/{plan_id}/versions", response_model=list[PlanVersionRead], responses=ERR_404)
def list_versions(plan_id: IdPath, session: SessionDep,
                  principal: Principal = require(Permission.plans_read)) -> list[PlanVersionRead]:
    plan = service.get_plan(session=session, principal=principal, plan_id=plan_id)
    return service.list_versions(session, plan)


@router.get("/{plan_id}/versions/compare", response_model=VersionComparison, responses=ERR_404)
def compare_versions(plan_id: IdPath, from_version: Version, to_version: Version, session: SessionDep,
                     principal: Principal = require(Permission.plans_read)) -> VersionComparison:
    """Two versions of a plan side by side, field by field (版本比对)."""
    plan = service.get_plan(session=session, principal=principal, plan_id=plan_id)
    return service.compare_versions(session, plan, from_version, to_version)


@router.get("/{plan_id}/versions/{version}", response_model=PlanVersionRead, responses=ERR_404)
def get_version(plan_id: IdPath, version: IdPath, session: SessionDep,
                principal: Principal = require(Permission.plans_read)) -> PlanVersionRead:
    plan = service.get_plan(session=session, principal=principal, plan_id=plan_id)
    return PlanVersionRead.model_validate(service.get_version(session, plan, version))


@router.get("/{plan_id}/documents", response_model=list[DocumentRead], responses=ERR_404)
def list_documents(plan_id: IdPath, session: SessionDep,
                   principal: Principal = require(Permission.plans_read)) -> list[DocumentRead]:
    plan = service.get_plan(session=session, principal=principal, plan_id=plan_id)
    return [service.read_document(d) for d in service.list_documents(session, plan)]


@router.post("/{plan_id}/documents", response_model=DocumentUpload, status_code=201,
             responses={**ERR_404, 409: {}, 422: {"description": "Corrupt, encrypted, oversized or unsupported"}})
def upload_document(
    plan_id: IdPath, request: Request, session: SessionDep,
    file: Annotated[UploadFile, File(description=".docx, .pdf, .xlsx, .txt or .md")],
    principal: Principal = require(Permission.plans_manage),
) -> DocumentUpload:
    """Upload the plan document: stored with its text; key fields found in it are proposed, not applied."""
    plan = service.get_plan(session=session, principal=principal, plan_id=plan_id)
    if plan.status not in service.EDITABLE:
        raise service.PlanLocked(details={"status": plan.status})
    data = read_upload(request, file)
    document = service.add_document(session=session, principal=principal, plan=plan, filename=file.filename or "",
                                    data=data, home=request.app.state.settings.home,
                                    max_bytes=request.app.state.settings.plan_doc_max_mb * 2**20)
    session.commit()
    return DocumentUpload(document=service.read_document(document), suggestions=service.suggestions(plan, document))


def read_upload(request: Request, file: UploadFile) -> bytes:
    """The uploaded bytes, refusing (422 document_too_large) without reading past the limit."""
    limit = request.app.state.settings.plan_doc_max_mb * 2**20
    documents.file_type_of(file.filename or "")
    data = file.file.read(limit + 1)
    if len(data) > limit:
        size = file.size if file.size is not None else len(data)
        raise documents.too_large(size, limit)
    return data
