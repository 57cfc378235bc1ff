"""HTTP route for reading the audit trail (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy import select

from omniloop.core.audit import AuditRecord
from omniloop.core.deps import SessionDep
from omniloop.core.pagination import PageDep, paginate
from omniloop.org.auth import Principal, require
from omniloop.org.models import Org, User
from omniloop.org.roles import Permission
from omniloop.org.service import subtree_condition

router = APIRouter(prefix="/api/audit", tags=["audit"])


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_id: int | None
    actor_name: str | None
    action: str
    entity_type: str
    entity_id: str | None
    before: dict | None
    after: dict | None
    request_id: str | None
    ip: str | None


class AuditPage(BaseModel):
    items: list[AuditRead]
    total: int
    page: int
    page_size: int


@router.get("", response_model=AuditPage, responses={401: {}, 403: {}})
def list_audit(
    session: SessionDep,
    page: PageDep,
    entity_type: Annotated[str | None, Query(max_length=64)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=40)] = None,
    actor: Annotated[str | None, Query(max_length=64, description="actor username")] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    principal: Principal = require(Permission.audit_read),
) -> AuditPage:
    stmt = select(AuditRecord)
    if principal.org.parent_id is not None:
        # A branch admin sees what users of their subtree did; the head office sees everything.
        actors = select(User.id).join(Org, Org.id == User.org_id).where(subtree_condition(Org.path, principal.org.path))
        stmt = stmt.where(AuditRecord.actor_id.in_(actors))
    if entity_type:
        stmt = stmt.where(AuditRecord.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditRecord.entity_id == entity_id)
    if action:
        stmt = stmt.where(AuditRecord.action == action)
    if actor:
        stmt = stmt.where(AuditRecord.actor_name == actor)
    if since:
        stmt = stmt.where(AuditRecord.at >= since)
    if until:
        stmt = stmt.where(AuditRecord.at < until)
    items, total = paginate(session, stmt.order_by(AuditRecord.id.desc()), page)
    return AuditPage(items=items, total=total, page=page.page, page_size=page.page_size)
