"""Tag definitions (标签定义), tag runs (标签跑批) and each run's result per tag.

Tag *values* are not here: a run publishes them as a tag set (Parquet + bitmap index, ``tags.tagset``),
and the changes a run made to customers' values go to ``store/tag_history/`` (``tags.runner``). The
database keeps what an operator manages and reads in lists: definitions, runs, coverage and
distributions.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from omniloop.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class TagDefinition(Base):
    """A tag: what it means (category, labels), where its values come from (source + definition) and
    which values it takes. ``definition_version`` increases with every change of what it computes."""

    __tablename__ = "tag_definitions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(1000))
    category: Mapped[str] = mapped_column(String(20), index=True)  # basic/value/behaviour/lifecycle/model_score/event
    source: Mapped[str] = mapped_column(String(20))  # rule / list / model_score / event
    value_type: Mapped[str] = mapped_column(String(20))  # enum / boolean / numeric (buckets)
    definition: Mapped[dict] = mapped_column(JSONType)
    values: Mapped[list] = mapped_column(JSONType, default=list)  # [{value, label_zh, label_en}]
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)  # active / archived
    system: Mapped[bool] = mapped_column(Boolean, default=False)
    schedule: Mapped[str | None] = mapped_column(String(100))  # cron (Asia/Shanghai) for a run of this tag
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    definition_version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TagRun(Base):
    """One batch run (跑批): refresh features, compute tags, publish a tag set.

    ``status``: queued → running → succeeded / partial (some tags failed and kept their previous values)
    / failed (nothing published; the previous tag set stays current).
    """

    __tablename__ = "tag_runs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    trigger: Mapped[str] = mapped_column(String(16), default="manual")  # manual / schedule
    tag_ids: Mapped[list | None] = mapped_column(JSONType)  # requested tags; None = all active tags
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), unique=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    as_of: Mapped[date | None] = mapped_column(Date)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    rows: Mapped[int | None] = mapped_column(Integer)  # customers in the tag set
    tags_computed: Mapped[int | None] = mapped_column(Integer)
    tags_failed: Mapped[int | None] = mapped_column(Integer)
    changed: Mapped[int | None] = mapped_column(Integer)  # customer-tag values that changed
    feature_version: Mapped[int | None] = mapped_column(Integer)
    tagset_version: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class TagRunResult(Base):
    """What one run did for one tag: ``succeeded``, ``failed`` (previous values kept) or ``carried``
    (not requested in this run; previous values carried over)."""

    __tablename__ = "tag_run_results"
    __table_args__ = (Index("ix_tag_run_results_tag_id_id", "tag_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("tag_runs.id", ondelete="CASCADE"), index=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tag_definitions.id"))
    tag_code: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    coverage: Mapped[int | None] = mapped_column(Integer)  # customers with the tag (true / any value)
    distribution: Mapped[dict | None] = mapped_column(JSONType)  # value → customers ("true"/"false" for booleans)
    changed: Mapped[int | None] = mapped_column(Integer)
    definition_version: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
