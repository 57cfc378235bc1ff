"""Exporting an audience's members (人群导出) to CSV or Excel, a chunk of customers at a time.

The requester's scope is checked again when the export runs, not when it was asked for: members are cut
to the customers ``readable_customers`` gives the requester now (org subtree, RM assignment), and names
and phones are masked unless their role has ``customers.pii``. A saved audience is evaluated at run time
in that scope; a snapshot exports its frozen members (those still in scope). Rows go out in cid order,
``CHUNK`` customers a query, so a million members need neither a huge IN list nor the whole set in memory.
The file is written under a temporary name and renamed when complete, so a rerun simply replaces it.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from pyroaring import BitMap
from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.audiences import service
from omniloop.audiences.engine import AudienceEngine
from omniloop.audiences.models import Audience
from omniloop.audiences.schemas import ExportRow
from omniloop.core.errors import Forbidden, NotFound
from omniloop.customers.models import Customer
from omniloop.customers.service import readable_customers
from omniloop.org.auth import Principal
from omniloop.org.models import Org, User
from omniloop.org.roles import Permission

CHUNK = 5_000
XLSX_SHEET_ROWS = 1_000_000  # Excel holds 1,048,576 rows a sheet; more members continue on the next sheet
HEADERS = {
    "zh-CN": ["客户号", "姓名", "手机号", "所属机构", "所属分行", "生命周期阶段"],
    "en": ["Customer no.", "Name", "Phone", "Org", "Branch", "Lifecycle stage"],
}


@dataclass(frozen=True)
class ExportResult:
    file: str  # name under home/exports
    download_name: str
    rows: int
    members: int  # members before the scope check at run time
    masked: bool


def requester(session: Session, user_id: int) -> Principal:
    """The requester as they are now: still active, still allowed to export."""
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise Forbidden("导出申请人已停用", "The requester's account is no longer active", code="requester_inactive")
    principal = Principal(user=user, org=session.get(Org, user.org_id), token_hash="")
    if not principal.can(Permission.audiences_export):
        raise Forbidden(details={"permission": Permission.audiences_export.value})
    return principal


def _placement(session: Session, *, english: bool) -> dict[int, tuple[str, str | None]]:
    """org id → (org name, name of its branch) in the requester's language; orgs are few, so all at once."""
    orgs = {i: (level, path, (name_en or name) if english else name) for i, level, path, name, name_en in
            session.execute(select(Org.id, Org.level, Org.path, Org.name, Org.name_en))}
    result = {}
    for org_id, (_, path, name) in orgs.items():
        chain = [int(p) for p in path.strip("/").split("/") if p]
        branch = next((o for o in reversed(chain) if o in orgs and orgs[o][0] == "branch"), None)
        result[org_id] = (name, orgs[branch][2] if branch is not None else None)
    return result


def _rows(session: Session, principal: Principal, members: BitMap, *, english: bool,
          progress: Callable[[float, str], None]) -> Iterator[list[str]]:
    unmask = principal.can(Permission.customers_pii)
    orgs = _placement(session, english=english)
    cids = np.frombuffer(members.to_array(), dtype=np.uint32)
    scoped = readable_customers(principal).with_only_columns(
        Customer.id, Customer.customer_no, Customer.name, Customer.phone, Customer.org_id, Customer.lifecycle_stage)
    total = len(cids)
    for start in range(0, total, CHUNK):
        chunk = cids[start: start + CHUNK].tolist()
        for _, customer_no, name, phone, org_id, stage in session.execute(
                scoped.where(Customer.id.in_(chunk)).order_by(Customer.id)):
            org_name, branch_name = orgs.get(org_id, (None, None))
            row = ExportRow.of({"customer_no": customer_no, "name": name, "phone": phone, "org_name": org_name,
                                "branch_name": branch_name, "lifecycle_stage": stage}, unmask=unmask)
            label = service.value_label("lifecycle_stage", stage)[1 if english else 0] if stage else ""
            yield [row.customer_no, row.name, row.phone or "", row.org_name or "", row.branch_name or "", label]
        done = min(start + CHUNK, total)
        progress(0.05 + 0.9 * done / max(total, 1), f"{done}/{total}")


def _write_csv(path: Path, header: list[str], rows: Iterator[list[str]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as out:  # the BOM makes Excel read it as UTF-8
        writer = csv.writer(out)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def _write_xlsx(path: Path, header: list[str], rows: Iterator[list[str]], title: str) -> int:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    count, sheet = 0, None
    for row in rows:
        if sheet is None or count % XLSX_SHEET_ROWS == 0:
            sheet = workbook.create_sheet(title=f"{title[:24]}-{count // XLSX_SHEET_ROWS + 1}")
            sheet.append(header)
        sheet.append(row)
        count += 1
    if sheet is None:
        workbook.create_sheet(title=title[:28] or "audience").append(header)
    workbook.save(path)
    return count


def run_export(session: Session, *, engine: AudienceEngine, home: Path, job_id: int, user_id: int, fmt: str,
               audience_id: int | None = None, snapshot_id: int | None = None,
               progress: Callable[[float, str], None] = lambda f, m: None, today: date | None = None) -> ExportResult:
    """Write the export of job ``job_id``; returns what the job reports."""
    principal = requester(session, user_id)
    progress(0.01, "members")
    if snapshot_id is not None:
        snapshot = service.get_snapshot(session=session, principal=principal, snapshot_id=snapshot_id)
        members = service.snapshot_members(snapshot)
        audience = session.get(Audience, snapshot.audience_id)
        stem = f"audience-{snapshot.audience_id}-snapshot-{snapshot.id}"
    elif audience_id is not None:
        audience = service.get_visible(session=session, principal=principal, audience_id=audience_id)
        members = engine.prepare(session, principal, audience.expression, audience_id=audience.id).members()
        stem = f"audience-{audience.id}"
    else:
        raise NotFound("未指定导出对象", "Nothing to export")
    english = principal.user.language == "en"
    header = HEADERS["en" if english else "zh-CN"]
    rows = _rows(session, principal, members, english=english, progress=progress)
    directory = Path(home) / service.EXPORTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    file = f"{stem}-job{job_id}.{fmt}"
    temp = directory / f".{file}.part"
    if fmt == "xlsx":
        count = _write_xlsx(temp, header, rows, audience.name if audience else stem)
    else:
        count = _write_csv(temp, header, rows)
    os.replace(temp, directory / file)
    day = (today or date.today()).strftime("%Y%m%d")
    return ExportResult(file=file, download_name=f"{stem}-{day}.{fmt}", rows=count, members=len(members),
                        masked=not principal.can(Permission.customers_pii))


__all__ = ["CHUNK", "ExportResult", "run_export"]
