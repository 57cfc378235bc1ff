"""Customer responses. Masking of personal data happens here, once, by the caller's role."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict

from omniloop.org.masking import mask_id_number, mask_name, mask_phone

Segment = Literal["retail", "private", "corporate", "small_business"]
RiskLevel = Literal["R1", "R2", "R3", "R4", "R5"]


class _Masked(BaseModel):
    """Build with ``of(obj, unmask=...)``: personal data is masked unless the caller's role may see it.

    Not a validator: FastAPI re-validates returned models without context, which would mask twice.
    """

    model_config = ConfigDict(from_attributes=True)

    masked: bool = True

    @classmethod
    def of(cls, obj: object, *, unmask: bool) -> Self:
        model = cls.model_validate(obj)
        model.masked = not unmask
        if not unmask:
            for field, fn in (("name", mask_name), ("phone", mask_phone), ("id_number", mask_id_number)):
                if field in cls.model_fields:
                    setattr(model, field, fn(getattr(model, field)))
        return model


class CustomerListItem(_Masked):
    id: int
    customer_no: str
    name: str
    gender: str | None
    phone: str | None
    org_id: int
    org_name: str | None = None
    org_name_en: str | None = None
    rm_id: int | None
    rm_name: str | None = None
    segment: Segment
    risk_level: RiskLevel | None
    aum_fen: int
    lifecycle_stage: str | None


class CustomerPage(BaseModel):
    items: list[CustomerListItem]
    total: int
    page: int
    page_size: int


class Holdings(BaseModel):
    deposit_fen: int
    wealth_fen: int
    fund_fen: int
    insurance_fen: int
    loan_fen: int
    has_credit_card: bool
    credit_card_activated: bool


class MonthlyPoint(BaseModel):
    month: date
    aum_fen: int
    app_logins: int


class RmRef(BaseModel):
    id: int
    display_name: str
    username: str


class OrgRef(BaseModel):
    id: int
    code: str
    name: str
    name_en: str | None
    path_names: list[str]
    path_names_en: list[str | None]


class CustomerDetail(_Masked):
    id: int
    customer_no: str
    name: str
    gender: str | None
    birth_date: date | None
    age: int | None = None
    phone: str | None
    id_number: str | None
    risk_level: RiskLevel | None
    segment: Segment
    aum_fen: int
    app_logins_month: int
    first_account_date: date | None
    payroll_flag: bool
    lifecycle_stage: str | None
    created_at: datetime
    updated_at: datetime


class Customer360(BaseModel):
    """Customer 360 view (客户360视图), first part: profile, holdings, AUM trend, assigned RM."""

    profile: CustomerDetail
    holdings: Holdings
    monthly: list[MonthlyPoint]
    org: OrgRef
    rm: RmRef | None
