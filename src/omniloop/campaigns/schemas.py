"""Campaign requests and responses."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

CampaignStatus = Literal["draft"]
Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))]


class CampaignRead(BaseModel):
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
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime


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
