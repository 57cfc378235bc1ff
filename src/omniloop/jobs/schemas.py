"""Response models for jobs (作业), schedules and workers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class JobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    args: dict
    idempotency_key: str | None
    status: JobStatus
    priority: int
    run_at: datetime
    attempts: int
    max_attempts: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    heartbeat_at: datetime | None
    progress: float
    progress_message: str | None
    result: dict | None
    error: str | None
    cancel_requested: bool
    schedule_id: int | None
    created_by: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobPage(BaseModel):
    items: list[JobRead]
    total: int
    page: int
    page_size: int


class ScheduleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    job_name: str
    cron: str
    timezone: str
    args: dict
    enabled: bool
    next_run_at: datetime
    last_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WorkerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    alive: bool
