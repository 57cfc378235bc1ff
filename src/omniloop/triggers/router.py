"""HTTP routes for triggers (触发器): definitions, status changes, firing history, the editor's test."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from omniloop.core.deps import SessionDep
from omniloop.core.ids import IdPath, IdQuery
from omniloop.core.pagination import PageDep, paginate
from omniloop.org.auth import Principal, require
from omniloop.org.roles import Permission
from omniloop.triggers import service
from omniloop.triggers.schemas import (
    FiringPage,
    TriggerCatalog,
    TriggerCreate,
    TriggerKind,
    TriggerPage,
    TriggerRead,
    TriggerStatus,
    TriggerTest,
    TriggerTestResult,
    TriggerUpdate,
)

router = APIRouter(prefix="/api/triggers", tags=["triggers"])
ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"}}
NOT_FOUND = {**ERR, 404: {"description": "Not found or outside your scope"}}
INVALID = {**NOT_FOUND, 422: {"description": "Invalid definition (details: field, code, messages)"}}


def _now(request: Request):
    return request.app.state.clock.now()


def _tz(request: Request) -> str:
    return request.app.state.clock.timezone


def _read(request: Request, session, principal: Principal, trigger) -> TriggerRead:
    return service.trigger_reads(session, principal, [trigger], now=_now(request), timezone=_tz(request))[0]


@router.get("/catalog", response_model=TriggerCatalog, responses=ERR)
def catalog(principal: Principal = require(Permission.events_read)) -> TriggerCatalog:
    """Trigger kinds, filter operators, key-date kinds with their Chinese and English labels (for the editor)."""
    return service.catalog()


@router.get("", response_model=TriggerPage, responses=ERR)
def list_triggers(
    request: Request,
    session: SessionDep,
    page: PageDep,
    kind: TriggerKind | None = None,
    status: TriggerStatus | None = Query(default=None, description="default: all but archived"),
    q: Annotated[str | None, Query(max_length=100, description="name contains")] = None,
    principal: Principal = require(Permission.events_read),
) -> TriggerPage:
    """Triggers (触发器列表) with their last firing and today's firings (of the customers you may see)."""
    rows, total = paginate(session, service.list_statement(principal, kind=kind, status=status, q=q), page)
    items = service.trigger_reads(session, principal, rows, now=_now(request), timezone=_tz(request))
    return TriggerPage(items=items, total=total, page=page.page, page_size=page.page_size)


@router.post("", response_model=TriggerRead, status_code=201, responses=INVALID)
def create_trigger(request: Request, data: TriggerCreate, session: SessionDep,
                   principal: Principal = require(Permission.triggers_manage)) -> TriggerRead:
    """Define a trigger; with ``status: active`` it decides on events accepted from now on."""
    trigger = service.create_trigger(session=session, principal=principal, data=data, now=_now(request))
    session.commit()
    return _read(request, session, principal, trigger)


@router.post("/test", response_model=TriggerTestResult, responses=INVALID)
def test_trigger(request: Request, data: TriggerTest, session: SessionDep,
                 principal: Principal = require(Permission.events_read)) -> TriggerTestResult:
    """Test a definition against recent events (试运行): who it would have fired for over the last N days."""
    return service.test_definition(session=session, principal=principal, data=data, now=_now(request),
                                   timezone=_tz(request))


@router.get("/{trigger_id}", response_model=TriggerRead, responses=NOT_FOUND)
def get_trigger(request: Request, trigger_id: IdPath, session: SessionDep,
                principal: Principal = require(Permission.events_read)) -> TriggerRead:
    trigger = service.get_visible(session=session, principal=principal, trigger_id=trigger_id)
    return _read(request, session, principal, trigger)


@router.patch("/{trigger_id}", response_model=TriggerRead, responses={**INVALID, 409: {"description": "Archived"}})
def update_trigger(request: Request, trigger_id: IdPath, data: TriggerUpdate, session: SessionDep,
                   principal: Principal = require(Permission.triggers_manage)) -> TriggerRead:
    """Rename or change the definition; an active trigger uses the new definition for the next events."""
    trigger = service.get_editable(session=session, principal=principal, trigger_id=trigger_id)
    service.update_trigger(session=session, principal=principal, trigger=trigger, data=data, now=_now(request))
    session.commit()
    return _read(request, session, principal, trigger)


@router.post("/{trigger_id}/{action}", response_model=TriggerRead,
             responses={**NOT_FOUND, 409: {"description": "Not allowed from the current status"}})
def change_status(request: Request, trigger_id: IdPath, action: Literal["activate", "pause", "archive"],
                  session: SessionDep, principal: Principal = require(Permission.triggers_manage)) -> TriggerRead:
    """Activate (启用), pause (暂停) or archive (归档) a trigger."""
    trigger = service.get_editable(session=session, principal=principal, trigger_id=trigger_id)
    service.change_status(session=session, principal=principal, trigger=trigger, action=action, now=_now(request))
    session.commit()
    return _read(request, session, principal, trigger)


@router.get("/{trigger_id}/firings", response_model=FiringPage, responses=NOT_FOUND)
def list_firings(
    trigger_id: IdPath,
    session: SessionDep,
    page: PageDep,
    after_id: IdQuery = None,
    customer_no: Annotated[str | None, Query(max_length=32)] = None,
    principal: Principal = require(Permission.events_read),
) -> FiringPage:
    """Firing history (触发记录), newest first, with the causing events; only customers you may see.
    ``after_id`` returns only firings newer than that id (poll for new ones)."""
    service.get_visible(session=session, principal=principal, trigger_id=trigger_id)
    items, total = service.list_firings(session, principal, trigger_id=trigger_id, page=page, after_id=after_id,
                                        customer_no=customer_no)
    return FiringPage(items=items, total=total, page=page.page, page_size=page.page_size)
