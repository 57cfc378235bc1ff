"""Contact control tables (E1, E2, outbox).

- ``contact_rules``: the editable contact policy — rolling caps, minimum intervals, quiet hours.
- ``suppression_lists`` / ``suppression_entries``: per channel, per campaign or global (do-not-disturb).
- ``customer_consents``: append-only consent / opt-out history per customer and channel (PIPL); the
  latest row per (customer, channel) is the current state.
- ``contact_decisions``: every decision the policy engine made, allowed or not, with its reason.
- ``outbox_messages``: the transactional outbox — one row per allowed contact, written in the same
  transaction as its decision, unique per (campaign, occasion, customer, channel) so a re-run writes
  nothing twice. Delivery adapters (the delivery issue) consume it; the built-in ``sink`` adapter marks
  rows delivered so the loop runs end to end.

An *occasion* names why a customer is contacted: ``wave:<wave id>`` for batch and real-time waves,
``firing:<trigger firing id>`` for event-triggered campaigns.
"""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Time, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from omniloop.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow

# Outbox channels (delivery.models.Channel has one row per code). in_app = the app's message centre (站内信),
# outbound_call = the call robot (外呼机器人); in-app placements are pulled by the app (placements), not sent.
CHANNELS = ("app_push", "sms", "in_app", "wechat", "wecom", "outbound_call", "email", "rm_task", "webhook", "sink")
RULE_KINDS = ("cap", "min_interval", "quiet_hours")
OUTCOMES = ("allowed", "deferred", "skipped")
OUTBOX_STATUSES = ("pending", "sending", "sent", "delivered", "failed", "cancelled")


class ContactRule(Base):
    """One contact-policy rule. ``channel`` null = across all channels; ``campaign_type`` null = any type.

    - cap: at most ``max_contacts`` within the rolling ``window_hours`` (24 = day, 168 = week, 720 = month).
    - min_interval: at least ``min_interval_hours`` between two contacts on the channel (per campaign type).
    - quiet_hours: no contact between ``quiet_start`` and ``quiet_end`` (local time in ``timezone``); a
      contact proposed inside is deferred to the next allowed time, never dropped.
    """

    __tablename__ = "contact_rules"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(16))
    campaign_type: Mapped[str | None] = mapped_column(String(16))
    window_hours: Mapped[int | None] = mapped_column(Integer)
    max_contacts: Mapped[int | None] = mapped_column(Integer)
    min_interval_hours: Mapped[int | None] = mapped_column(Integer)
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Shanghai")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(String(500))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SuppressionList(Base):
    """A suppression list (免打扰/屏蔽名单). kind ``dnd`` with no channel and no campaign is the global
    do-not-disturb list; ``channel`` limits it to one channel; ``campaign_id`` to one campaign."""

    __tablename__ = "suppression_lists"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="suppression")  # suppression | dnd
    channel: Mapped[str | None] = mapped_column(String(16))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    description: Mapped[str | None] = mapped_column(String(500))
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SuppressionEntry(Base):
    __tablename__ = "suppression_entries"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("suppression_lists.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16), default="console")  # console | upload | api
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("list_id", "customer_id"),)


class CustomerConsent(Base):
    """Append-only consent history: granted / withdrawn per channel, with source and time (PIPL).
    No row for a channel means the channel's default (documented in ``contacts.consent``)."""

    __tablename__ = "customer_consents"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # granted | withdrawn
    source: Mapped[str] = mapped_column(String(32))  # app | web | branch | sms_reply | console | import
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (Index("ix_customer_consents_customer_channel", "customer_id", "channel", "recorded_at"),)


class ContactDecision(Base):
    """One policy decision for one proposed contact (allowed / deferred / skipped with a reason code)."""

    __tablename__ = "contact_decisions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    wave_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    occasion: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str | None] = mapped_column(String(16))  # null when skipped before a channel was chosen
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(40))  # machine code, e.g. cap_week_all, no_consent
    detail: Mapped[dict | None] = mapped_column(JSONType)  # the explanation: rule, counts, competing campaign
    defer_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # One decision per (campaign, occasion, customer, channel); a proposal skipped before any channel has a
    # null channel, which a plain unique constraint would not deduplicate, hence the expression index.
    __table_args__ = (Index("uq_contact_decisions_key", "campaign_id", "occasion", "customer_id",
                            text("coalesce(channel, '')"), unique=True),)


class OutboxMessage(Base):
    """A contact to deliver. ``not_before`` defers it (quiet hours); ``fallback`` holds the remaining
    channels in order ([{"channel", "template_version_id"}]) to try on a failure receipt or timeout.
    ``payload`` is the rendered content, filled when the adapter renders it at dispatch."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    wave_id: Mapped[int | None] = mapped_column(BigInteger)
    occasion: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    decision_id: Mapped[int | None] = mapped_column(BigInteger)
    template_version_id: Mapped[int | None] = mapped_column(BigInteger)
    benefit_grant_id: Mapped[int | None] = mapped_column(BigInteger)
    fallback: Mapped[list | None] = mapped_column(JSONType)
    payload: Mapped[dict | None] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    provider_message_id: Mapped[str | None] = mapped_column(String(100))
    cost_fen: Mapped[int | None] = mapped_column(Integer)  # the channel's unit cost when it was sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("campaign_id", "occasion", "customer_id", "channel"),
        Index("ix_outbox_messages_status_not_before", "status", "not_before"),
        Index("ix_outbox_messages_customer_created", "customer_id", "created_at"),
    )
