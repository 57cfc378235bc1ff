"""Campaign requests and responses: information (D1), configuration (D2–D8), waves, preview and detail."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from omniloop.core.ids import Id

CampaignStatus = Literal["draft", "ready", "testing", "running", "paused", "stopped", "completed"]
Mode = Literal["batch", "realtime", "triggered"]
CampaignType = Literal["marketing", "service", "care"]
WaveKind = Literal["test", "full"]
Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]


class CampaignConfig(BaseModel):
    """The configurable elements (要素配置) as stored; every field optional in a PATCH."""

    mode: Mode = "batch"
    campaign_type: CampaignType = "marketing"
    priority: int = 5
    expected_value_fen: int | None = None
    lifecycle_stage: str | None = None
    business_line: str | None = None
    audience_id: int | None = None
    trigger_id: int | None = None
    filters: dict | None = None
    suppression_list_ids: list[int] = []
    channels: list[str] = []
    template_ids: dict[str, int] = {}
    benefit_id: int | None = None
    success_rule_id: int | None = None
    test_pct: int = 0
    control_pct: int = 0
    fallback_timeout_minutes: int = 30


class CampaignRead(CampaignConfig):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    description: str | None
    start_date: date | None
    end_date: date | None
    plan_id: int
    plan_version: int
    plan_title: str | None = None
    owner_org_id: int
    owner_org_name: str | None = None
    owner_org_name_en: str | None = None
    status: str
    assignment_salt: str | None = None
    launched_at: datetime | None = None
    ended_at: datetime | None = None
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime
    missing: list[str] = []  # configuration still needed before the campaign can be ready


class CampaignPage(BaseModel):
    items: list[CampaignRead]
    total: int
    page: int
    page_size: int


class CampaignUpdate(BaseModel):
    """Campaign information (活动信息) generated from the plan, corrected by hand."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    description: Annotated[str, StringConstraints(max_length=5000)] | None = None
    start_date: Day | None = None
    end_date: Day | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class ConfigUpdate(CampaignUpdate):
    """One wizard step or several: only the fields sent change. Checks that need the database run in the
    service and answer 422 with the field path and a code."""

    mode: Mode | None = None
    campaign_type: CampaignType | None = None
    priority: int | None = Field(None, ge=1, le=9)
    expected_value_fen: int | None = Field(None, ge=0, le=10**12)
    lifecycle_stage: ShortText | None = None
    business_line: ShortText | None = None
    audience_id: Id | None = None
    trigger_id: Id | None = None
    filters: dict[str, Any] | None = None
    suppression_list_ids: list[Id] | None = Field(None, max_length=50)
    channels: list[str] | None = Field(None, max_length=8)
    template_ids: dict[str, Id] | None = None
    benefit_id: Id | None = None
    success_rule_id: Id | None = None
    test_pct: int | None = Field(None, ge=0, le=10)
    control_pct: int | None = Field(None, ge=0, le=50)
    fallback_timeout_minutes: int | None = Field(None, ge=1, le=7 * 24 * 60)


class WaveCreate(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    kind: WaveKind = "full"
    scheduled_at: datetime | None = None  # null: as soon as the campaign is launched
    seq: int | None = Field(None, ge=1, le=1000)  # default: after the last wave


class WaveUpdate(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    kind: WaveKind | None = None
    scheduled_at: datetime | None = None
    seq: int | None = Field(None, ge=1, le=1000)


class WaveRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    campaign_id: int
    seq: int
    name: str
    kind: str
    scheduled_at: datetime | None
    status: str
    snapshot_id: int | None
    job_id: int | None
    funnel: dict | None
    cursor: int
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None


class HoldoutSettingsRead(BaseModel):
    enabled: bool
    pct: int
    updated_at: datetime | None = None


class HoldoutSettingsUpdate(BaseModel):
    enabled: bool
    pct: int = Field(ge=0, le=10)


class FunnelStep(BaseModel):
    """One step of the funnel: who is left after it, and who it removed (by reason)."""

    step: str
    label_zh: str
    label_en: str
    remaining: int
    removed: int = 0
    reasons: dict[str, int] = {}


class SampleMessage(BaseModel):
    channel: str
    customer_no: str | None = None
    subject: str | None = None
    body: str | None = None
    error: str | None = None


class PreviewRead(BaseModel):
    """A dry run (预演): nothing is written, no lock is taken, no benefit is reserved."""

    campaign_id: int
    wave_kind: WaveKind
    audience_size: int
    funnel: list[FunnelStep]
    channels: dict[str, int]
    policy_sampled: bool  # the contact policy ran on a sample and the counts below it are extrapolated
    policy_sample_size: int
    samples: list[SampleMessage]
    notes: list[str] = []


class TransitionRequest(BaseModel):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class CampaignDetail(BaseModel):
    campaign: CampaignRead
    waves: list[WaveRead]
    members: dict[str, int]  # by cell
    decisions: dict[str, int]  # by outcome
    reasons: dict[str, int]  # skipped / deferred by reason
    outbox: dict[str, int]  # by status
    outbox_by_channel: dict[str, int]
    allowed_actions: list[str]
