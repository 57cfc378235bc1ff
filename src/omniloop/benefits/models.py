"""The benefit catalog (权益目录) and grants (权益发放).

``inventory_left`` and ``budget_used_fen`` change only through ``benefits.service`` with a conditional
UPDATE, so concurrent grants never drive inventory below zero or spend beyond the budget.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omniloop.core.db import Base, BigIntPK, UTCDateTime, utcnow

KINDS = ("coupon", "points", "cashback", "gift")
GRANT_STATUSES = ("reserved", "granted", "released")


class Benefit(Base):
    __tablename__ = "benefits"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), index=True)
    face_value_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # coupon / cash-back amount; gift value
    points: Mapped[int] = mapped_column(Integer, default=0)  # for kind points
    unit_cost_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # what one grant costs the bank
    inventory_total: Mapped[int] = mapped_column(Integer)
    inventory_left: Mapped[int] = mapped_column(Integer)
    budget_fen: Mapped[int | None] = mapped_column(BigInteger)  # null = no budget limit beyond inventory
    budget_used_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | inactive
    description: Mapped[str | None] = mapped_column(String(1000))
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class BenefitGrant(Base):
    """One benefit for one customer on one campaign occasion: reserved at enqueue, granted on delivery,
    released (inventory and budget returned) when the contact finally fails or is cancelled."""

    __tablename__ = "benefit_grants"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    benefit_id: Mapped[int] = mapped_column(ForeignKey("benefits.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    occasion: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="reserved")
    cost_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    granted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    release_reason: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("benefit_id", "campaign_id", "occasion", "customer_id"),)
