"""Export of a tag's values (标签数据导出): a ``tags.export`` job writing CSV or Excel under ``home/exports``.

Rows are the customers of the requester's scope (org subtree; an RM's own customers) in the current tag
set, with customer number, name and phone masked unless the requester's role may see personal data,
their org, and the tag's value with its label. The file belongs to the requester: only they download it.
"""

from __future__ import annotations

import csv
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from omniloop.core import audit
from omniloop.core.errors import NotFound, ValidationFailed
from omniloop.customers.models import Customer
from omniloop.exports import tasks as export_tasks
from omniloop.jobs import service as job_service
from omniloop.jobs.models import Job
from omniloop.org.auth import Principal
from omniloop.org.masking import mask_name, mask_phone
from omniloop.org.models import Org, User
from omniloop.org.roles import Permission
from omniloop.org.service import subtree_condition
from omniloop.tags.models import TagDefinition
from omniloop.tags.schemas import ExportCreate, ExportRead
from omniloop.tags.tagset import feature_store, tag_column, tag_store

EXPORT_JOB = "tags.export"
EXPORTS_DIR = "exports"
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header
CHUNK = 5_000

Progress = Callable[[float, str], None]


def export_dir(home: Path) -> Path:
    return Path(home) / EXPORTS_DIR / "tags"


def request_export(session: Session, *, principal: Principal, tag: TagDefinition, data: ExportCreate) -> ExportRead:
    if data.values:
        known = {str(v["value"]).lower() for v in tag.values or []}
        bad = [v for v in data.values if v.lower() not in known]
        if bad:
            raise ValidationFailed("导出筛选的取值不属于该标签", "Values not of this tag",
                                   details={"field": "values", "values": bad[:20]})
    job = job_service.enqueue(session, name=EXPORT_JOB, created_by=principal.user.id, max_attempts=2,
                              args={"tag_id": tag.id, "user_id": principal.user.id, "format": data.format,
                                    "values": data.values})
    export_tasks.declare_schedules(session)  # export files expire: make sure something removes them
    audit.record(session, actor=principal.actor, action="tag.export", entity_type="tag", entity_id=tag.id,
                 after={"job_id": job.id, "format": data.format, "values": data.values})
    return export_read(job)


def export_read(job: Job) -> ExportRead:
    result = job.result or {}
    done = job.status == "succeeded"
    return ExportRead(job_id=job.id, tag_id=int((job.args or {}).get("tag_id") or 0), status=job.status,
                      progress=job.progress or 0.0, progress_message=job.progress_message, rows=result.get("rows"),
                      file_name=result.get("file_name") if done else None,
                      download_url=f"/api/tags/exports/{job.id}/download" if done else None,
                      created_at=job.created_at, finished_at=job.finished_at,
                      error=(job.error or "").strip().splitlines()[-1][:500] if job.status == "failed" and job.error
                      else None)


def get_export(session: Session, *, principal: Principal, job_id: int) -> Job:
    """The requester's own export job (anyone else's is not found)."""
    job = session.get(Job, job_id)
    if job is None or job.name != EXPORT_JOB or job.created_by != principal.user.id:
        raise NotFound("导出任务不存在", "Export not found", code="export_not_found")
    return job


def export_file(home: Path, job: Job) -> Path:
    if job.status != "succeeded" or not (job.result or {}).get("file_name"):
        raise ValidationFailed("导出尚未完成", "The export is not finished", code="export_not_ready",
                               details={"status": job.status})
    path = export_dir(home) / job.result["file_name"]
    if not path.is_file():
        raise NotFound("导出文件已清理，请重新导出", "The export file is gone; export again", code="export_file_gone")
    return path


