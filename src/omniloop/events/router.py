"""HTTP routes for events in the console: sources and write keys, event search, the live stream, the
schema browser, and a customer's timeline and identities."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from omniloop.core.deps import SessionDep
from omniloop.core.errors import ValidationFailed
from omniloop.core.ids import IdPath, IdQuery
from omniloop.core.pagination import PageDep, paginate
from omniloop.events import service
from omniloop.events.schemas import (
    CustomerIdentities,
    EventCursorPage,
    EventPage,
    EventSchema,
    EventSourceCreate,
    EventSourcePage,
    EventSourceRead,
    EventSourceUpdate,
    EventSourceWithKey,
    EventStream,
    EventType,
)
from omniloop.org.auth import Principal, require
from omniloop.org.roles import Permission

router = APIRouter(tags=["events"])
ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"}}
NOT_FOUND = {**ERR, 404: {"description": "Not found or outside your scope"}}

CustomerNo = Annotated[str | None, Query(max_length=32, description="customer number")]
EventName = Annotated[str | None, Query(max_length=200, description="event / page / screen name")]
Since = Annotated[datetime | None, Query(description="from this time (inclusive)")]
Until = Annotated[datetime | None, Query(description="until this time (exclusive)")]


def _check_window(since: datetime | None, until: datetime | None) -> None:
    for field, value in (("since", since), ("until", until)):
        if value is not None and (value.tzinfo is None or not 1970 <= value.year <= 9998):
            raise ValidationFailed("时间必须带时区且在合理范围内", "Times need a timezone offset and a sensible year",
                                   details={"field": field})
    if since is not None and until is not None and since >= until:
        raise ValidationFailed("开始时间必须早于结束时间", "since must be before until", details={"field": "since"})


# ---- sources ------------------------------------------------------------------------------------------

@router.get("/api/event-sources", response_model=EventSourcePage, responses=ERR)
def list_sources(session: SessionDep, page: PageDep,
                 principal: Principal = require(Permission.events_read)) -> EventSourcePage:
    """Event sources (事件源) of the caller's org subtree; write keys are shown by prefix only."""
    rows, total = paginate(session, service.sources_statement(principal), page)
    return EventSourcePage(items=service.source_reads(session, rows), total=total, page=page.page,
                           page_size=page.page_size)


@router.post("/api/event-sources", response_model=EventSourceWithKey, status_code=201,
             responses={**NOT_FOUND, 422: {"description": "Validation failed"}})
def create_source(data: EventSourceCreate, session: SessionDep,
                  principal: Principal = require(Permission.sources_manage)) -> EventSourceWithKey:
    """Create a source; the response carries its write key, shown this once."""
    source, key = service.create_source(session=session, data=data, actor=principal.actor, root=principal.org)
    session.commit()
    (read,) = service.source_reads(session, [source])
    return EventSourceWithKey(**read.model_dump(), write_key=key)


@router.get("/api/event-sources/{source_id}", response_model=EventSourceRead, responses=NOT_FOUND)
def get_source(source_id: IdPath, session: SessionDep,
               principal: Principal = require(Permission.events_read)) -> EventSourceRead:
    source = service.get_visible_source(session=session, principal=principal, source_id=source_id)
    return service.source_reads(session, [source])[0]


@router.patch("/api/event-sources/{source_id}", response_model=EventSourceRead,
              responses={**NOT_FOUND, 422: {"description": "Validation failed"}})
def update_source(source_id: IdPath, data: EventSourceUpdate, session: SessionDep,
                  principal: Principal = require(Permission.sources_manage)) -> EventSourceRead:
    """Rename, describe, enable or disable (停用) a source; a disabled source's key is refused at once."""
    source = service.get_visible_source(session=session, principal=principal, source_id=source_id)
    service.update_source(session=session, source=source, data=data, actor=principal.actor)
    session.commit()
    return service.source_reads(session, [source])[0]


@router.post("/api/event-sources/{source_id}/rotate-key", response_model=EventSourceWithKey, responses=NOT_FOUND)
def rotate_key(source_id: IdPath, session: SessionDep,
               principal: Principal = require(Permission.sources_manage)) -> EventSourceWithKey:
    """Replace the write key (轮换密钥); the old key stops working at once. The new key is shown this once."""
    source = service.get_visible_source(session=session, principal=principal, source_id=source_id)
    key = service.rotate_key(session=session, source=source, actor=principal.actor)
    session.commit()
    (read,) = service.source_reads(session, [source])
    return EventSourceWithKey(**read.model_dump(), write_key=key)


