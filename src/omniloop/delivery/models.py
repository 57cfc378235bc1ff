"""Delivery tables (F1, I2).

- ``channels``: one row per outbox channel code (``contacts.models.CHANNELS``): which adapter kind sends
  it, the provider settings (plain JSON) and secrets (Fernet-encrypted JSON, never returned by the API),
  daily capacity, unit cost in fen, receipt timeout, the quiet-hours rule it follows, health.
- ``channel_usage_days``: per channel and local (Asia/Shanghai) day, how many sends were admitted
  (capacity), sent, delivered and failed — the capacity check and the console's usage charts read it.
- ``inbox_messages``: the in-app message centre (站内信) the bank app polls, one row per delivered
  ``in_app`` outbox row.
- ``rm_tasks``: tasks for relationship managers (客户经理任务) created by the ``rm_task`` channel.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omniloop.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow

ADAPTER_KINDS = ("sink", "aliyun_sms", "jpush", "in_app", "wechat_mp", "wecom", "aliyun_voice", "smtp", "rm_task",
                 "webhook")


class Channel(Base):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)  # an outbox channel code: sms, app_push, …
    name_zh: Mapped[str] = mapped_column(String(50))
    name_en: Mapped[str] = mapped_column(String(50))
    adapter: Mapped[str] = mapped_column(String(24), default="sink")  # ADAPTER_KINDS
    settings: Mapped[dict] = mapped_column(JSONType, default=dict)  # endpoint, sign name, sender, …
    secrets_encrypted: Mapped[str | None] = mapped_column(Text)  # Fernet token of a JSON object
    daily_capacity: Mapped[int | None] = mapped_column(Integer)  # None = unlimited
    unit_cost_fen: Mapped[int] = mapped_column(Integer, default=0)
    receipt_timeout_minutes: Mapped[int] = mapped_column(Integer, default=30)
    max_retries: Mapped[int] = mapped_column(Integer, default=3)
    quiet_rule_id: Mapped[int | None] = mapped_column(ForeignKey("contact_rules.id", ondelete="SET NULL"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(String(500))
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ChannelUsageDay(Base):
    __tablename__ = "channel_usage_days"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)  # local day in the display time zone
    admitted: Mapped[int] = mapped_column(BigInteger, default=0)  # counted against daily_capacity
    sent: Mapped[int] = mapped_column(BigInteger, default=0)
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)
    failed: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_fen: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (UniqueConstraint("channel", "day"),)


class InboxMessage(Base):
    __tablename__ = "inbox_messages"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    outbox_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RmTask(Base):
    __tablename__ = "rm_tasks"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    rm_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    outbox_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done | cancelled
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(String(32))  # reached | not_reached | declined | converted
    note: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
