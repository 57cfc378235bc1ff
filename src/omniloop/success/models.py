"""Success rules (成功标准, D7)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from omniloop.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class SuccessRule(Base):
    """A response is an ``event_name`` event whose properties match ``property_filter``
    ([{"property", "op", "value"}]) within ``window_days`` after the contact (or after the wave for the
    control group)."""

    __tablename__ = "success_rules"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    event_name: Mapped[str] = mapped_column(String(100))
    property_filter: Mapped[list] = mapped_column(JSONType, default=list)
    window_days: Mapped[int] = mapped_column(Integer, default=7)
    value_property: Mapped[str | None] = mapped_column(String(100))  # e.g. amount: the response's value
    description: Mapped[str | None] = mapped_column(String(500))
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
