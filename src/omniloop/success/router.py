"""HTTP routes for success rules (成功标准)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from omniloop.core.deps import SessionDep
from omniloop.core.ids import IdPath
from omniloop.core.pagination import PageDep, paginate
from omniloop.org.auth import Principal, require
from omniloop.org.roles import Permission
from omniloop.success import catalog
from omniloop.success.schemas import (
    RuleTest,
    RuleTestResult,
    SuccessRuleCreate,
    SuccessRulePage,
    SuccessRuleRead,
    SuccessRuleUpdate,
)

router = APIRouter(prefix="/api/success-rules", tags=["success-rules"])
ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"}}
NOT_FOUND = {**ERR, 404: {"description": "Not found or outside your scope"}}
INVALID = {**NOT_FOUND, 409: {"description": "In use"},
           422: {"description": "Invalid input (details: field path and code)"}}


@router.get("", response_model=SuccessRulePage, responses=ERR)
def list_rules(session: SessionDep, page: PageDep, q: Annotated[str | None, Query(max_length=100)] = None,
               event_name: Annotated[str | None, Query(max_length=100)] = None,
               principal: Principal = require(Permission.campaigns_read)) -> SuccessRulePage:
    """Success rules (成功标准): which event, with which properties, within how many days counts as a response."""
    rows, total = paginate(session, catalog.list_statement(principal, q=q, event_name=event_name), page)
    return SuccessRulePage(items=catalog.reads(session, principal, rows), total=total, page=page.page,
                           page_size=page.page_size)


@router.post("", response_model=SuccessRuleRead, status_code=201, responses=INVALID)
def create_rule(data: SuccessRuleCreate, session: SessionDep,
                principal: Principal = require(Permission.elements_manage)) -> SuccessRuleRead:
    rule = catalog.create(session=session, principal=principal, data=data)
    session.commit()
    return catalog.reads(session, principal, [rule])[0]


@router.get("/{rule_id}", response_model=SuccessRuleRead, responses=NOT_FOUND)
def get_rule(rule_id: IdPath, session: SessionDep,
             principal: Principal = require(Permission.campaigns_read)) -> SuccessRuleRead:
    return catalog.reads(session, principal, [catalog.get_visible(session=session, principal=principal,
                                                                  rule_id=rule_id)])[0]


@router.patch("/{rule_id}", response_model=SuccessRuleRead, responses=INVALID)
def update_rule(rule_id: IdPath, data: SuccessRuleUpdate, session: SessionDep,
                principal: Principal = require(Permission.elements_manage)) -> SuccessRuleRead:
    rule = catalog.get_editable(session=session, principal=principal, rule_id=rule_id)
    catalog.update(session=session, principal=principal, rule=rule, data=data)
    session.commit()
    return catalog.reads(session, principal, [rule])[0]


@router.delete("/{rule_id}", status_code=204, responses=INVALID)
def delete_rule(rule_id: IdPath, session: SessionDep,
                principal: Principal = require(Permission.elements_manage)) -> Response:
    """Delete a rule no campaign uses; otherwise 409 ``success_rule_in_use``."""
    rule = catalog.get_editable(session=session, principal=principal, rule_id=rule_id)
    catalog.delete(session=session, principal=principal, rule=rule)
    session.commit()
    return Response(status_code=204)


@router.post("/{rule_id}/test", response_model=RuleTestResult, responses=NOT_FOUND)
def test_rule(request: Request, rule_id: IdPath, data: RuleTest, session: SessionDep,
              principal: Principal = require(Permission.campaigns_read)) -> RuleTestResult:
    """Test the rule against a customer's recent events (试算): which would count as a response."""
    rule = catalog.get_visible(session=session, principal=principal, rule_id=rule_id)
    return catalog.test(session, principal=principal, rule=rule, data=data, now=request.app.state.clock.now())
