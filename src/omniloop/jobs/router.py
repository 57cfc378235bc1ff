"""HTTP routes for jobs (作业): list and inspect jobs, schedules and workers; retry and cancel (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from omniloop.core.deps import SessionDep
from omniloop.core.ids import IdPath
from omniloop.core.pagination import PageDep, paginate
from omniloop.jobs import service
from omniloop.jobs.schemas import JobPage, JobRead, JobStatus, ScheduleRead, WorkerRead
from omniloop.org.auth import Principal, require
from omniloop.org.roles import Permission

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"}}
ERR_404 = {**ERR, 404: {"description": "Job not found"}}
ERR_409 = {**ERR_404, 409: {"description": "The job's status does not allow this action"}}
JobsReader = Annotated[Principal, require(Permission.jobs_read)]
JobsManager = Annotated[Principal, require(Permission.jobs_manage)]  # admins


@router.get("", response_model=JobPage, responses=ERR)
def list_jobs(
    session: SessionDep,
    page: PageDep,
    principal: JobsReader,
    status: JobStatus | None = None,
    name: Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$",
                                      description="exact job name, e.g. tags.run")] = None,
) -> JobPage:
    items, total = paginate(session, service.jobs_statement(status=status, name=name), page)
    return JobPage(items=items, total=total, page=page.page, page_size=page.page_size)


@router.get("/schedules", response_model=list[ScheduleRead], responses=ERR)
def list_schedules(session: SessionDep, principal: JobsReader) -> list:
    return service.list_schedules(session)


@router.get("/workers", response_model=list[WorkerRead], responses=ERR)
def list_workers(session: SessionDep, principal: JobsReader) -> list:
    return [
        WorkerRead(id=w.id, hostname=w.hostname, pid=w.pid, started_at=w.started_at,
                   heartbeat_at=w.heartbeat_at, stopped_at=w.stopped_at, alive=service.is_alive(w))
        for w in service.list_workers(session)
    ]


@router.get("/{job_id}", response_model=JobRead, responses=ERR_404)
def get_job(job_id: IdPath, session: SessionDep, principal: JobsReader):
    return service.get_job(session, job_id=job_id)


@router.post("/{job_id}/retry", response_model=JobRead, responses=ERR_409)
def retry_job(job_id: IdPath, session: SessionDep, principal: JobsManager):
    job = service.retry(session, job_id=job_id, actor=principal.actor)
    session.commit()
    return job


@router.post("/{job_id}/cancel", response_model=JobRead, responses=ERR_409)
def cancel_job(job_id: IdPath, session: SessionDep, principal: JobsManager):
    job = service.cancel(session, job_id=job_id, actor=principal.actor)
    session.commit()
    return job
