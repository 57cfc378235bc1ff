"""Success rule (成功标准) requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from omniloop.core.ids import Id

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
EventName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
PropertyName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]


class FilterItem(BaseModel):
    property: Annotated[str, StringConstraints(max_length=100)]
    op: str = Field(description="eq | neq | gt | gte | lt | lte | in | contains")
    value: Any = None
    type: str | None = Field(None, description="string | number | date | boolean (default: from the value)")


class SuccessRuleCreate(BaseModel):
    name: Name
    event_name: EventName = Field(description="e.g. 购买理财, 绑卡完成, 登录")
    property_filter: list[FilterItem] = Field(default=[], max_length=20)
    window_days: int = Field(7, ge=1, le=365, description="days after the contact in which a response counts")
    value_property: PropertyName | None = Field(None, description="e.g. amount_fen: the response's value")
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    owner_org_id: Id | None = None


class SuccessRuleUpdate(BaseModel):
    name: Name | None = None
    event_name: EventName | None = None
    property_filter: list[FilterItem] | None = Field(None, max_length=20)
    window_days: int | None = Field(None, ge=1, le=365)
    value_property: PropertyName | None = None
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class SuccessRuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    event_name: str
    property_filter: list[dict]
    window_days: int
    value_property: str | None
    description: str | None
    owner_org_id: int
    owner_org_name: str | None = None
    owner_org_name_en: str | None = None
    created_at: datetime
    updated_at: datetime
    editable: bool = False


class SuccessRulePage(BaseModel):
    items: list[SuccessRuleRead]
    total: int
    page: int
    page_size: int


class RuleTest(BaseModel):
    customer_no: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    days: int = Field(30, ge=1, le=365, description="look back this many days")


class TestedEvent(BaseModel):
    id: int
    name: str | None
    ts: datetime
    properties: dict | None
    matched: bool
    value: Any = None


class RuleTestResult(BaseModel):
    customer_no: str
    events: list[TestedEvent] = Field(description="the customer's events of the rule's event name, newest first")
    matched_count: int
    first_match_at: datetime | None
