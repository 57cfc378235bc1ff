"""Countersign (会签) tables: workflow templates, approval instances, steps, assignees, timeline, delegations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omniloop.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class WorkflowTemplate(Base):
    """An admin-defined route: ordered ``steps``, each ``{name, mode, required, approvers: [rule, ...]}``.

    An instance copies the steps when it starts, so editing a template never changes a running countersign.
    """

    __tablename__ = "workflow_templates"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(String(1000))
    steps: Mapped[list] = mapped_column(JSONType)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ApprovalInstance(Base):
    """One submission of one plan version for countersign."""

    __tablename__ = "approval_instances"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    plan_version: Mapped[int] = mapped_column(Integer)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_templates.id"))
    template_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), index=True)  # in_progress / approved / rejected / withdrawn
    current_position: Mapped[int] = mapped_column(Integer, default=1)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApprovalStep(Base):
    """A step of an instance. ``version`` guards every transition (conditional UPDATE): one decision wins."""

    __tablename__ = "approval_steps"
    __table_args__ = (UniqueConstraint("instance_id", "position", name="uq_approval_steps_instance_position"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("approval_instances.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    mode: Mapped[str] = mapped_column(String(10))  # single / all / any / n_of_m
    required: Mapped[int] = mapped_column(Integer, default=1)  # approvals needed (n of n_of_m)
    rules: Mapped[list] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(20), index=True)  # waiting / pending / approved / rejected / cancelled
    approvals: Mapped[int] = mapped_column(Integer, default=0)
    rejections: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApprovalAssignee(Base):
    """Who was eligible to decide a step, resolved when the step opened (later org changes rewrite nothing)."""

    __tablename__ = "approval_assignees"
    __table_args__ = (UniqueConstraint("step_id", "user_id", name="uq_approval_assignees_step_user"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("approval_steps.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    role: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str | None] = mapped_column(String(10))  # approve / reject
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # a delegate, or the user
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApprovalEvent(Base):
    """The timeline (审批轨迹): submit, approve, reject, comment, withdraw, step opened, finished."""

    __tablename__ = "approval_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("approval_instances.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("approval_steps.id"))
    action: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    attachment_ids: Mapped[list] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Delegation(Base):
    """While on leave (休假委托), ``delegator`` lets ``delegate`` decide in their stead between two instants."""

    __tablename__ = "approval_delegations"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    delegator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    delegate_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
