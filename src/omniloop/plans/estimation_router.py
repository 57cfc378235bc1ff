"""HTTP routes for campaign estimation (活动测算, C2): a saved plan, or the plan form's unsaved values."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from omniloop.core.deps import SessionDep
from omniloop.core.ids import IdPath
from omniloop.org.auth import Principal, require
from omniloop.org.roles import Permission
from omniloop.plans import estimation, service
from omniloop.plans.estimation_schemas import PlanEstimateRead, PlanEstimateRequest

router = APIRouter(prefix="/api/plans", tags=["plans"])
ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"},
       409: {"description": "insufficient_history: fewer than 10 completed campaigns with results"}}
K = Annotated[int, Query(ge=1, le=20, description="how many similar campaigns")]


@router.post("/estimate", response_model=PlanEstimateRead, responses={**ERR, 404: {}, 422: {}})
def estimate_values(body: PlanEstimateRequest, session: SessionDep, k: K = 5,
                    principal: Principal = require(Permission.plans_read)) -> PlanEstimateRead:
    """Estimate from the plan form's values before they are saved."""
    estimation.check_audience(session=session, principal=principal, body=body)
    return estimation.estimate(session=session, principal=principal, values=body, k=k)


@router.get("/{plan_id}/estimate", response_model=PlanEstimateRead, responses={**ERR, 404: {}})
def estimate_plan(plan_id: IdPath, session: SessionDep, k: K = 5,
                  principal: Principal = require(Permission.plans_read)) -> PlanEstimateRead:
    """Similar past campaigns with their results, the model's predicted conversion and a budget check."""
    plan = service.get_plan(session=session, principal=principal, plan_id=plan_id)
    return estimation.estimate(session=session, principal=principal, values=plan, k=k, plan_id=plan.id)
