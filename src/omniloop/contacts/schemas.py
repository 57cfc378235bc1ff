"""Request and response shapes of the contact-control API."""

from __future__ import annotations

from datetime import datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from omniloop.core.ids import MAX_ID
from omniloop.core.pagination import Page

Channel = Literal["app_push", "sms", "in_app", "wechat", "wecom", "outbound_call", "email", "rm_task", "webhook", "sink"]
CampaignType = Literal["marketing", "service", "care"]
RuleKind = Literal["cap", "min_interval", "quiet_hours"]


class ContactRuleCreate(BaseModel):
    kind: RuleKind
    name: str = Field(min_length=1, max_length=100)
    channel: Channel | None = Field(None, description="null = across all channels")
    campaign_type: CampaignType | None = Field(None, description="null = every campaign type")
    window_hours: int | None = Field(None, ge=1, le=24 * 366, description="cap: rolling window (24 / 168 / 720)")
    max_contacts: int | None = Field(None, ge=0, le=1000, description="cap: contacts allowed in the window")
    min_interval_hours: int | None = Field(None, ge=1, le=24 * 366)
    quiet_start: time | None = Field(None, description="quiet_hours: local start (e.g. 21:00)")
    quiet_end: time | None = Field(None, description="quiet_hours: local end (e.g. 08:00; before start = next day)")
    timezone: str = Field("Asia/Shanghai", max_length=40)
    enabled: bool = True
    description: str | None = Field(None, max_length=500)


class ContactRuleUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=100)
    channel: Channel | None = None
    campaign_type: CampaignType | None = None
    window_hours: int | None = Field(None, ge=1, le=24 * 366)
    max_contacts: int | None = Field(None, ge=0, le=1000)
    min_interval_hours: int | None = Field(None, ge=1, le=24 * 366)
    quiet_start: time | None = None
    quiet_end: time | None = None
    timezone: str | None = Field(None, max_length=40)
    enabled: bool | None = None
    description: str | None = Field(None, max_length=500)


class ContactRuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    name: str
    channel: str | None
    campaign_type: str | None
    window_hours: int | None
    max_contacts: int | None
    min_interval_hours: int | None
    quiet_start: time | None
    quiet_end: time | None
    timezone: str
    enabled: bool
    description: str | None
    summary_zh: str = ""
    summary_en: str = ""
    updated_at: datetime


class ContactRuleList(BaseModel):
    items: list[ContactRuleRead]
    rolling_note_zh: str = "频次上限按滚动窗口计算（任意连续24小时/7天/30天），不是自然日/周/月"
    rolling_note_en: str = "Caps use rolling windows (any 24 h / 7 days / 30 days), not calendar days, weeks or months"


class SuppressionListCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["suppression", "dnd"] = "suppression"
    channel: Channel | None = Field(None, description="null = every channel")
    campaign_id: int | None = Field(None, ge=1, le=MAX_ID, description="only for this campaign")
    description: str | None = Field(None, max_length=500)


class SuppressionListUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=500)


class SuppressionListRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    channel: str | None
    campaign_id: int | None
    description: str | None
    entry_count: int
    owner_org_id: int
    created_at: datetime
    updated_at: datetime


SuppressionListPage = Page[SuppressionListRead]


class EntriesAdd(BaseModel):
    customer_nos: list[str] = Field(min_length=1, max_length=1000)
    reason: str | None = Field(None, max_length=200)
    expires_at: datetime | None = None


class EntriesRemove(BaseModel):
    customer_nos: list[str] = Field(min_length=1, max_length=1000)


class EntryRead(BaseModel):
    id: int
    customer_no: str
    customer_name: str
    reason: str | None
    source: str
    expires_at: datetime | None
    added_at: datetime


EntryPage = Page[EntryRead]


class EntriesReport(BaseModel):
    added: int = 0
    already: int = 0
    removed: int = 0
    unknown: list[str] = []
    unknown_count: int = 0
    rows: int = 0
    file_name: str | None = None


class ConsentCreate(BaseModel):
    channel: Channel | Literal["all"]
    status: Literal["granted", "withdrawn"]
    source: Literal["app", "web", "branch", "sms_reply", "console", "import", "api"] = "console"
    note: str | None = Field(None, max_length=500)


class ConsentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel: str
    status: str
    source: str
    recorded_at: datetime
    recorded_by_id: int | None
    note: str | None


class ConsentState(BaseModel):
    channel: str
    status: str | None  # latest row; null = no row (default applies)
    effective: bool  # the channel may be used
    default: str  # allowed | blocked without a row
    source: str | None = None
    recorded_at: datetime | None = None


class ConsentOverview(BaseModel):
    current: list[ConsentState]
    history: list[ConsentRead]
    dnd: bool
    lists: list[str]  # names of the lists the customer is on


class ContactItem(BaseModel):
    kind: Literal["decision", "message"]
    id: int
    campaign_id: int
    campaign_name: str | None
    occasion: str
    channel: str | None
    outcome: str | None = None  # decisions
    reason: str | None = None
    reason_zh: str | None = None
    reason_en: str | None = None
    detail: dict | None = None
    defer_until: datetime | None = None
    status: str | None = None  # messages
    not_before: datetime | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None
    at: datetime


ContactItemPage = Page[ContactItem]


class DecideRequest(BaseModel):
    customer_nos: list[str] = Field(min_length=1, max_length=100)
    channels: list[Channel] = Field(min_length=1, max_length=6)
    campaign_id: int | None = Field(None, ge=1, le=MAX_ID, description="an existing campaign (its type, priority, value)")
    campaign_type: CampaignType = "marketing"
    priority: int = Field(5, ge=1, le=9)
    expected_value_fen: int = Field(0, ge=0, le=10**12)
    at: datetime | None = Field(None, description="send time (default now)")


class DecideResult(BaseModel):
    customer_no: str
    outcome: str
    channel: str | None
    reason: str | None
    reason_zh: str | None
    reason_en: str | None
    defer_until: datetime | None
    detail: dict | None


class DecideResponse(BaseModel):
    results: list[DecideResult]
    unknown: list[str]


class ReceiptCreate(BaseModel):
    status: Literal["delivered", "failed"]
    error: str | None = Field(None, max_length=500)
    provider_message_id: str | None = Field(None, max_length=100)


class OutboxRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    campaign_id: int
    customer_id: int
    channel: str
    status: str
    attempts: int
    last_error: str | None
    not_before: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


class ReasonLabel(BaseModel):
    code: str
    label_zh: str
    label_en: str


class ConsentDefault(BaseModel):
    channel: str
    default: str
    withdrawal_blocks: bool


class PolicyMeta(BaseModel):
    reasons: list[ReasonLabel]
    consent_defaults: list[ConsentDefault]
    adapters: dict[str, str]
