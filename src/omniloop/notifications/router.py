"""HTTP routes of the notification centre: every signed-in user reads only their own notifications."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from omniloop.core.deps import SessionDep
from omniloop.core.ids import IdPath
from omniloop.core.pagination import PageDep, paginate
from omniloop.notifications import service
from omniloop.notifications.schemas import MarkedRead, NotificationPage, NotificationRead, UnreadCount
from omniloop.org.auth import CurrentPrincipal

router = APIRouter(prefix="/api/notifications", tags=["notifications"])
ERR = {401: {"description": "Not signed in"}}


@router.get("", response_model=NotificationPage, responses=ERR)
def list_notifications(
    session: SessionDep, page: PageDep, principal: CurrentPrincipal,
    unread_only: Annotated[bool, Query(description="only unread notifications")] = False,
) -> NotificationPage:
    items, total = paginate(session, service.list_statement(user_id=principal.user.id, unread_only=unread_only),
                            page)
    return NotificationPage(items=items, total=total, page=page.page, page_size=page.page_size,
                            unread=service.unread_count(session, user_id=principal.user.id))


@router.get("/unread-count", response_model=UnreadCount, responses=ERR)
def unread_count(session: SessionDep, principal: CurrentPrincipal) -> UnreadCount:
    return UnreadCount(unread=service.unread_count(session, user_id=principal.user.id))


@router.post("/{notification_id}/read", response_model=NotificationRead,
             responses={**ERR, 404: {"description": "Not found"}})
def mark_read(notification_id: IdPath, session: SessionDep, principal: CurrentPrincipal):
    note = service.mark_read(session, user_id=principal.user.id, notification_id=notification_id)
    session.commit()
    return note


@router.post("/read-all", response_model=MarkedRead, responses=ERR)
def mark_all_read(session: SessionDep, principal: CurrentPrincipal) -> MarkedRead:
    marked = service.mark_all_read(session, user_id=principal.user.id)
    session.commit()
    return MarkedRead(marked=marked)
