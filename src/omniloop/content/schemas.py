"""Message template library (模板库) requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from omniloop.core.ids import Id

Channel = Literal["app_push", "sms", "wechat", "email", "rm_task"]
Purpose = Literal["marketing", "service"]
TemplateStatus = Literal["active", "archived"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,31}$")]
Subject = Annotated[str, StringConstraints(max_length=200)]
Body = Annotated[str, StringConstraints(max_length=5000)]
FieldKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,31}$")]
Fields = Annotated[dict[FieldKey, Annotated[str, StringConstraints(max_length=500)]], Field(max_length=10)]


class TemplateContent(BaseModel):
    subject: Subject | None = Field(None, description="push title, e-mail subject, RM task title")
    body: Body = ""
    fields: Fields | None = Field(None, description="WeChat template fields: key → template text")


class MessageTemplateCreate(TemplateContent):
    code: Code
    name: Name
    channel: Channel
    purpose: Purpose = "marketing"
    owner_org_id: Id | None = None


class MessageTemplateUpdate(BaseModel):
    """Name, purpose or status change the template; subject/body/fields make a new version when changed."""

    name: Name | None = None
    purpose: Purpose | None = None
    status: TemplateStatus | None = None
    subject: Subject | None = None
    body: Body | None = None
    fields: Fields | None = None


class Problem(BaseModel):
    code: str
    severity: Literal["error", "warning"]
    message_zh: str
    message_en: str
    field: str | None = None
    line: int | None = None
    detail: dict = {}


class VersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    version: int
    subject: str | None
    body: str
    fields: dict | None
    variables: list[str]
    created_by_id: int | None
    created_by_name: str | None = None
    created_at: datetime


class MessageTemplateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    channel: Channel
    purpose: Purpose
    current_version: int
    status: TemplateStatus
    owner_org_id: int
    owner_org_name: str | None = None
    owner_org_name_en: str | None = None
    created_at: datetime
    updated_at: datetime
    current: VersionRead | None = None
    editable: bool = False


class MessageTemplatePage(BaseModel):
    items: list[MessageTemplateRead]
    total: int
    page: int
    page_size: int


class VariableRead(BaseModel):
    name: str
    label_zh: str
    label_en: str
    sample: str


class PreviewRequest(TemplateContent):
    channel: Channel
    purpose: Purpose | None = Field(None, description="default marketing (the stricter rules)")
    sample_size: int = Field(3, ge=1, le=10, description="sample customers of your scope")
    customer_nos: list[Annotated[str, StringConstraints(max_length=32)]] | None = Field(None, max_length=10)
    benefit_id: Id | None = Field(None, description="render with this benefit; default a sample benefit")


class SmsInfo(BaseModel):
    encoding: str
    units: int
    segments: int
    per_segment: int


class PreviewSample(BaseModel):
    customer_no: str | None
    customer_name: str | None
    subject: str | None = None
    body: str | None = None
    fields: dict | None = None
    sms: SmsInfo | None = None
    problems: list[Problem] = []
    error: str | None = None


class PreviewResult(BaseModel):
    problems: list[Problem] = Field(description="the template's problems (source + longest-value rendering)")
    variables: list[str]
    longest: PreviewSample = Field(description="rendered with the longest value of every variable")
    samples: list[PreviewSample]


class BlockedWordCreate(BaseModel):
    word: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    category: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None


class BlockedWordUpdate(BaseModel):
    category: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None


class BlockedWordRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    word: str
    category: str | None
    created_at: datetime


class BlockedWordPage(BaseModel):
    items: list[BlockedWordRead]
    total: int
    page: int
    page_size: int
