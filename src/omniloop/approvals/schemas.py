"""Countersign requests and responses (会签)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from omniloop.core.ids import Id
from omniloop.org.roles import Role
from omniloop.plans.schemas import DocumentRead, PlanStatus

StepMode = Literal["single", "all", "any", "n_of_m"]
OrgRelation = Literal["plan_org", "plan_branch", "head_office", "org"]
InstanceStatus = Literal["in_progress", "approved", "rejected", "withdrawn"]
StepStatus = Literal["waiting", "pending", "approved", "rejected", "cancelled"]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class ApproverRule(BaseModel):
    """Who may decide: users of ``role`` at an org found from the plan (e.g. the plan's branch)."""

    role: Role
    org: OrgRelation = Field(description="plan_org: the plan's owner org; plan_branch: its branch (the head "
                                         "office for a head-office plan); head_office; org: the org in org_id")
    org_id: Id | None = None
    include_subtree: bool = Field(default=False, description="also users of the org's sub-orgs")

    @model_validator(mode="after")
    def _org_id_when_needed(self) -> Self:
        if self.org == "org" and self.org_id is None:
            raise ValueError("org_id is required when org is 'org'")
        return self


class TemplateStep(BaseModel):
    """One step: a single approver or a parallel group deciding all / any / N of M (会签 / 或签)."""

    name: Name
    mode: StepMode = "single"
    required: Annotated[int, Field(ge=1, le=50)] | None = Field(default=None, description="N of n_of_m")
    approvers: list[ApproverRule] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _required_for_n_of_m(self) -> Self:
        if self.mode == "n_of_m" and self.required is None:
            raise ValueError("required (N) is needed for mode n_of_m")
        return self


class TemplateCreate(BaseModel):
    name: Name
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    steps: list[TemplateStep] = Field(min_length=1, max_length=10)
    is_default: bool = False


class TemplateUpdate(BaseModel):
    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    steps: list[TemplateStep] | None = Field(default=None, min_length=1, max_length=10)
    is_default: bool | None = None
    active: bool | None = None


class TemplateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    steps: list[TemplateStep]
    is_default: bool
    active: bool
    created_at: datetime
    updated_at: datetime


class SubmitRequest(BaseModel):
    template_id: Id | None = Field(default=None, description="the default template if not given")
    comment: Comment | None = None


class WithdrawRequest(BaseModel):
    comment: Comment | None = None


class DecisionRequest(BaseModel):
    action: Literal["approve", "reject"]
    comment: Comment | None = None
    on_behalf_of_id: Id | None = Field(default=None, description="decide as this user's delegate")
    attachment_ids: list[Id] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _reason_for_reject(self) -> Self:
        if self.action == "reject" and not self.comment:
            raise ValueError("a comment (the reason) is required to reject")
        return self


class CommentRequest(BaseModel):
    comment: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    step_id: Id | None = None
    attachment_ids: list[Id] = Field(default_factory=list, max_length=10)


class UserRef(BaseModel):
    id: int
    username: str
    display_name: str


class AssigneeRead(BaseModel):
    user: UserRef
    org_id: int
    org_name: str | None
    org_name_en: str | None
    role: str
    decision: Literal["approve", "reject"] | None
    decided_by: UserRef | None
    decided_at: datetime | None


class StepRead(BaseModel):
    id: int
    position: int
    name: str
    mode: StepMode
    required: int
    status: StepStatus
    approvals: int
    rejections: int
    version: int
    opened_at: datetime | None
    closed_at: datetime | None
    assignees: list[AssigneeRead]


class ApprovalEventRead(BaseModel):
    id: int
    instance_id: int
    step_id: int | None
    action: str
    actor: UserRef | None
    on_behalf_of: UserRef | None
    comment: str | None
    attachments: list[DocumentRead]
    created_at: datetime


class InstanceRead(BaseModel):
    id: int
    plan_id: int
    plan_version: int
    template_id: int | None
    template_name: str
    status: InstanceStatus
    current_position: int
    submitted_by: UserRef | None
    submitted_at: datetime
    finished_at: datetime | None
    steps: list[StepRead]
    events: list[ApprovalEventRead]


class PlanApprovals(BaseModel):
    """The full countersign history of a plan (审批轨迹), newest submission first."""

    plan_id: int
    plan_status: PlanStatus
    instances: list[InstanceRead]


class InboxItem(BaseModel):
    step_id: int
    step_name: str
    step_mode: StepMode
    step_version: int
    position: int
    steps_total: int
    instance_id: int
    plan_id: int
    plan_title: str
    plan_version: int
    plan_owner_org_name: str | None
    plan_owner_org_name_en: str | None
    budget_fen: int | None
    submitted_by: UserRef | None
    submitted_at: datetime
    opened_at: datetime | None
    on_behalf_of: UserRef | None


class InboxPage(BaseModel):
    items: list[InboxItem]
    total: int
    page: int
    page_size: int


class DelegationCreate(BaseModel):
    delegate_id: Id
    starts_at: datetime
    ends_at: datetime
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("starts_at and ends_at need a time zone")
        if not (2000 <= self.starts_at.year <= 2099 and 2000 <= self.ends_at.year <= 2099):
            raise ValueError("dates must lie between 2000 and 2099")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if (self.ends_at - self.starts_at).days > 366:
            raise ValueError("a delegation lasts at most one year")
        return self


class DelegationRead(BaseModel):
    id: int
    delegator: UserRef
    delegate: UserRef
    starts_at: datetime
    ends_at: datetime
    reason: str | None
    revoked_at: datetime | None
    active: bool
    created_at: datetime
