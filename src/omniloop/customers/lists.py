"""Uploaded customer lists (上传名单): stored as roaring bitmaps of cids, read by tags and audiences.

``create_list`` stores a list from known cids (the upload endpoint resolves customer numbers first and
reports the unknown ones); ``list_members`` returns a list's cids for the audience compiler and for
list-sourced tags. Lists are immutable.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyroaring import BitMap
from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.core import audit
from omniloop.core.audit import Actor
from omniloop.core.errors import NotFound
from omniloop.customers.models import CustomerList


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
