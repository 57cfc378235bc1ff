"""The campaign record (营销活动), its waves (波次), members (cells) and results.

Created as a draft from an approved plan version (D1), then configured (D2–D8): mode, audience, benefit,
channels in fallback order with a template per channel, success rule, test cell and control group.

- ``campaign_waves``: one row per wave; a wave freezes its audience snapshot when it starts.
- ``campaign_members``: the cell each customer was assigned on each occasion (test / main / control /
  global_holdout) or the filter that removed them — the denominator for evaluation.
- ``campaign_results``: a campaign's outcome (sent, responses, cost, revenue) — imported history for
  the demo bank's past campaigns, computed by evaluation for campaigns run here. Estimation (C2) reads it.
- ``holdout_settings``: the bank-wide global holdout (全局对照组), a single row.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omniloop.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow

MODES = ("batch", "realtime", "triggered")  # 主动批量 / 主动实时 / 被动事件触发
CAMPAIGN_TYPES = ("marketing", "service", "care")  # 营销类 / 服务类 / 关怀类 (min-interval rules per type)
STATUSES = ("draft", "ready", "testing", "running", "paused", "stopped", "completed")
WAVE_STATUSES = ("scheduled", "running", "paused", "done", "failed", "cancelled")
CELLS = ("test", "main", "control", "global_holdout", "filtered")


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # MKT-2026-00042
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    plan_version: Mapped[int] = mapped_column(Integer)
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # configuration (D2–D8)
    mode: Mapped[str] = mapped_column(String(16), default="batch")
    campaign_type: Mapped[str] = mapped_column(String(16), default="marketing")
    priority: Mapped[int] = mapped_column(Integer, default=5)  # 1–9, higher wins arbitration
    expected_value_fen: Mapped[int | None] = mapped_column(BigInteger)  # per contact; arbitration tie-break
    lifecycle_stage: Mapped[str | None] = mapped_column(String(16))
    business_line: Mapped[str | None] = mapped_column(String(32))
    audience_id: Mapped[int | None] = mapped_column(ForeignKey("audiences.id"))
    trigger_id: Mapped[int | None] = mapped_column(ForeignKey("triggers.id"))
    filters: Mapped[dict | None] = mapped_column(JSONType)  # campaign filters (an audience expression)
    suppression_list_ids: Mapped[list] = mapped_column(JSONType, default=list)
    channels: Mapped[list] = mapped_column(JSONType, default=list)  # fallback order: ["app_push", "sms", ...]
    template_ids: Mapped[dict] = mapped_column(JSONType, default=dict)  # channel → message template id
    benefit_id: Mapped[int | None] = mapped_column(ForeignKey("benefits.id"))
    success_rule_id: Mapped[int | None] = mapped_column(ForeignKey("success_rules.id"))
    test_pct: Mapped[int] = mapped_column(Integer, default=0)  # 0–10 % test cell
    control_pct: Mapped[int] = mapped_column(Integer, default=0)  # control group holdout
    assignment_salt: Mapped[str | None] = mapped_column(String(32))
    fallback_timeout_minutes: Mapped[int] = mapped_column(Integer, default=30)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    launched_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CampaignWave(Base):
    __tablename__ = "campaign_waves"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(8), default="full")  # test | full
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")  # WAVE_STATUSES
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("audience_snapshots.id"))
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    funnel: Mapped[dict | None] = mapped_column(JSONType)  # counts per step and reason
    # the last customer id (batch / real-time) or trigger firing id (triggered) whose chunk committed
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(1000))

    __table_args__ = (UniqueConstraint("campaign_id", "seq"),)


class CampaignMember(Base):
    __tablename__ = "campaign_members"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    occasion: Mapped[str] = mapped_column(String(64))
    wave_id: Mapped[int | None] = mapped_column(BigInteger)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    cell: Mapped[str] = mapped_column(String(16))
    filtered_reason: Mapped[str | None] = mapped_column(String(40))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("campaign_id", "occasion", "customer_id"),)


class CampaignResult(Base):
    __tablename__ = "campaign_results"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), unique=True)
    audience_size: Mapped[int] = mapped_column(Integer, default=0)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    responded: Mapped[int] = mapped_column(Integer, default=0)  # met the success rule
    control_size: Mapped[int] = mapped_column(Integer, default=0)
    control_responded: Mapped[int] = mapped_column(Integer, default=0)
    cost_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    revenue_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    source: Mapped[str] = mapped_column(String(16), default="evaluation")  # history | evaluation
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HoldoutSettings(Base):
    __tablename__ = "holdout_settings"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    pct: Mapped[int] = mapped_column(Integer, default=0)  # 0–10 % of all customers, excluded from everything
    salt: Mapped[str] = mapped_column(String(32))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
