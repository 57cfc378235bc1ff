"""Suppression lists and the global do-not-disturb list (屏蔽名单 / 全局免打扰): CRUD, entries, CSV upload.

Lists belong to the org that created them and are visible to users whose subtree contains that org and to
the offices above it (a head-office DND list applies bank-wide and every branch sees it). Entries are added
by customer number, resolved only among the customers the caller may read, so a branch cannot put (or
see) another branch's customers on a list. Membership queries for the policy are in ``suppression``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session

from omniloop.campaigns.models import Campaign
from omniloop.contacts.models import SuppressionEntry, SuppressionList
from omniloop.contacts.schemas import EntriesReport, EntryRead, SuppressionListCreate, SuppressionListUpdate
from omniloop.core import audit
from omniloop.core.errors import NotFound, ValidationFailed
from omniloop.customers import lists as customer_lists
from omniloop.customers.models import Customer
from omniloop.org.auth import Principal
from omniloop.org.masking import mask_name
from omniloop.org.models import Org
from omniloop.org.roles import Permission
from omniloop.org.service import subtree_condition

NUMBER_HEADERS = ("customer_no", "客户号", "客户编号", "cust_no")
MAX_UNKNOWN = 50


def readable_lists(principal: Principal) -> Select:
    path = principal.org.path
    return (select(SuppressionList).join(Org, Org.id == SuppressionList.owner_org_id)
            .where(or_(subtree_condition(Org.path, path), func.substr(path, 1, func.length(Org.path)) == Org.path)))


def get_list(session: Session, principal: Principal, list_id: int) -> SuppressionList:
    row = session.scalar(readable_lists(principal).where(SuppressionList.id == list_id))
    if row is None:
        raise NotFound("名单不存在", "Suppression list not found", code="suppression_list_not_found")
    return row


def create_list(session: Session, *, principal: Principal, data: SuppressionListCreate) -> SuppressionList:
    if data.kind == "dnd" and (data.channel or data.campaign_id):
        raise ValidationFailed("全局免打扰名单不能限定渠道或活动", "A do-not-disturb list applies to every channel "
                               "and campaign", code="dnd_list_scoped", details=[{"field": "kind"}])
    if data.campaign_id is not None and session.get(Campaign, data.campaign_id) is None:
        raise ValidationFailed("活动不存在", "Campaign not found", code="unknown_campaign",
                               details=[{"field": "campaign_id"}])
    row = SuppressionList(**data.model_dump(), owner_org_id=principal.org.id, created_by_id=principal.user.id,
                          entry_count=0)
    session.add(row)
    session.flush()
    audit.record(session, actor=principal.actor, action="create", entity_type="suppression_list", entity_id=row.id,
                 after=audit.snapshot(row))
    return row


def update_list(session: Session, *, principal: Principal, row: SuppressionList,
                data: SuppressionListUpdate) -> SuppressionList:
    before = audit.snapshot(row)
    for key, value in data.model_dump(exclude_unset=True).items():
        if key == "name" and value is None:
            continue
        setattr(row, key, value)
    session.flush()
    audit.record(session, actor=principal.actor, action="update", entity_type="suppression_list", entity_id=row.id,
                 before=before, after=audit.snapshot(row))
    return row


def delete_list(session: Session, *, principal: Principal, row: SuppressionList) -> None:
    audit.record(session, actor=principal.actor, action="delete", entity_type="suppression_list", entity_id=row.id,
                 before=audit.snapshot(row))
    session.execute(delete(SuppressionEntry).where(SuppressionEntry.list_id == row.id))
    session.delete(row)
    session.flush()


def _recount(session: Session, row: SuppressionList) -> None:
    row.entry_count = session.scalar(select(func.count()).select_from(SuppressionEntry)
                                     .where(SuppressionEntry.list_id == row.id)) or 0


def add_entries(session: Session, *, principal: Principal, row: SuppressionList, numbers: Iterable[str],
                reason: str | None, expires_at: datetime | None, source: str = "console") -> EntriesReport:
    wanted = [n.strip() for n in numbers if n and n.strip()]
    found = customer_lists.resolve_numbers(session, principal, wanted)
    unknown = sorted(set(wanted) - set(found))
    existing = set(session.scalars(select(SuppressionEntry.customer_id).where(
        SuppressionEntry.list_id == row.id, SuppressionEntry.customer_id.in_(list(found.values())))))
    new = [cid for cid in dict.fromkeys(found.values()) if cid not in existing]
    session.add_all([SuppressionEntry(list_id=row.id, customer_id=cid, reason=reason, source=source,
                                      expires_at=expires_at, added_by_id=principal.user.id) for cid in new])
    session.flush()
    _recount(session, row)
    audit.record(session, actor=principal.actor, action="add_entries", entity_type="suppression_list",
                 entity_id=row.id, after={"added": len(new), "source": source, "reason": reason})
    return EntriesReport(added=len(new), already=len(existing), unknown=unknown[:MAX_UNKNOWN],
                         unknown_count=len(unknown), rows=len(wanted))


def remove_entries(session: Session, *, principal: Principal, row: SuppressionList,
                   numbers: Iterable[str]) -> EntriesReport:
    found = customer_lists.resolve_numbers(session, principal, [n.strip() for n in numbers])
    removed = session.execute(delete(SuppressionEntry).where(
        SuppressionEntry.list_id == row.id, SuppressionEntry.customer_id.in_(list(found.values())))).rowcount
    _recount(session, row)
    audit.record(session, actor=principal.actor, action="remove_entries", entity_type="suppression_list",
                 entity_id=row.id, before={"removed": removed})
    return EntriesReport(removed=removed)


def upload_entries(session: Session, *, principal: Principal, row: SuppressionList, path: Path, file_name: str,
                   reason: str | None) -> EntriesReport:
    """Entries from an uploaded CSV / XLSX / Parquet: the customer-number column (客户号 / customer_no,
    else the first column), read with the customer-list upload's reader."""
    columns, chunks = customer_lists.read_upload(path, file_name)
    column = customer_lists.pick_column(columns, NUMBER_HEADERS)
    if column is None:
        raise customer_lists.ListFileEmpty(details={"file_name": file_name})
    numbers: list[str] = []
    for table in chunks:
        numbers.extend(n for n in table[column].to_pylist() if n)
    if not numbers:
        raise customer_lists.ListFileEmpty(details={"file_name": file_name})
    report = add_entries(session, principal=principal, row=row, numbers=numbers, reason=reason, expires_at=None,
                         source="upload")
    report.file_name = file_name
    return report


def entries_statement(principal: Principal, row: SuppressionList, q: str | None = None) -> Select:
    from omniloop.customers.service import readable_customers

    scoped = readable_customers(principal).with_only_columns(Customer.id).subquery()
    stmt = (select(SuppressionEntry, Customer.customer_no, Customer.name)
            .join(Customer, Customer.id == SuppressionEntry.customer_id)
            .where(SuppressionEntry.list_id == row.id, SuppressionEntry.customer_id.in_(select(scoped.c.id))))
    if q:
        stmt = stmt.where(Customer.customer_no.like(f"{q}%"))
    return stmt.order_by(SuppressionEntry.id.desc())


def entry_reads(principal: Principal, rows) -> list[EntryRead]:
    unmask = principal.can(Permission.customers_pii)
    return [EntryRead(id=e.id, customer_no=no, customer_name=name if unmask else mask_name(name), reason=e.reason,
                      source=e.source, expires_at=e.expires_at, added_at=e.added_at) for e, no, name in rows]
