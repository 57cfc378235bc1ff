"""Benefit catalog (权益目录) requests and responses. Money in fen, times aware (UTC on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from omniloop.core.ids import Id

BenefitKind = Literal["coupon", "points", "cashback", "gift"]
BenefitStatus = Literal["active", "inactive"]
GrantStatus = Literal["reserved", "granted", "released"]
Fen = Annotated[int, Field(ge=0, le=10**15)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,31}$")]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
Inventory = Annotated[int, Field(ge=0, le=1_000_000_000)]


class _Validity(BaseModel):
    @model_validator(mode="after")
    def _window(self) -> Self:
        start, end = getattr(self, "valid_from", None), getattr(self, "valid_to", None)
        if start is not None and end is not None and end <= start:
            raise ValueError("valid_to must be after valid_from")
        return self


class BenefitCreate(_Validity):
    code: Code = Field(description="unique code, e.g. WM-50-2026 (codes starting HIST- are the demo's history)")
    name: Name
    kind: BenefitKind
    face_value_fen: Fen = 0
    points: Annotated[int, Field(ge=0, le=10**9)] = 0
    unit_cost_fen: Fen = Field(0, description="what one grant costs the bank; counted against the budget")
    inventory_total: Inventory
    budget_fen: Fen | None = Field(None, description="null: no budget limit beyond inventory")
    valid_from: AwareDatetime | None = None
    valid_to: AwareDatetime | None = None
    status: BenefitStatus = "active"
    description: Description | None = None
    owner_org_id: Id | None = Field(None, description="default: the caller's org; must be in the caller's subtree")


class BenefitUpdate(_Validity):
    name: Name | None = None
    kind: BenefitKind | None = None
    face_value_fen: Fen | None = None
    points: Annotated[int, Field(ge=0, le=10**9)] | None = None
    unit_cost_fen: Fen | None = None
    budget_fen: Fen | None = None
    clear_budget: bool | None = Field(None, description="true: remove the budget limit")
    valid_from: AwareDatetime | None = None
    valid_to: AwareDatetime | None = None
    status: BenefitStatus | None = None
    description: Description | None = None


class InventoryAdjust(BaseModel):
    delta: Annotated[int, Field(ge=-1_000_000_000, le=1_000_000_000)] = Field(
        description="units to add (negative: remove; never more than are left)")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class BenefitRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: BenefitKind
    face_value_fen: int
    points: int
    unit_cost_fen: int
    inventory_total: int
    inventory_left: int
    budget_fen: int | None
    budget_used_fen: int
    valid_from: datetime | None
    valid_to: datetime | None
    status: BenefitStatus
    description: str | None
    owner_org_id: int
    owner_org_name: str | None = None
    owner_org_name_en: str | None = None
    version: int
    created_at: datetime
    updated_at: datetime
    granted_count: int = Field(0, description="grants delivered (granted)")
    reserved_count: int = Field(0, description="grants reserved, not yet delivered")
    available: bool = Field(True, description="active and within its validity now")
    editable: bool = False


class BenefitPage(BaseModel):
    items: list[BenefitRead]
    total: int
    page: int
    page_size: int


class GrantRead(BaseModel):
    id: int
    benefit_id: int
    benefit_code: str
    benefit_name: str
    campaign_id: int
    campaign_code: str | None
    campaign_name: str | None
    occasion: str
    customer_no: str
    customer_name: str
    status: GrantStatus
    cost_fen: int
    reserved_at: datetime
    granted_at: datetime | None
    released_at: datetime | None
    release_reason: str | None


class GrantPage(BaseModel):
    items: list[GrantRead]
    total: int
    page: int
    page_size: int
