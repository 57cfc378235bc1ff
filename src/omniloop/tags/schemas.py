"""Tag API shapes: definitions, validation, runs, distributions, lifecycle overview, customer tags."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from omniloop.core.ids import Id

Category = Literal["basic", "value", "behaviour", "lifecycle", "model_score", "event"]
Source = Literal["rule", "list", "model_score", "event"]
ValueType = Literal["enum", "boolean", "numeric"]
TagStatus = Literal["active", "archived"]
RunStatus = Literal["queued", "running", "succeeded", "failed", "partial"]


class Option(BaseModel):
    value: str
    label_zh: str
    label_en: str


class FeatureInfo(BaseModel):
    name: str
    kind: str
    label_zh: str
    label_en: str
    values: list[str] = []
    nullable: bool


class TagCatalog(BaseModel):
    """Choices for the tag editor: categories, sources, value types (with which sources allow which), features."""

    categories: list[Option]
    sources: list[Option]
    value_types: list[Option]
    allowed_value_types: dict[str, list[str]]
    features: list[FeatureInfo]
    event_operators: list[str]


class ValueLabel(BaseModel):
    value: str | bool
    label_zh: str
    label_en: str


class TagCreate(BaseModel):
    code: str = Field(min_length=2, max_length=64, description="slug: lowercase letters, digits, _")
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    category: Category
    source: Source
    value_type: ValueType
    definition: dict[str, Any] = Field(description="see omniloop.tags.definitions for the shape of each source")
    schedule: str | None = Field(default=None, max_length=100, description="cron (Asia/Shanghai) for runs of this tag")


class TagUpdate(BaseModel):
    name_zh: str | None = Field(default=None, min_length=1, max_length=100)
    name_en: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    category: Category | None = None
    value_type: ValueType | None = None
    definition: dict[str, Any] | None = None
    schedule: str | None = Field(default=None, max_length=100, description="empty or null: no schedule of its own")
    status: TagStatus | None = Field(default=None, description="'active' restores an archived tag")


class TagRead(BaseModel):
    id: int
    code: str
    name_zh: str
    name_en: str
    description: str | None
    category: Category
    category_label_zh: str
    category_label_en: str
    source: Source
    source_label_zh: str
    source_label_en: str
    value_type: ValueType
    definition: dict[str, Any]
    values: list[ValueLabel]
    status: TagStatus
    system: bool
    schedule: str | None
    owner_org_id: int
    definition_version: int
    created_by_id: int | None
    updated_by_id: int | None
    created_at: datetime
    updated_at: datetime
    coverage: int | None = None  # customers with the tag at its latest run
    last_run_id: int | None = None
    last_run_status: str | None = None  # the tag's own result in its latest run: succeeded / failed / carried
    last_run_at: datetime | None = None
    usage: int = 0  # saved audiences using the tag (directly or through a saved audience they reference)
    campaign_usage: int = 0  # campaigns whose audience or filters use the tag
    # Whose customers ``coverage`` (and a detail's distribution) counts: "bank" (head office: the whole
    # bank, from the run), "org" (the caller's org subtree) or "assigned" (an RM's own customers).
    scope: Literal["bank", "org", "assigned"] = "bank"


class TagPage(BaseModel):
    items: list[TagRead]
    total: int
    page: int
    page_size: int


class DistributionItem(BaseModel):
    value: str | bool | None
    label_zh: str
    label_en: str
    customers: int
    share: float  # of all customers in the tag set within the caller's scope


class AudienceUse(BaseModel):
    id: int
    name: str
    archived: bool
    direct: bool  # names the tag itself (else through a saved audience it references)


class CampaignUse(BaseModel):
    id: int
    code: str
    name: str
    status: str
    finished: bool  # stopped / completed: no longer blocks archiving the tag
    audience_id: int | None
    audience_name: str | None = None
    via: Literal["audience", "filters", "both"] = "audience"


class TagUsage(BaseModel):
    """Where a tag is used (标签使用情况): saved audiences and the campaigns built on them."""

    audiences: list[AudienceUse] = []
    campaigns: list[CampaignUse] = []


class CoveragePoint(BaseModel):
    run_id: int
    at: datetime
    coverage: int | None
    status: str


class TagRunLogItem(BaseModel):
    run_id: int
    status: str  # this tag's result
    run_status: str
    trigger: str
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    coverage: int | None
    changed: int | None
    definition_version: int | None
    error: str | None


class TagDetail(TagRead):
    tagset_version: int | None = None
    total_customers: int | None = None  # in the caller's scope (the whole tag set for head office)
    scope_org_id: int | None = None
    scope_org_name: str | None = None
    scope_org_name_en: str | None = None
    used_by: TagUsage = TagUsage()
    distribution: list[DistributionItem] = []
    coverage_history: list[CoveragePoint] = []
    runs: list[TagRunLogItem] = []
    score_file: ScoreFileInfo | None = None


class ScoreFileInfo(BaseModel):
    rows: int
    uploaded_at: datetime


class ValidateRequest(BaseModel):
    """A whole definition, or just one rule's text (``rule``) while the operator types."""

    rule: str | None = Field(default=None, max_length=20_000)
    code: str | None = Field(default=None, max_length=64)
    source: Source | None = None
    value_type: ValueType | None = None
    definition: dict[str, Any] | None = None


