"""Trigger API models: definitions, firings with their causing events, the editor's test, the catalog."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from omniloop.core.ids import Id

TriggerKind = Literal["event", "first_time", "breakpoint", "sequence", "key_date", "threshold"]
TriggerStatus = Literal["draft", "active", "paused", "archived"]

_DEFINITION = Field(description=(
    "Per kind (see omniloop.triggers.definitions): event {event, event_type?, filters[]}; first_time {event, "
    "filters[], window_days?}; breakpoint / sequence {event, filters[], then_event, then_filters[], "
    "within_seconds, match_key?}; key_date {date_kind: birthday|anniversary|maturity|payroll, days_before, "
    "product_types[], payroll_day?, salary_event?}; threshold {metric: aum_fen, direction: up|down|both, "
    "value_fen}. A filter is {property, op: eq|ne|in|contains|gt|gte|lt|lte|between|exists, value, "
    "type: string|number|date|boolean}."),
    json_schema_extra={"example": {"event": "点击绑卡", "filters": [], "then_event": "绑卡完成", "then_filters": [],
                                   "within_seconds": 1800, "match_key": "flow_id"}})


class TriggerCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    kind: TriggerKind
    definition: dict[str, Any] = _DEFINITION
    status: Literal["draft", "active"] = Field(default="draft", description="active: starts deciding at once")
    owner_org_id: Id | None = Field(default=None, description="owning org (default: yours); a trigger fires only "
                                                              "for customers of its owner's subtree")


class TriggerUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    definition: dict[str, Any] | None = Field(default=None, description="a new definition (same kind)")


class TriggerRead(BaseModel):
    id: int
    name: str
    description: str | None
    kind: TriggerKind
    definition: dict[str, Any]
    status: TriggerStatus
    owner_org_id: int
    owner_org_name: str | None = None
    version: int
    active_since: datetime | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None
    editable: bool = Field(default=False, description="the caller may edit it (triggers.manage and owner in scope)")
    last_fired_at: datetime | None = None
    firings_today: int = 0
    firings_total: int = 0


class TriggerPage(BaseModel):
    items: list[TriggerRead]
    total: int
    page: int
    page_size: int


class CausingEvent(BaseModel):
    id: int
    name: str | None
    type: str | None
    ts: datetime | None
    received_at: datetime | None
    properties: dict[str, Any] | None


class FiringRead(BaseModel):
    id: int
    trigger_id: int
    customer_no: str
    customer_name: str | None
    masked: bool
    org_name: str | None
    occurrence_key: str
    accepted_at: datetime | None
    fired_at: datetime
    latency_ms: int | None
    details: dict[str, Any] | None
    events: list[CausingEvent]


class FiringPage(BaseModel):
    items: list[FiringRead]
    total: int
    page: int
    page_size: int


class TriggerTest(BaseModel):
    kind: TriggerKind
    definition: dict[str, Any] = _DEFINITION
    days: int = Field(default=7, ge=1, le=30, description="replay the last N days of events (key dates: the next N days)")
    owner_org_id: Id | None = None


class TestCustomer(BaseModel):
    customer_no: str
    customer_name: str | None
    org_name: str | None
    firings: int
    last_at: datetime | None


class TriggerTestResult(BaseModel):
    since: datetime
    until: datetime
    events_scanned: int
    truncated: bool = Field(description="the window held more events than a test replays; counts are a lower bound")
    customers: int = Field(description="customers it would have fired for (in your scope)")
    firings: int
    sample: list[TestCustomer]
    note_zh: str | None = None
    note_en: str | None = None


class Option(BaseModel):
    value: str
    label_zh: str
    label_en: str


class TriggerCatalog(BaseModel):
    kinds: list[Option]
    operators: list[Option]
    value_types: list[str]
    date_kinds: list[Option]
    product_types: list[str]
    directions: list[str]
