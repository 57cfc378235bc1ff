"""Uploaded customer lists (上传名单): stored as roaring bitmaps of cids, read by tags and audiences.

``create_list`` stores a list from known cids (the upload endpoint resolves customer numbers first and
reports the unknown ones); ``list_members`` returns a list's cids for the audience compiler and for
list-sourced tags. A list's members are immutable. ``upload_list`` reads an uploaded file of customer
numbers, resolves them among the customers the uploader may read and reports the rest.

Archiving (归档) hides a list from the pickers while whatever uses it keeps working; deleting is refused
with ``list_in_use`` while a saved audience, a list-sourced tag or a campaign (its audience, filters or
suppression lists) uses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import pyarrow as pa
from pydantic import BaseModel
from pyroaring import BitMap
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from omniloop.core import audit
from omniloop.core.audit import Actor
from omniloop.core.db import utcnow
from omniloop.core.errors import Conflict, NotFound, ValidationFailed
from omniloop.customers.models import Customer, CustomerList
from omniloop.org.auth import Principal
from omniloop.org.models import Org
from omniloop.org.service import subtree_condition

ID_CHUNK = 5_000


def create_list(session: Session, *, actor: Actor, name: str, org_id: int, cids: Iterable[int],
                unknown_count: int = 0, description: str | None = None,
                source_filename: str | None = None, created_by_id: int | None = None) -> CustomerList:
    """Store a list of cids (the caller has checked they are customers the actor may see)."""
    members = BitMap(cids)
    row = CustomerList(name=name, description=description, org_id=org_id, created_by_id=created_by_id,
                       source_filename=source_filename, size=len(members), unknown_count=unknown_count,
                       members=members.serialize())
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="customer_list.create", entity_type="customer_list", entity_id=row.id,
                 after={"name": name, "org_id": org_id, "size": row.size, "unknown_count": unknown_count})
    return row


def get_list(session: Session, list_id: int) -> CustomerList:
    row = session.get(CustomerList, list_id)
    if row is None:
        raise NotFound("名单不存在", "Customer list not found", code="customer_list_not_found")
    return row


def list_members(session: Session, list_id: int) -> BitMap:
    """The cids on list ``list_id`` (NotFound if there is no such list)."""
    return BitMap.deserialize(get_list(session, list_id).members)


def existing_list_ids(session: Session, ids: Iterable[int]) -> set[int]:
    wanted = set(ids)
    if not wanted:
        return set()
    return set(session.scalars(select(CustomerList.id).where(CustomerList.id.in_(wanted))))


# ---- uploads: CSV / Excel / Parquet of customer numbers ------------------------------------------------

NUMBER_HEADERS = ("customer_no", "客户号", "客户编号", "cust_no", "customer_number")
MAX_UNKNOWN_LISTED = 100


class ListUploadReport(BaseModel):
    """What an upload found (名单匹配报告): numbers matched, repeated, and not known in the uploader's scope."""

    file_name: str
    column: str  # the column read as customer numbers
    rows: int = 0  # rows with a customer number
    blank: int = 0  # rows without one
    matched: int = 0  # distinct customers found
    duplicates: int = 0  # rows repeating a number already seen
    unknown_count: int = 0  # distinct numbers not found among the customers the uploader may read
    unknown: list[str] = []  # the first MAX_UNKNOWN_LISTED of them
    unknown_truncated: bool = False


class ListFileEmpty(ValidationFailed):
    code = "list_file_empty"
    message_zh, message_en = "文件中没有客户号", "The file has no customer numbers"


class ListNoMatches(ValidationFailed):
    code = "list_no_matches"
    message_zh = "文件中的客户号均不在您的管辖范围内或不存在，未创建名单"
    message_en = "None of the customer numbers is a customer in your scope; no list was created"


def pick_column(columns: list[str], wanted: Sequence[str], *, default: int | None = 0) -> str | None:
    """The column whose header is one of ``wanted`` (case-insensitive), else the ``default``-th column."""
    folded = {c.strip().lower(): c for c in columns}
    for name in wanted:
        if name.lower() in folded:
            return folded[name.lower()]
    if default is not None and len(columns) > default:
        return columns[default]
    return None


def read_upload(path: Path, file_name: str) -> tuple[list[str], Iterator[pa.Table]]:
    """The header and the rows (as trimmed text, empty cells null) of an uploaded CSV / XLSX / Parquet file."""
    from omniloop.customers import loader

    source = loader._open(path, loader.detect_format(file_name), loader.CHUNK_ROWS)

    def chunks() -> Iterator[pa.Table]:
        try:
            for table, _rows in source.chunks:
                yield pa.table({name: loader._as_text(table[name]) for name in table.column_names})
        except (OSError, pa.ArrowException, ValueError, KeyError, UnicodeDecodeError) as exc:
            raise loader.ImportFileUnreadable(details={"reason": str(exc)[:300]}) from exc

    return source.columns, chunks()


def resolve_numbers(session: Session, principal: Principal, numbers: Iterable[str]) -> dict[str, int]:
    """Customer number → cid for the numbers that name customers ``principal`` may read."""
    from omniloop.customers.service import readable_customers

    wanted = list(dict.fromkeys(numbers))
    found: dict[str, int] = {}
    base = readable_customers(principal).with_only_columns(Customer.customer_no, Customer.id)
    for start in range(0, len(wanted), ID_CHUNK):
        chunk = wanted[start:start + ID_CHUNK]
        found.update((number, cid) for number, cid in session.execute(base.where(Customer.customer_no.in_(chunk))))
    return found


