"""The bank-wide global holdout (全局对照组): a fixed share of customers excluded from every campaign.

One row; its salt is made once and never changes, so the same customers stay held out whatever the
share (raising the share only adds customers). Measured uplift of all marketing compares against them.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.campaigns import assignment
from omniloop.campaigns.models import HoldoutSettings
from omniloop.campaigns.schemas import HoldoutSettingsUpdate
from omniloop.core import audit
from omniloop.core.audit import Actor
from omniloop.core.db import utcnow


def current(session: Session) -> HoldoutSettings | None:
    return session.scalar(select(HoldoutSettings).order_by(HoldoutSettings.id).limit(1))


def active(session: Session) -> tuple[str | None, int]:
    """(salt, pct) to pass to ``assignment.cell``; (None, 0) when the holdout is off."""
    settings = current(session)
    if settings is None or not settings.enabled or settings.pct <= 0:
        return None, 0
    return settings.salt, settings.pct


def update(session: Session, *, actor: Actor, data: HoldoutSettingsUpdate) -> HoldoutSettings:
    settings = current(session)
    before = audit.snapshot(settings) if settings else None
    if settings is None:
        settings = HoldoutSettings(salt=assignment.new_salt(), enabled=False, pct=0)
        session.add(settings)
    settings.enabled, settings.pct = data.enabled, data.pct
    settings.updated_by_id = actor.user_id
    settings.updated_at = utcnow()
    session.flush()
    after = {k: v for k, v in audit.snapshot(settings).items() if k != "salt"}
    audit.record(session, actor=actor, action="holdout.update", entity_type="holdout_settings",
                 entity_id=settings.id, before={k: v for k, v in (before or {}).items() if k != "salt"} or None,
                 after=after)
    return settings
