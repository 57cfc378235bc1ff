"""Placement tables: ``placement_slots`` (a place in the bank app), ``placement_creatives`` (what may be
shown there, to whom, when, how often) and ``placement_impressions`` (what was shown, for caps and
reporting; written in batches off the request path)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from omniloop.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow

SLOT_KINDS = ("banner", "popup", "ad")


class PlacementSlot(Base):
    __tablename__ = "placement_slots"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)  # e.g. home_banner
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="banner")
    description: Mapped[str | None] = mapped_column(String(500))
    fallback_creative_id: Mapped[int | None] = mapped_column(BigInteger)  # shown when nothing targets
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PlacementCreative(Base):
    __tablename__ = "placement_creatives"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("placement_slots.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(String(1000))
    image_url: Mapped[str | None] = mapped_column(String(500))
    link_url: Mapped[str | None] = mapped_column(String(500))
    priority: Mapped[int] = mapped_column(Integer, default=5)
    targeting: Mapped[dict | None] = mapped_column(JSONType)  # audience id / expression; None = everyone
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    daily_cap_per_customer: Mapped[int | None] = mapped_column(Integer)
    total_cap_per_customer: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PlacementImpression(Base):
    __tablename__ = "placement_impressions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    slot_id: Mapped[int] = mapped_column(BigInteger)
    creative_id: Mapped[int] = mapped_column(BigInteger)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger)
    shown_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_placement_impressions_customer_shown", "customer_id", "shown_at"),)
