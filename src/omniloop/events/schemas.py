"""Event API models: sources and write keys, events, the live stream, the schema browser, identities."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from omniloop.core.ids import Id

SourceKind = Literal["app", "web", "partner", "server"]
EventType = Literal["identify", "track", "page", "screen", "group", "alias"]


class IngestAccepted(BaseModel):
    """Segment's response shape."""

    success: bool = True


class EventSourceCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    kind: SourceKind
    org_id: Id | None = Field(default=None, description="owning org; default the caller's org. A partner "
                              "source may only name customers of this org's subtree")
    description: str | None = Field(default=None, max_length=500)


class EventSourceUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None


class EventSourceRead(BaseModel):
    id: int
    name: str
    kind: SourceKind
    description: str | None
    org_id: int
    org_name: str | None = None
    key_prefix: str = Field(description="first characters of the write key, to recognise it")
    enabled: bool
    created_at: datetime
    created_by: str | None = None
    rotated_at: datetime | None
    rotated_by: str | None = None


class EventSourceWithKey(EventSourceRead):
    write_key: str = Field(description="the full write key: shown only now, store it safely")


class EventSourcePage(BaseModel):
    items: list[EventSourceRead]
    total: int
    page: int
    page_size: int


class EventRead(BaseModel):
    id: int
    message_id: str
    type: EventType
    name: str | None
    source_id: int
    source_name: str | None = None
    anonymous_id: str | None
    user_id: str | None
    customer_no: str | None = None
    customer_name: str | None = Field(default=None, description="masked unless the role may see personal data")
    ts: datetime = Field(description="event time, corrected for the device's clock skew (UTC)")
    original_timestamp: datetime | None
    sent_at: datetime | None
    received_at: datetime
    properties: dict[str, Any] | None
    context: dict[str, Any] | None


class EventCursorPage(BaseModel):
    items: list[EventRead]
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page; null at the end")


class EventStream(BaseModel):
    items: list[EventRead] = Field(description="newest first")
    last_id: int | None = Field(description="pass as after_id on the next poll")


class EventPage(BaseModel):
    items: list[EventRead]
    total: int
    page: int
    page_size: int


class PropertySeen(BaseModel):
    name: str
    types: list[str]
    seen: int = Field(description="events in the sample that carry it")


class EventSchemaEntry(BaseModel):
    type: EventType
    name: str | None
    count: int
    customers: int
    first_seen: datetime
    last_seen: datetime
    properties: list[PropertySeen]
    sample_size: int


class EventSchema(BaseModel):
    since: datetime
    until: datetime
    items: list[EventSchemaEntry]


class IdentityRead(BaseModel):
    value: str
    kind: str
    user_id: str | None
    source_id: int | None
    first_seen_at: datetime
    linked_at: datetime | None


class IdentityMergeRead(BaseModel):
    identity: str
    kind: str
    via: str
    previous_customer_no: str | None
    source_id: int
    source_name: str | None = None
    message_id: str
    events_attached: int
    at: datetime


class CustomerIdentities(BaseModel):
    customer_no: str
    user_ids: list[str] = Field(description="user ids seen in this customer's events")
    identities: list[IdentityRead]
    merges: list[IdentityMergeRead]