def upload_list(session: Session, *, principal: Principal, path: Path, file_name: str, name: str,
                description: str | None = None) -> tuple[CustomerList, ListUploadReport]:
    """Store the customers named in an uploaded file as a list owned by the uploader's org."""
    columns, chunks = read_upload(path, file_name)
    column = pick_column(columns, NUMBER_HEADERS)
    if column is None:
        raise ListFileEmpty(details={"file_name": file_name})
    report = ListUploadReport(file_name=file_name, column=column)
    seen: set[str] = set()
    for table in chunks:
        for number in table[column].to_pylist():
            if number is None:
                report.blank += 1
                continue
            report.rows += 1
            if number in seen:
                report.duplicates += 1
            seen.add(number)
    if not seen:
        raise ListFileEmpty(details=report.model_dump())
    found = resolve_numbers(session, principal, seen)
    unknown = sorted(seen - set(found))
    report.matched = len(found)
    report.unknown_count = len(unknown)
    report.unknown = unknown[:MAX_UNKNOWN_LISTED]
    report.unknown_truncated = len(unknown) > MAX_UNKNOWN_LISTED
    if not found:
        raise ListNoMatches(details=report.model_dump())
    row = create_list(session, actor=principal.actor, name=name, org_id=principal.org.id, cids=found.values(),
                      unknown_count=len(unknown), description=description, source_filename=file_name[:255],
                      created_by_id=principal.user.id)
    return row, report


def readable_lists(principal: Principal, *, archived: bool | None = None) -> Select:
    """Lists owned by an org in the caller's subtree (``archived``: only archived / only live; None: all)."""
    stmt = (select(CustomerList).join(Org, Org.id == CustomerList.org_id)
            .where(subtree_condition(Org.path, principal.org.path)))
    if archived is not None:
        stmt = stmt.where(CustomerList.archived_at.is_not(None) if archived else CustomerList.archived_at.is_(None))
    return stmt


def get_readable_list(session: Session, principal: Principal, list_id: int) -> CustomerList:
    row = session.scalar(readable_lists(principal).where(CustomerList.id == list_id))
    if row is None:
        raise NotFound("名单不存在", "Customer list not found", code="customer_list_not_found")
    return row


# ---- archive and delete --------------------------------------------------------------------------------


class ListUse(BaseModel):
    kind: str  # audience / tag / campaign
    id: int
    name: str
    code: str | None = None  # tag or campaign code
    status: str | None = None  # a campaign's status; "archived" for an archived audience or tag


class ListInUse(Conflict):
    code = "list_in_use"

    def __init__(self, uses: list[ListUse]) -> None:
        names = "、".join(f"{u.name}" for u in uses[:3]) + ("等" if len(uses) > 3 else "")
        super().__init__(f"名单正在被使用（{names}），不能删除；可以归档", "The list is in use by "
                         f"{len(uses)} audience(s), tag(s) or campaign(s) and cannot be deleted; archive it instead",
                         details={"uses": [u.model_dump() for u in uses]})


def list_uses(session: Session, list_ids: Iterable[int]) -> dict[int, list[ListUse]]:
    """What uses each of ``list_ids``: saved audiences (archived ones too), list-sourced tags, campaigns."""
    from omniloop.audiences import service as audience_service  # both import this module: import late
    from omniloop.tags import service as tag_service

    wanted = set(list_ids)
    usage = audience_service.ExpressionUsage.load(session)
    tags = tag_service.tags_using_lists(session, wanted)
    result: dict[int, list[ListUse]] = {}
    for list_id in wanted:
        audiences, campaigns = usage.list_users(list_id)
        result[list_id] = (
            [ListUse(kind="audience", id=a.id, name=a.name, status="archived" if a.archived else None)
             for a in audiences]
            + [ListUse(kind="tag", id=t.id, name=t.name_zh, code=t.code, status=t.status) for t in tags.get(list_id, [])]
            + [ListUse(kind="campaign", id=c.id, name=c.name, code=c.code, status=c.status) for c in campaigns])
    return result


def _snapshot(row: CustomerList) -> dict:
    return {k: v for k, v in audit.snapshot(row).items() if k != "members"}


def set_archived(session: Session, *, principal: Principal, row: CustomerList, archived: bool,
                 now: datetime | None = None) -> CustomerList:
    """Archive (归档) or restore a list; doing what is already done changes nothing and audits nothing."""
    if (row.archived_at is not None) == archived:
        return row
    before = _snapshot(row)
    row.archived_at = (now or utcnow()) if archived else None
    session.flush()
    audit.record(session, actor=principal.actor, action="customer_list.archive" if archived else "customer_list.restore",
                 entity_type="customer_list", entity_id=row.id, before=before, after=_snapshot(row))
    return row


def delete_list(session: Session, *, principal: Principal, row: CustomerList) -> None:
    """Delete a list nothing uses (409 ``list_in_use`` otherwise, with what uses it)."""
    uses = list_uses(session, [row.id])[row.id]
    if uses:
        raise ListInUse(uses)
    before = _snapshot(row)
    session.delete(row)
    session.flush()
    audit.record(session, actor=principal.actor, action="customer_list.delete", entity_type="customer_list",
                 entity_id=before["id"], before=before)
