"""HTTP routes for audiences (人群圈选): live estimate, builder catalog, saved audiences, snapshots, exports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

from omniloop.audiences import service
from omniloop.audiences.engine import AudienceEngine, app_engine
from omniloop.audiences.schemas import (
    AudienceCreate,
    AudienceDeleted,
    AudiencePage,
    AudienceRead,
    AudienceUpdate,
    CatalogRead,
    EstimateRead,
    EstimateRequest,
    ExportCreate,
    ExportRead,
    SnapshotCreate,
    SnapshotDetail,
    SnapshotPage,
    SnapshotRead,
)
from omniloop.core.deps import SessionDep
from omniloop.core.ids import IdPath
from omniloop.core.pagination import PageDep
from omniloop.org.auth import Principal, require
from omniloop.org.roles import Permission

router = APIRouter(tags=["audiences"])

ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"}}
ERR_404 = {**ERR, 404: {"description": "Not found or outside your scope"}}
NO_TAGSET = {409: {"description": "No tag set published yet (code no_tagset), or a state conflict"},
             503: {"description": "The tag set is being replaced; retry"}}
INVALID = {422: {"description": "Invalid expression (code invalid_audience; details: one problem per path)"}}
Reader = Annotated[Principal, require(Permission.audiences_read)]
Manager = Annotated[Principal, require(Permission.audiences_manage)]
Exporter = Annotated[Principal, require(Permission.audiences_export)]


def _engine(request: Request) -> AudienceEngine:
    return app_engine(request.app)


@router.post("/api/audiences/estimate", response_model=EstimateRead, responses={**ERR, **NO_TAGSET, **INVALID})
def estimate(body: EstimateRequest, request: Request, session: SessionDep, principal: Reader) -> EstimateRead:
    """Live size (实时预估) within the caller's scope, breakdowns, and each condition's own count."""
    return service.estimate(session=session, principal=principal, engine=_engine(request),
                            expression=body.expression, breakdown=body.breakdown)


@router.get("/api/audiences/catalog", response_model=CatalogRead, responses=ERR)
def catalog(request: Request, session: SessionDep, principal: Reader) -> CatalogRead:
    """Features, tags, uploaded lists and saved audiences the builder can use."""
    return service.catalog(session=session, principal=principal, engine=_engine(request))


# ---- exports (before /api/audiences/{audience_id}: "exports" is not an id) --------------------------------

@router.get("/api/audiences/exports/{job_id}", response_model=ExportRead, responses=ERR_404)
def export_status(job_id: IdPath, session: SessionDep, principal: Exporter) -> ExportRead:
    return service.export_read(service.get_export_job(session=session, principal=principal, job_id=job_id))


@router.get("/api/audiences/exports/{job_id}/download", response_class=FileResponse,
            responses={**ERR_404, 409: {"description": "Not finished yet"}, 410: {"description": "File removed"},
                       200: {"description": "The CSV or Excel file",
                             "content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument."
                                                                 "spreadsheetml.sheet": {}}}})
def export_download(job_id: IdPath, request: Request, session: SessionDep, principal: Exporter) -> FileResponse:
    job = service.get_export_job(session=session, principal=principal, job_id=job_id)
    path = service.export_path(request.app.state.settings.home, job)
    xlsx = path.suffix == ".xlsx"
    media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if xlsx else "text/csv"
    return FileResponse(path, media_type=media, filename=(job.result or {}).get("download_name") or path.name)


# ---- saved audiences --------------------------------------------------------------------------------------

@router.get("/api/audiences", response_model=AudiencePage, responses=ERR)
def list_audiences(
    session: SessionDep,
    page: PageDep,
    principal: Reader,
    q: Annotated[str | None, Query(max_length=100, description="part of the name")] = None,
    archived: bool = False,
) -> AudiencePage:
    return service.list_audiences(session=session, principal=principal, page=page, q=q, archived=archived)


@router.post("/api/audiences", response_model=AudienceRead, status_code=201,
             responses={**ERR, **NO_TAGSET, **INVALID})
def create_audience(body: AudienceCreate, request: Request, session: SessionDep, principal: Manager) -> AudienceRead:
    audience = service.create_audience(session=session, principal=principal, engine=_engine(request), data=body)
    session.commit()
    return service.read_audiences(session, principal, [audience])[0]


@router.get("/api/audiences/{audience_id}", response_model=AudienceRead, responses=ERR_404)
def get_audience(audience_id: IdPath, session: SessionDep, principal: Reader) -> AudienceRead:
    audience = service.get_visible(session=session, principal=principal, audience_id=audience_id)
    return service.read_audiences(session, principal, [audience])[0]


@router.patch("/api/audiences/{audience_id}", response_model=AudienceRead,
              responses={**ERR_404, **NO_TAGSET, **INVALID})
def update_audience(audience_id: IdPath, body: AudienceUpdate, request: Request, session: SessionDep,
                    principal: Manager) -> AudienceRead:
    audience = service.get_visible(session=session, principal=principal, audience_id=audience_id)
    service.update_audience(session=session, principal=principal, engine=_engine(request), audience=audience,
                            data=body)
    session.commit()
    return service.read_audiences(session, principal, [audience])[0]


@router.delete("/api/audiences/{audience_id}", response_model=AudienceDeleted, responses=ERR_404)
def delete_audience(audience_id: IdPath, session: SessionDep, principal: Manager) -> AudienceDeleted:
    """Delete; an audience with snapshots, or used by another audience, is archived instead (归档)."""
    audience = service.get_visible(session=session, principal=principal, audience_id=audience_id)
    result = service.delete_audience(session=session, principal=principal, audience=audience)
    session.commit()
    return result


@router.post("/api/audiences/{audience_id}/restore", response_model=AudienceRead,
             responses={**ERR_404, 409: {"description": "A live audience of the org has the same name"}})
def restore_audience(audience_id: IdPath, session: SessionDep, principal: Manager) -> AudienceRead:
    audience = service.get_visible(session=session, principal=principal, audience_id=audience_id)
    service.restore_audience(session=session, principal=principal, audience=audience)
    session.commit()
    return service.read_audiences(session, principal, [audience])[0]


# ---- snapshots --------------------------------------------------------------------------------------------

@router.post("/api/audiences/{audience_id}/snapshots", response_model=SnapshotRead, status_code=201,
             responses={**ERR_404, **NO_TAGSET, **INVALID})
def create_snapshot(audience_id: IdPath, body: SnapshotCreate, request: Request, session: SessionDep,
                    principal: Manager) -> SnapshotRead:
    """Freeze the members in the caller's scope now, for a campaign wave (人群快照)."""
    audience = service.get_visible(session=session, principal=principal, audience_id=audience_id)
    snapshot = service.create_snapshot(session=session, principal=principal, engine=_engine(request),
                                       audience=audience, purpose=body.purpose)
    session.commit()
    return service.read_snapshots(session, [snapshot])[0]


