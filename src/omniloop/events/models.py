"""Behaviour events (行为事件): sources and their write keys, the event store, identities and merges.

``events`` is append-only. On PostgreSQL it is ``PARTITION BY RANGE (day)`` (one partition a UTC day plus a
default partition, see ``omniloop.events.store``); on SQLite it is a plain table. Ids come from one
sequence and grow with arrival, so cross-process consumers tail the table by ``id``.

Dedupe by ``messageId`` uses its own table (``event_message_ids``): a unique key on a partitioned table
must contain the partition key, and a retried message may be corrected to another day.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from omniloop.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow

SOURCE_KINDS = ("app", "web", "partner", "server")
EVENT_TYPES = ("identify", "track", "page", "screen", "group", "alias")


class EventSource(Base):
    """An event source (事件源): the bank's app, web site, a partner platform or a server.

    Only a SHA-256 of the write key is stored, with its first characters for recognition; the full key
    is shown once, at creation and at rotation. A ``partner`` source may only name customers in the
    subtree of ``org_id``.
    """

    __tablename__ = "event_sources"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(String(500))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rotated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Event(Base):
    """One behaviour event as received, with the clock-skew-corrected time ``ts`` (UTC).

    ``name`` is the track event, page or screen name (the group id for ``group``); identify and group
    keep their traits in ``properties``; alias keeps ``{"previousId": ...}`` there.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # UTC day of ts: the partition key
    source_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200))
    anonymous_id: Mapped[str | None] = mapped_column(String(100))
    user_id: Mapped[str | None] = mapped_column(String(100))
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    original_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    properties: Mapped[dict | None] = mapped_column(JSONType)
    context: Mapped[dict | None] = mapped_column(JSONType)

    __table_args__ = (
        Index("ix_events_customer_id_ts", "customer_id", "ts"),
        Index("ix_events_name_ts", "name", "ts"),
        Index("ix_events_anonymous_id", "anonymous_id"),
        Index("ix_events_user_id", "user_id"),
    )


class EventMessageId(Base):
    """Message ids seen per source (dedupe: a retried message is accepted and not stored twice)."""

    __tablename__ = "event_message_ids"

    source_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)  # of the event, for retention


class Identity(Base):
    """An identifier seen in events — an anonymous id, or a user id that is not a customer number — and
    the customer it belongs to (None while unknown). ``user_id`` is the user id an anonymous id was
    identified as, kept even when that user id is not (yet) a known customer."""

    __tablename__ = "event_identities"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    value: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # anonymous / external
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    user_id: Mapped[str | None] = mapped_column(String(100), index=True)
    source_id: Mapped[int | None] = mapped_column(BigInteger)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdentityMerge(Base):
    """Merge history (身份合并记录): which identifier was linked to which customer, when, by which message."""

    __tablename__ = "event_identity_merges"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    identity: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # anonymous / external
    via: Mapped[str] = mapped_column(String(16))  # identify / alias
    previous_customer_id: Mapped[int | None] = mapped_column(BigInteger)
    source_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str] = mapped_column(String(100))
    events_attached: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EventDirtyDay(Base):
    """Days whose stored events changed after they were written (identity stitching set their customer):
    the Parquet export rewrites them at its next run."""

    __tablename__ = "event_dirty_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
