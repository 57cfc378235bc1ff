"""Requests and responses for audiences (人群圈选): estimates, the builder's catalog, saved audiences,
snapshots and exports. Expressions travel as JSON objects and are checked by ``audiences.expression``
(422 ``invalid_audience`` with a path per problem), not by these models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from omniloop.customers.schemas import _Masked

Expression = Annotated[dict[str, Any], Field(
    description="audience expression tree (see omniloop.audiences.expression): "
                '{"op": "and"|"or", "children": [...]}, {"op": "not", "child": ...}, '
                '{"op": "minus", "base": ..., "subtract": [...]}, or a predicate: tag, feature, range, list, audience',
    examples=[{"op": "and", "children": [{"op": "tag", "tag": "vip", "values": ["gold"]},
                                         {"op": "range", "feature": "aum", "min": "500000"}]}])]
Dimension = Annotated[str, Field(max_length=80, description="branch, org, lifecycle_stage, an enum feature, tag:<code>")]
ExportFormat = Literal["csv", "xlsx"]
Value = str | bool | int | None


# ---- estimate -----------------------------------------------------------------------------------------

class EstimateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expression: Expression
    breakdown: Annotated[list[Dimension] | None, Field(max_length=6)] = None


class NodeCountRead(BaseModel):
    """Customers in scope matching one node of the tree on its own (each condition's contribution)."""

    id: str | None = Field(description="the client's node id, if it sent one")
    path: str = Field(description='the node\'s path in the tree, e.g. "children.1"; "" is the root')
    op: str
    count: int


class BreakdownItem(BaseModel):
    value: Value = Field(description="org id for branch/org, the value otherwise; null: not set")
    label_zh: str
    label_en: str
    count: int


class EstimateRead(BaseModel):
    total: int
    universe: int = Field(description="customers in the caller's scope")
    nodes: list[NodeCountRead]
    breakdown: dict[str, list[BreakdownItem]]
    tagset_version: int
    feature_version: int | None
    elapsed_ms: float


# ---- catalog ------------------------------------------------------------------------------------------

class ValueOption(BaseModel):
    value: str | bool
    label_zh: str
    label_en: str


class FeatureOption(BaseModel):
    name: str
    kind: Literal["integer", "money", "ratio", "boolean", "enum", "date"]
    label_zh: str
    label_en: str
    values: list[ValueOption] = Field(description="allowed values of enum and boolean features")
    condition: Literal["values", "range"] = Field(description="values: an 'in' condition; range: min/max")
    unit_zh: str | None = None
    unit_en: str | None = None
    nullable: bool


class TagOption(BaseModel):
    code: str
    kind: Literal["enum", "boolean"]
    name_zh: str
    name_en: str
    values: list[ValueOption]
    tag_id: int | None


class ListOption(BaseModel):
    id: int
    name: str
    size: int
    org_id: int
    org_name: str | None
    org_name_en: str | None
    created_at: datetime


class AudienceOption(BaseModel):
    id: int
    name: str


class CatalogRead(BaseModel):
    tagset_version: int | None = Field(description="null: no tag set published yet (estimates answer 409)")
    feature_version: int | None
    as_of: str | None
    features: list[FeatureOption]
    tags: list[TagOption]
    lists: list[ListOption]
    audiences: list[AudienceOption]
    breakdowns: list[str]


# ---- saved audiences ----------------------------------------------------------------------------------

Name = Annotated[str, Field(min_length=1, max_length=100)]
Description = Annotated[str | None, Field(max_length=1000)]


class AudienceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = None
    expression: Expression


class AudienceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description = None
    expression: Expression | None = None


class AudienceRead(BaseModel):
    id: int
    name: str
    description: str | None
    expression: dict[str, Any]
    org_id: int
    org_name: str | None
    org_name_en: str | None
    created_by_id: int | None
    created_by_name: str | None
    updated_by_name: str | None
    archived: bool
    last_total: int | None = Field(description="size in the owner org's scope at the last save; null for "
                                                "users outside that org's subtree")
    last_estimated_at: datetime | None
    snapshot_count: int
    editable: bool = Field(description="the caller may change or archive it (it belongs to their subtree)")
    created_at: datetime
    updated_at: datetime


class AudiencePage(BaseModel):
    items: list[AudienceRead]
    total: int
    page: int
    page_size: int


class AudienceDeleted(BaseModel):
    id: int
    deleted: bool = Field(description="true: removed; false: archived (it has snapshots or is referenced)")
    archived: bool


# ---- snapshots ----------------------------------------------------------------------------------------

class SnapshotCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Annotated[str | None, Field(max_length=200, description='e.g. "双十一理财活动 第2波"')] = None


class SnapshotRead(BaseModel):
    """A frozen member set (人群快照). The members themselves are only ever exported, never listed here."""

    id: int
    audience_id: int
    audience_name: str | None
    size: int
    tagset_version: int | None
    feature_version: int | None
    scope_org_id: int
    scope_org_name: str | None
    scope_org_name_en: str | None
    purpose: str | None
    created_by_name: str | None
    created_at: datetime


class SnapshotDetail(SnapshotRead):
    breakdown: dict[str, list[BreakdownItem]]
    breakdown_tagset_version: int | None = Field(
        description="the tag set whose org placement and lifecycle stages the breakdown uses")


class SnapshotPage(BaseModel):
    items: list[SnapshotRead]
    total: int
    page: int
    page_size: int


# ---- exports ------------------------------------------------------------------------------------------

class ExportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: ExportFormat = "csv"


class ExportRead(BaseModel):
    job_id: int
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: float
    progress_message: str | None
    format: ExportFormat
    audience_id: int | None
    snapshot_id: int | None
    rows: int | None = Field(description="rows written, once finished")
    masked: bool | None = Field(description="names and phones masked (the requester lacks customers.pii)")
    file_name: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class ExportRow(_Masked):
    """One exported member; names and phones are masked by the requester's role, as everywhere."""

    customer_no: str
    name: str
    phone: str | None
    org_name: str | None
    branch_name: str | None
    lifecycle_stage: str | None
