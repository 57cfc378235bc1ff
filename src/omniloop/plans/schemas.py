"""Plan requests and responses (活动方案)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from omniloop.core.ids import Id

PlanStatus = Literal["draft", "in_review", "rejected", "withdrawn", "approved"]
LifecycleStage = Literal["novice", "growth", "mature", "churn_risk", "dormant"]
BusinessLine = Literal["retail", "credit_card", "wealth", "private_banking", "corporate", "small_business"]
ChannelCode = Literal["sms", "app_push", "in_app", "placement", "wechat", "outbound_call", "rm_task", "email",
                      "webhook"]
BenefitType = Literal["none", "points", "cash_coupon", "rate_coupon", "gift", "fee_waiver"]
CampaignMode = Literal["batch", "realtime", "event"]

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=5000)]
TagCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Fen = Annotated[int, Field(ge=0, le=10**15, description="amount in fen (分)")]
Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))]


class _PlanFields(BaseModel):
    objective: LongText | None = None
    lifecycle_stage: LifecycleStage | None = None
    business_line: BusinessLine | None = None
    audience_description: LongText | None = None
    audience_id: Id | None = None
    audience_tags: list[TagCode] | None = Field(default=None, max_length=50)
    channels: list[ChannelCode] | None = Field(default=None, max_length=10)
    benefit_type: BenefitType | None = None
    benefits: LongText | None = None
    mode: CampaignMode | None = None
    budget_fen: Fen | None = None
    expected_output: LongText | None = None
    expected_reach: Annotated[int, Field(ge=0, le=10**10)] | None = None
    expected_conversion_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    start_date: Day | None = None
    end_date: Day | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class PlanCreate(_PlanFields):
    title: Title
    owner_org_id: Id | None = Field(default=None, description="defaults to the caller's org")


class PlanUpdate(_PlanFields):
    """Only the fields sent are changed. After a submission every edit makes a new version."""

    title: Title | None = None
    owner_org_id: Id | None = None
    note: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None, description="what changed (版本说明)")


class PlanFromAlert(BaseModel):
    """Raise a need from an insight alert (由洞察预警发起需求)."""

    source_type: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40,
                                                  pattern=r"^[a-z][a-z0-9_.]*$")]
    source_ref: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    title: Title
    summary: LongText | None = None
    lifecycle_stage: LifecycleStage | None = None
    owner_org_id: Id | None = None


class PlanRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    objective: str | None
    lifecycle_stage: str | None
    business_line: str | None
    audience_description: str | None
    audience_id: int | None
    audience_tags: list[str]
    channels: list[str]
    benefit_type: str | None
    benefits: str | None
    mode: str | None
    budget_fen: int | None
    expected_output: str | None
    expected_reach: int | None
    expected_conversion_rate: float | None
    start_date: date | None
    end_date: date | None
    owner_org_id: int
    owner_org_name: str | None = None
    owner_org_name_en: str | None = None
    owner_id: int | None
    owner_name: str | None = None
    status: PlanStatus
    version: int
    approved_version: int | None
    source_type: str | None
    source_ref: str | None
    submitted_at: datetime | None
    approved_at: datetime | None
    created_at: datetime
    updated_at: datetime
    campaign_id: int | None = None
    campaign_code: str | None = None


class PlanPage(BaseModel):
    items: list[PlanRead]
    total: int
    page: int
    page_size: int


class PlanVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    data: dict[str, Any]
    frozen: bool
    note: str | None
    created_by_id: int | None
    created_by_name: str | None = None
    created_at: datetime
    updated_at: datetime


class FieldChange(BaseModel):
    field: str
    label_zh: str
    label_en: str
    before: Any
    after: Any
    changed: bool


class VersionComparison(BaseModel):
    plan_id: int
    from_version: int
    to_version: int
    fields: list[FieldChange]
    changed: int


class FieldSuggestion(BaseModel):
    field: str
    value: Any
    evidence: str
    current: Any = None
    differs: bool = True


class DocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    plan_id: int
    plan_version: int
    approval_step_id: int | None
    filename: str
    file_type: str
    size_bytes: int
    sha256: str
    text_chars: int = 0
    text_preview: str = ""
    uploaded_by_id: int | None
    created_at: datetime


class DocumentText(BaseModel):
    id: int
    plan_id: int
    filename: str
    file_type: str
    text: str
    suggestions: list[FieldSuggestion]


class DocumentUpload(BaseModel):
    document: DocumentRead
    suggestions: list[FieldSuggestion]


class SearchHit(BaseModel):
    plan: PlanRead
    score: float
    terms: list[str]
    highlights: list[str]


class SearchPage(BaseModel):
    items: list[SearchHit]
    total: int
    page: int
    page_size: int
    terms: list[str]