# ---- events -------------------------------------------------------------------------------------------

@router.get("/api/events", response_model=EventCursorPage, responses=NOT_FOUND)
def list_events(
    session: SessionDep,
    customer_no: CustomerNo = None,
    name: EventName = None,
    type: EventType | None = None,
    source_id: IdQuery = None,
    since: Since = None,
    until: Until = None,
    before_id: IdQuery = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    principal: Principal = require(Permission.events_read),
) -> EventCursorPage:
    """Events newest first (by arrival), of the customers you may see; page back with ``before_id``."""
    _check_window(since, until)
    customer_id = service.customer_id_filter(session=session, principal=principal, customer_no=customer_no)
    items, next_id = service.list_events(session, principal, before_id=before_id, limit=limit, customer_id=customer_id,
                                         name=name, type_=type, source_id=source_id, since=since, until=until)
    return EventCursorPage(items=items, next_before_id=next_id)


@router.get("/api/events/stream", response_model=EventStream, responses=NOT_FOUND)
async def event_stream(
    request: Request,
    session: SessionDep,
    after_id: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="last id you have")] = None,
    customer_no: CustomerNo = None,
    name: EventName = None,
    type: EventType | None = None,
    wait: Annotated[float, Query(ge=0, le=25, description="long poll: seconds to wait for new events")] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    principal: Principal = require(Permission.events_read),
) -> EventStream:
    """The live event stream (实时事件流) as a long poll: events after ``after_id``, newest first; with
    ``wait`` the answer waits up to that many seconds for the first new event."""
    customer_id = await run_in_threadpool(service.customer_id_filter, session=session, principal=principal,
                                          customer_no=customer_no)
    deadline = time.monotonic() + wait
    while True:
        items, last = await run_in_threadpool(service.stream_events, session, principal, after_id=after_id,
                                              limit=limit, customer_id=customer_id, name=name, type_=type)
        if items or after_id is None or time.monotonic() >= deadline or await request.is_disconnected():
            return EventStream(items=items, last_id=last)
        session.rollback()  # a fresh snapshot for the next look
        await asyncio.sleep(0.5)


@router.get("/api/events/schema", response_model=EventSchema, responses=ERR)
def event_schema(
    request: Request,
    session: SessionDep,
    days: Annotated[int, Query(ge=1, le=366, description="window: the last N days")] = 30,
    principal: Principal = require(Permission.events_read),
) -> EventSchema:
    """Event dictionary (事件字典): names seen with volumes, and their properties with the types seen."""
    until = request.app.state.clock.now()
    since = until - timedelta(days=days)
    return EventSchema(since=since, until=until, items=service.event_schema(session, since=since, until=until))


# ---- customer 360 -------------------------------------------------------------------------------------

@router.get("/api/customers/{customer_no}/events", response_model=EventPage, responses=NOT_FOUND,
            tags=["customers"])
def customer_events(
    customer_no: Annotated[str, Path(max_length=32)],
    session: SessionDep,
    page: PageDep,
    name: EventName = None,
    type: EventType | None = None,
    since: Since = None,
    until: Until = None,
    principal: Principal = require(Permission.events_read),
) -> EventPage:
    """A customer's event timeline (行为时间线), newest first by event time."""
    _check_window(since, until)
    stmt = service.customer_timeline(session, principal, customer_no=customer_no, name=name, type_=type,
                                     since=since, until=until)
    rows, total = paginate(session, stmt, page)
    return EventPage(items=service.event_reads(session, principal, rows), total=total, page=page.page,
                     page_size=page.page_size)


@router.get("/api/customers/{customer_no}/identities", response_model=CustomerIdentities, responses=NOT_FOUND,
            tags=["customers"])
def customer_identities(
    customer_no: Annotated[str, Path(max_length=32)],
    session: SessionDep,
    principal: Principal = require(Permission.events_read),
) -> CustomerIdentities:
    """The customer's identity graph (身份图谱): anonymous ids and external ids linked, with the merge history."""
    return service.customer_identities(session, principal, customer_no=customer_no)
