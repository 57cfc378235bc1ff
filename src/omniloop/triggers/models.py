"""Real-time triggers (实时触发器): definitions, firings, per-customer state, cursors and threshold marks.

A firing is unique per (trigger, customer, occurrence): the occurrence key names what happened — the
causing event's message for event triggers, ``first`` for a first-ever behaviour, the match key (e.g. the
``flow_id``) for breakpoints and sequences, the date for key dates, the crossing for thresholds. Every
writer inserts with ON CONFLICT DO NOTHING in the transaction that moves its cursor or state, so a
re-delivered event, a restarted worker or two workers racing can never fire twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omniloop.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow

KINDS = ("event", "first_time", "breakpoint", "sequence", "key_date", "threshold")
STATUSES = ("draft", "active", "paused", "archived")


class Trigger(Base):
    """A trigger definition (触发器). ``definition`` is validated by ``omniloop.triggers.definitions``;
    ``active_since`` is when it was last activated: events accepted before that never fire it."""

    __tablename__ = "triggers"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    definition: Mapped[dict] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    active_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TriggerFiring(Base):
    """One firing (触发记录) with its causing events. ``accepted_at`` is when the decision became due (the
    causing event's acceptance, or the deadline / key date); ``latency_ms`` = fired_at − accepted_at."""

    __tablename__ = "trigger_firings"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    trigger_id: Mapped[int] = mapped_column(ForeignKey("triggers.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    occurrence_key: Mapped[str] = mapped_column(String(200))
    event_ids: Mapped[list] = mapped_column(JSONType, default=list)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict | None] = mapped_column(JSONType)

    __table_args__ = (
        UniqueConstraint("trigger_id", "customer_id", "occurrence_key",
                         name="uq_trigger_firings_trigger_id_customer_id_occurrence_key"),
        Index("ix_trigger_firings_trigger_id_id", "trigger_id", "id"),
        Index("ix_trigger_firings_trigger_id_fired_at", "trigger_id", "fired_at"),
    )


class TriggerState(Base):
    """An open breakpoint or sequence (断点 / 序列) for one customer and match key: started by event A,
    waiting for B until ``deadline_at``. ``status``: open → closed (B came: breakpoint cancelled) /
    fired / expired (sequence: no B in time)."""

    __tablename__ = "trigger_states"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    trigger_id: Mapped[int] = mapped_column(ForeignKey("triggers.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    match_key: Mapped[str] = mapped_column(String(200), default="")
    occurrence_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")
    start_event_id: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_event_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("trigger_id", "customer_id", "occurrence_key",
                         name="uq_trigger_states_trigger_id_customer_id_occurrence_key"),
        Index("ix_trigger_states_lookup", "trigger_id", "customer_id", "match_key", "status"),
        Index("ix_trigger_states_status_deadline_at", "status", "deadline_at"),
    )


class TriggerCursor(Base):
    """Where a consumer of the event table (or the customer table, for thresholds) has got to."""

    __tablename__ = "trigger_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TriggerThresholdMark(Base):
    """The customers currently at or above a threshold trigger's value (the last value seen), so a scan of
    changed customers knows which side each was on before."""

    __tablename__ = "trigger_threshold_marks"

    trigger_id: Mapped[int] = mapped_column(ForeignKey("triggers.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    value_fen: Mapped[int] = mapped_column(BigInteger)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
