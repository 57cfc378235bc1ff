"""Notifications (站内通知): others call ``notify``; the console reads, counts and marks them read.

E-mail goes through the channel layer once it exists; until then the notification centre is the channel.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from omniloop.core.db import utcnow
from omniloop.core.errors import NotFound
from omniloop.notifications.models import Notification


def notify(
    session: Session,
    *,
    user_ids: Iterable[int],
    kind: str,
    title_zh: str,
    title_en: str,
    link: str | None = None,
    body_zh: str | None = None,
    body_en: str | None = None,
) -> list[Notification]:
    """Add one notification per distinct user to the session (it commits with the change it reports)."""
    rows = [
        Notification(user_id=user_id, kind=kind, title_zh=title_zh[:300], title_en=title_en[:300], link=link,
                     body_zh=body_zh[:2000] if body_zh else None, body_en=body_en[:2000] if body_en else None)
        for user_id in dict.fromkeys(user_ids)
    ]
    session.add_all(rows)
    return rows


def list_statement(*, user_id: int, unread_only: bool = False) -> Select:
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return stmt.order_by(Notification.created_at.desc(), Notification.id.desc())


def unread_count(session: Session, *, user_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    ) or 0


def mark_read(session: Session, *, user_id: int, notification_id: int) -> Notification:
    note = session.get(Notification, notification_id)
    if note is None or note.user_id != user_id:  # someone else's notification is reported as missing
        raise NotFound("通知不存在", "Notification not found", details={"notification_id": notification_id})
    if note.read_at is None:
        note.read_at = utcnow()
    return note


def mark_all_read(session: Session, *, user_id: int) -> int:
    result = session.execute(
        update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return result.rowcount or 0
