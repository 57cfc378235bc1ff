"""Evaluation tables (G1–G3).

- ``campaign_responses``: attributed responses — one row per (campaign, success rule, customer), for
  treatment and control alike; deterministic and re-computable from contacts, members and events.
- ``campaign_metrics``: live funnel counters per campaign, wave, channel, metric and hour, maintained
  incrementally from watermarks (``metric_watermarks``), never by a full recompute per page load.
- ``evaluation_reports``: stored evaluation results (JSON), reproducible from stored data.
- ``campaign_variants``: experiment variants (copy, channel, send time) within a campaign.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omniloop.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow

METRICS = ("assigned", "control", "allowed", "deferred", "skipped", "sent", "delivered", "failed", "responded",
           "benefit_granted", "benefit_cost_fen", "channel_cost_fen", "response_value_fen")


class CampaignResponse(Base):
    __tablename__ = "campaign_responses"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    success_rule_id: Mapped[int] = mapped_column(BigInteger)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    cell: Mapped[str] = mapped_column(String(16))  # treatment | control | test (campaign_members.cell)
    variant_id: Mapped[int | None] = mapped_column(BigInteger)
    wave_id: Mapped[int | None] = mapped_column(BigInteger)
    channel: Mapped[str | None] = mapped_column(String(16))  # last-touch channel; None for control
    outbox_id: Mapped[int | None] = mapped_column(BigInteger)
    anchor_at: Mapped[datetime] = mapped_column(UTCDateTime)  # contact (or assignment for control) time
    responded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    event_id: Mapped[str | None] = mapped_column(String(64))
    value_fen: Mapped[int | None] = mapped_column(BigInteger)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("campaign_id", "success_rule_id", "customer_id"),)


class CampaignMetric(Base):
    __tablename__ = "campaign_metrics"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    wave_id: Mapped[int] = mapped_column(BigInteger, default=0)  # 0 = not tied to a wave
    channel: Mapped[str] = mapped_column(String(16), default="")  # '' = all / none
    metric: Mapped[str] = mapped_column(String(24))  # METRICS
    hour: Mapped[datetime] = mapped_column(UTCDateTime)  # bucket start (UTC)
    value: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (UniqueConstraint("campaign_id", "wave_id", "channel", "metric", "hour"),)


class MetricWatermark(Base):
    __tablename__ = "metric_watermarks"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    source: Mapped[str] = mapped_column(String(40), unique=True)  # e.g. contact_decisions, outbox_messages
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class EvaluationReport(Base):
    __tablename__ = "evaluation_reports"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="final")  # interim | final | post_period
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    params: Mapped[dict] = mapped_column(JSONType, default=dict)
    result: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_evaluation_reports_campaign_created", "campaign_id", "created_at"),)


class CampaignVariant(Base):
    __tablename__ = "campaign_variants"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(8))  # A, B, C…
    name: Mapped[str] = mapped_column(String(100))
    share_pct: Mapped[int] = mapped_column(Integer, default=50)  # share of the experiment cell
    template_ids: Mapped[dict | None] = mapped_column(JSONType)  # channel → template id override
    channels: Mapped[list | None] = mapped_column(JSONType)  # channel order override
    send_offset_minutes: Mapped[int | None] = mapped_column(Integer)  # send-time variant
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | winner | loser | stopped
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("campaign_id", "code"),)