class ProblemRead(BaseModel):
    path: str
    kind: str
    message_zh: str
    message_en: str
    line: int | None = None
    column: int | None = None
    offset: int | None = None
    length: int | None = None


class FeatureRef(BaseModel):
    name: str
    label_zh: str
    label_en: str


class ValidateResponse(BaseModel):
    valid: bool
    problems: list[ProblemRead]
    features_used: list[FeatureRef]
    values: list[ValueLabel] = []
    sql: str | None = None  # the compiled DuckDB expression, for rule sources


class TagRunCreate(BaseModel):
    tag_ids: list[Id] | None = Field(default=None, max_length=500, description="omit: all active tags")


class TagRunRead(BaseModel):
    id: int
    status: RunStatus
    trigger: str
    tag_ids: list[int] | None
    job_id: int | None
    requested_by_id: int | None
    as_of: date | None
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    rows: int | None
    tags_computed: int | None
    tags_failed: int | None
    changed: int | None
    feature_version: int | None
    tagset_version: int | None
    error: str | None
    created_at: datetime
    progress: float | None = None  # of the job, while it runs
    progress_message: str | None = None


class TagRunPage(BaseModel):
    items: list[TagRunRead]
    total: int
    page: int
    page_size: int


class TagRunResultRead(BaseModel):
    tag_id: int
    tag_code: str
    tag_name_zh: str | None
    tag_name_en: str | None
    status: str
    coverage: int | None
    distribution: dict[str, int] | None
    changed: int | None
    definition_version: int | None
    duration_ms: int | None
    error: str | None


class TagRunDetail(TagRunRead):
    results: list[TagRunResultRead] = []


class ScoreUploadReport(BaseModel):
    file_name: str
    number_column: str
    score_column: str
    rows: int = 0
    matched: int = 0
    duplicates: int = 0  # later rows for the same customer replace earlier ones
    invalid_scores: int = 0
    unknown_count: int = 0
    unknown: list[str] = []


class ExportCreate(BaseModel):
    format: Literal["csv", "xlsx"] = "csv"
    values: list[str] | None = Field(default=None, max_length=100,
                                     description="only customers with one of these values ('true'/'false' for booleans)")


class ExportRead(BaseModel):
    job_id: int
    tag_id: int
    status: str
    progress: float
    progress_message: str | None
    rows: int | None = None
    file_name: str | None = None
    download_url: str | None = None
    created_at: datetime
    finished_at: datetime | None
    error: str | None = None


class LifecycleBucket(BaseModel):
    value: str | None
    label_zh: str
    label_en: str
    customers: int
    mau: int  # customers with an app login this month (MAU track)
    aum_fen: int  # AUM track


class LifecycleOverview(BaseModel):
    """Lifecycle distribution on the customer-count, MAU and AUM tracks (生命周期双轨视图), in your scope."""

    tagset_version: int | None
    as_of: date | None
    total_customers: int
    total_mau: int
    total_aum_fen: int
    stages: list[LifecycleBucket]
    statuses: list[LifecycleBucket]


class CustomerTagValue(BaseModel):
    tag_id: int | None
    code: str
    name_zh: str
    name_en: str
    category: str
    value: str | bool | None
    label_zh: str | None
    label_en: str | None


class CustomerTagChange(BaseModel):
    at: datetime
    run_id: int
    tagset_version: int
    code: str
    name_zh: str
    name_en: str
    previous: str | None
    previous_label_zh: str | None
    value: str | None
    value_label_zh: str | None
    previous_label_en: str | None = None
    value_label_en: str | None = None


class CustomerTags(BaseModel):
    customer_no: str
    tagset_version: int | None
    computed_at: datetime | None
    lifecycle_stage: CustomerTagValue | None
    lifecycle_status: CustomerTagValue | None
    tags: list[CustomerTagValue]
    history: list[CustomerTagChange]


TagDetail.model_rebuild()
