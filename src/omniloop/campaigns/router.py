"""HTTP routes for campaigns: list, read and edit the drafts created from approved plans (D1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from omniloop.campaigns import service
from omniloop.campaigns.schemas import CampaignPage, CampaignRead, CampaignStatus, CampaignUpdate
from omniloop.core.deps import SessionDep
from omniloop.core.ids import IdPath
from omniloop.core.pagination import PageDep, paginate
from omniloop.org.auth import Principal, require
from omniloop.org.roles import Permission

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])
ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"}}
ERR_404 = {**ERR, 404: {"description": "Not found"}}


@router.get("", response_model=CampaignPage, responses=ERR)
def list_campaigns(
    session: SessionDep, page: PageDep,
    q: Annotated[str | None, Query(max_length=100, description="name or code contains")] = None,
    status: CampaignStatus | None = None,
    principal: Principal = require(Permission.plans_read),
) -> CampaignPage:
    rows, total = paginate(session, service.list_statement(principal, q=q, status=status), page)
    return CampaignPage(items=service.read_campaigns(session, rows), total=total, page=page.page,
                        page_size=page.page_size)


@router.get("/{campaign_id}", response_model=CampaignRead, responses=ERR_404)
def get_campaign(campaign_id: IdPath, session: SessionDep,
                 principal: Principal = require(Permission.plans_read)) -> CampaignRead:
    campaign = service.get_campaign(session=session, principal=principal, campaign_id=campaign_id)
    return service.read_campaigns(session, [campaign])[0]


@router.patch("/{campaign_id}", response_model=CampaignRead, responses={**ERR_404, 422: {}})
def update_campaign(campaign_id: IdPath, body: CampaignUpdate, session: SessionDep,
                    principal: Principal = require(Permission.plans_manage)) -> CampaignRead:
    campaign = service.get_campaign(session=session, principal=principal, campaign_id=campaign_id)
    service.update_campaign(session=session, principal=principal, campaign=campaign, data=body)
    session.commit()
    return service.read_campaigns(session, [campaign])[0]