def run_export(session_factory: sessionmaker[Session], home: Path, *, job_id: int, tag_id: int, user_id: int,
               format: str, values: list[str] | None, progress: Progress) -> dict[str, Any]:
    """Write the file; returns ``{"rows", "file_name"}``. Running it twice writes the same file again."""
    with session_factory() as session:
        tag = session.get(TagDefinition, tag_id)
        user = session.get(User, user_id)
        if tag is None or user is None:
            raise LookupError("tag or user no longer exists")
        principal = Principal(user=user, org=session.get(Org, user.org_id), token_hash="")
        org_names = dict(session.execute(select(Org.id, Org.name).where(
            subtree_condition(Org.path, principal.org.path))).all())
        unmask = principal.can(Permission.customers_pii)
        rm = user.id if principal.role.assigned_customers_only else None
        labels = {str(v["value"]).lower(): v.get("label_zh") or str(v["value"]) for v in tag.values or []}
        code, name_zh, boolean = tag.code, tag.name_zh, tag.value_type == "boolean"
    tagsets = tag_store(home)
    version = tagsets.current_version()
    if version is None or code not in (tagsets.manifest(version).get("tags") or {}):
        raise LookupError("the tag has no values yet: run it first")
    manifest = tagsets.manifest(version)
    features = feature_store(home)
    feature_path = features.path(manifest["feature_version"])
    if not feature_path.exists():
        feature_path = features.path(features.current_version())
    value = f't."{tag_column(code)}"'
    text_value = f"CASE WHEN {value} THEN 'true' ELSE 'false' END" if boolean else f"CAST({value} AS VARCHAR)"
    where = ["list_contains(?, f.org_id)", f"{value} IS NOT NULL"]
    params: list[Any] = [list(org_names)]
    if rm is not None:
        where.append("f.rm_id = ?")
        params.append(rm)
    if values:
        where.append(f"lower({text_value}) IN ({', '.join('?' for _ in values)})")
        params.extend(v.lower() for v in values)
    con = duckdb.connect(":memory:")
    try:
        rows = con.execute(
            f"SELECT f.cid, f.customer_no, f.org_id, {text_value} AS v FROM read_parquet(?) f "
            f"JOIN read_parquet(?) t ON t.cid = f.cid WHERE {' AND '.join(where)} ORDER BY f.customer_no",
            [str(feature_path), str(tagsets.path(version)), *params]).fetchall()
    finally:
        con.close()
    if format == "xlsx" and len(rows) > XLSX_MAX_ROWS:
        raise ValueError(f"{len(rows)} rows do not fit in one Excel sheet; export CSV instead")
    progress(0.2, f"{len(rows)} 行 / rows")
    header = ["客户号 customer_no", "姓名 name", "手机号 phone", "机构 org", f"{name_zh} value", "取值 label"]
    folder = export_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    file_name = f"tag-{code}-{job_id}.{format}"
    temp = folder / f".{file_name}.{uuid.uuid4().hex}.tmp"

    def records():
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            with session_factory() as session:
                people = {cid: (name, phone) for cid, name, phone in session.execute(
                    select(Customer.id, Customer.name, Customer.phone).where(Customer.id.in_([r[0] for r in chunk])))}
            for cid, number, org_id, v in chunk:
                name, phone = people.get(cid, (None, None))
                if not unmask:
                    name, phone = mask_name(name), mask_phone(phone)
                yield [number, name, phone, org_names.get(org_id), v, labels.get(str(v).lower(), v)]
            progress(0.2 + 0.75 * min(1.0, (start + len(chunk)) / max(len(rows), 1)), f"{start + len(chunk)}/{len(rows)}")

    try:
        if format == "csv":
            with temp.open("w", encoding="utf-8-sig", newline="") as out:  # BOM: Excel opens it as UTF-8
                writer = csv.writer(out)
                writer.writerow(header)
                writer.writerows(records())
        else:
            from openpyxl import Workbook

            book = Workbook(write_only=True)
            sheet = book.create_sheet(code[:31])
            sheet.append(header)
            for record in records():
                sheet.append(record)
            book.save(temp)
        os.replace(temp, folder / file_name)
    finally:
        temp.unlink(missing_ok=True)
    return {"rows": len(rows), "file_name": file_name, "tagset_version": version}
