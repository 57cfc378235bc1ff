"""Campaign needs and plans (营销活动需求 / 活动方案), their versions and attached documents."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omniloop.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class Plan(Base):
    """A campaign need and, once written, its plan. One row; its content history is in ``plan_versions``.

    Status: draft → in_review → approved, or → rejected / withdrawn → (edited: a new version) → in_review.
    """

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    objective: Mapped[str | None] = mapped_column(Text)  # 活动目标
    lifecycle_stage: Mapped[str | None] = mapped_column(String(20), index=True)  # novice / growth / ...
    business_line: Mapped[str | None] = mapped_column(String(30), index=True)
    audience_description: Mapped[str | None] = mapped_column(Text)
    audience_id: Mapped[int | None] = mapped_column(ForeignKey("audiences.id", ondelete="SET NULL"), index=True)
    audience_tags: Mapped[list] = mapped_column(JSONType, default=list)  # tag codes describing the audience
    channels: Mapped[list] = mapped_column(JSONType, default=list)  # channel codes: sms, app_push, ...
    benefit_type: Mapped[str | None] = mapped_column(String(30))  # points / cash_coupon / rate_coupon / ...
    benefits: Mapped[str | None] = mapped_column(Text)
    mode: Mapped[str | None] = mapped_column(String(20))  # batch / realtime / event
    budget_fen: Mapped[int | None] = mapped_column(BigInteger)
    expected_output: Mapped[str | None] = mapped_column(Text)
    expected_reach: Mapped[int | None] = mapped_column(BigInteger)  # customers to contact
    expected_conversion_rate: Mapped[float | None] = mapped_column()  # 0..1, the author's estimate
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)  # the current (latest) version
    approved_version: Mapped[int | None] = mapped_column(Integer)
    source_type: Mapped[str | None] = mapped_column(String(40))  # raised from: insight_alert, ...
    source_ref: Mapped[str | None] = mapped_column(String(200))
    search_tokens: Mapped[str | None] = mapped_column(Text)  # jieba tokens of fields + documents, space-joined
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PlanVersion(Base):
    """The plan's fields as they were at one version. Frozen once submitted: later edits make a new one."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "version", name="uq_plan_versions_plan_version"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict] = mapped_column(JSONType)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PlanDocument(Base):
    """An uploaded file: the original under ``home/documents/<sha256>``, its text here."""

    __tablename__ = "plan_documents"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    plan_version: Mapped[int] = mapped_column(Integer)
    approval_step_id: Mapped[int | None] = mapped_column(BigInteger, index=True)  # an attachment to a decision
    filename: Mapped[str] = mapped_column(String(255))
    file_type: Mapped[str] = mapped_column(String(10))  # docx / pdf / xlsx / txt / md
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text)
    extracted: Mapped[dict] = mapped_column(JSONType, default=dict)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
