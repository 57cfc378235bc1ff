"""Suppression lists (屏蔽名单) and the global do-not-disturb list (全局免打扰): membership queries.

CRUD and uploads are in ``contacts.lists``; this module answers "who of these customers is on which list"
in set-based queries (one query a chunk of customers), for the policy and for campaign filters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from omniloop.contacts.models import SuppressionEntry, SuppressionList


def _active(now: datetime):
    return or_(SuppressionEntry.expires_at.is_(None), SuppressionEntry.expires_at > now)


def suppressed(session: Session, *, customer_ids: Sequence[int], list_ids: Sequence[int],
               now: datetime | None = None) -> set[int]:
    """The customers among ``customer_ids`` that are on any of ``list_ids`` (unexpired entries).

    For a campaign's own suppression lists (``campaigns.suppression_list_ids``). Global DND, channel and
    campaign-bound lists are applied by the contact policy in ``contacts.service.evaluate`` anyway."""
    if not customer_ids or not list_ids:
        return set()
    now = now or datetime.now(UTC)
    found: set[int] = set()
    ids = list(customer_ids)
    for start in range(0, len(ids), 10_000):
        part = ids[start:start + 10_000]
        found.update(session.scalars(
            select(SuppressionEntry.customer_id).where(
                SuppressionEntry.list_id.in_(list(list_ids)), SuppressionEntry.customer_id.in_(part), _active(now))
        ))
    return found


def memberships(session: Session, *, customer_ids: Sequence[int], campaign_ids: Sequence[int],
                now: datetime) -> list[tuple[int, str, str | None, int | None]]:
    """(customer_id, kind, channel, campaign_id) of every list the customers are on that applies to any of
    ``campaign_ids``: global / channel lists (no campaign) and those campaigns' own lists."""
    if not customer_ids:
        return []
    scope = SuppressionList.campaign_id.is_(None)
    if campaign_ids:
        scope = or_(scope, SuppressionList.campaign_id.in_(list(campaign_ids)))
    stmt = (select(SuppressionEntry.customer_id, SuppressionList.kind, SuppressionList.channel,
                   SuppressionList.campaign_id)
            .join(SuppressionList, SuppressionList.id == SuppressionEntry.list_id)
            .where(and_(SuppressionEntry.customer_id.in_(list(customer_ids)), _active(now), scope)))
    return [tuple(r) for r in session.execute(stmt)]