@router.get("/api/audiences/{audience_id}/snapshots", response_model=SnapshotPage, responses=ERR_404)
def list_snapshots(audience_id: IdPath, session: SessionDep, page: PageDep, principal: Reader) -> SnapshotPage:
    audience = service.get_visible(session=session, principal=principal, audience_id=audience_id)
    return service.list_snapshots(session=session, principal=principal, audience=audience, page=page)


@router.get("/api/audience-snapshots/{snapshot_id}", response_model=SnapshotDetail, responses=ERR_404)
def get_snapshot(snapshot_id: IdPath, request: Request, session: SessionDep, principal: Reader) -> SnapshotDetail:
    snapshot = service.get_snapshot(session=session, principal=principal, snapshot_id=snapshot_id)
    return service.snapshot_detail(session=session, engine=_engine(request), snapshot=snapshot)


@router.post("/api/audiences/{audience_id}/exports", response_model=ExportRead, status_code=202,
             responses=ERR_404)
def export_audience(audience_id: IdPath, body: ExportCreate, session: SessionDep, principal: Exporter) -> ExportRead:
    """Queue an export of the audience as it is when the job runs, in the caller's scope then."""
    audience = service.get_visible(session=session, principal=principal, audience_id=audience_id)
    job = service.request_export(session=session, principal=principal, fmt=body.format, audience=audience)
    session.commit()
    return service.export_read(job)


@router.post("/api/audience-snapshots/{snapshot_id}/exports", response_model=ExportRead, status_code=202,
             responses=ERR_404)
def export_snapshot(snapshot_id: IdPath, body: ExportCreate, session: SessionDep, principal: Exporter) -> ExportRead:
    """Queue an export of the snapshot's frozen members (those still in the caller's scope when it runs)."""
    snapshot = service.get_snapshot(session=session, principal=principal, snapshot_id=snapshot_id)
    job = service.request_export(session=session, principal=principal, fmt=body.format, snapshot=snapshot)
    session.commit()
    return service.export_read(job)
