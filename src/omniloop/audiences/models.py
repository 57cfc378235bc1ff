"""Saved audiences (人群) and their frozen snapshots (人群快照)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from omniloop.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class Audience(Base):
    """A named audience expression (``audiences.expression``), owned by an org and visible in its subtree."""

    __tablename__ = "audiences"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(1000))
    expression: Mapped[dict] = mapped_column(JSONType)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    last_total: Mapped[int | None] = mapped_column(BigInteger)  # size at the last save or estimate
    last_estimated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AudienceSnapshot(Base):
    """An immutable member set of an audience at one moment (for a campaign wave): never updated."""

    __tablename__ = "audience_snapshots"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id"), index=True)
    expression: Mapped[dict] = mapped_column(JSONType)  # the expression as it was, saved audiences inlined
    members: Mapped[bytes] = mapped_column(LargeBinary)  # pyroaring BitMap.serialize() of cids
    size: Mapped[int] = mapped_column(Integer)
    tagset_version: Mapped[int | None] = mapped_column(Integer)
    feature_version: Mapped[int | None] = mapped_column(Integer)
    scope_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))  # the creator's org: the scope applied
    purpose: Mapped[str | None] = mapped_column(String(200))  # e.g. "campaign 12 wave 2"
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
