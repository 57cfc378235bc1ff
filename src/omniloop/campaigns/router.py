"""HTTP routes for campaigns: information and configuration (D1–D8), waves, preview, launch and
monitoring, and the bank-wide global holdout."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omniloop.audiences.engine import app_engine
from omniloop.campaigns import config, holdout, lifecycle, preview, service, waves
from omniloop.campaigns.models import Campaign, CampaignMember
from omniloop.campaigns.schemas import (
    CampaignDetail,
    CampaignPage,
    CampaignRead,
    CampaignStatus,
    CampaignUpdate,
    ConfigUpdate,
    HoldoutSettingsRead,
    HoldoutSettingsUpdate,
    PreviewRead,
    TransitionRequest,
    WaveCreate,
    WaveRead,
    WaveUpdate,
)
from omniloop.contacts.models import ContactDecision, OutboxMessage
from omniloop.core.deps import SessionDep
from omniloop.core.ids import IdPath
from omniloop.core.pagination import PageDep, paginate
from omniloop.org.auth import Principal, require
from omniloop.org.roles import Permission

router = APIRouter(prefix="/api", tags=["campaigns"])
ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"}}
ERR_404 = {**ERR, 404: {"description": "Not found"}}
ERR_409 = {**ERR_404, 409: {"description": "Not allowed in the campaign's status"}, 422: {}}
Reader = Annotated[Principal, require(Permission.campaigns_read)]
Manager = Annotated[Principal, require(Permission.campaigns_manage)]


def _read(session: Session, campaign: Campaign) -> CampaignRead:
    return service.read_campaigns(session, [campaign])[0]


@router.get("/campaigns", response_model=CampaignPage, responses=ERR)
def list_campaigns(
    session: SessionDep, page: PageDep, principal: Reader,
    q: Annotated[str | None, Query(max_length=100, description="name or code contains")] = None,
    status: CampaignStatus | None = None,
) -> CampaignPage:
    rows, total = paginate(session, service.list_statement(principal, q=q, status=status), page)
    return CampaignPage(items=service.read_campaigns(session, rows), total=total, page=page.page,
                        page_size=page.page_size)


@router.get("/campaigns/{campaign_id}", response_model=CampaignRead, responses=ERR_404)
def get_campaign(campaign_id: IdPath, session: SessionDep, principal: Reader) -> CampaignRead:
    return _read(session, service.get_campaign(session=session, principal=principal, campaign_id=campaign_id))


@router.patch("/campaigns/{campaign_id}", response_model=CampaignRead, responses=ERR_409)
def update_campaign(campaign_id: IdPath, body: CampaignUpdate, session: SessionDep,
                    principal: Manager) -> CampaignRead:
    campaign = service.get_campaign(session=session, principal=principal, campaign_id=campaign_id)
    service.update_campaign(session=session, principal=principal, campaign=campaign, data=body)
    session.commit()
    return _read(session, campaign)


@router.patch("/campaigns/{campaign_id}/config", response_model=CampaignRead, responses=ERR_409)
def configure_campaign(campaign_id: IdPath, body: ConfigUpdate, request: Request, session: SessionDep,
                       principal: Manager) -> CampaignRead:
    """Save one or more wizard steps; 422 ``invalid_campaign_config`` lists every problem with its field."""
    campaign = service.get_campaign(session=session, principal=principal, campaign_id=campaign_id)
    config.update_config(session=session, principal=principal, campaign=campaign, data=body,
                         engine=app_engine(request.app))
    session.commit()
    return _read(session, campaign)


def _count(session: Session, column, campaign_id: int, model) -> dict[str, int]:
    rows = session.execute(select(column, func.count()).where(model.campaign_id == campaign_id)
                           .group_by(column)).all()
    return {str(key): n for key, n in rows if key is not None}


@router.get("/campaigns/{campaign_id}/detail", response_model=CampaignDetail, responses=ERR_404)
def campaign_detail(campaign_id: IdPath, session: SessionDep, principal: Reader) -> CampaignDetail:
    """The campaign with its waves (and funnels) and live counts: members by cell, decisions, outbox."""
    campaign = service.get_campaign(session=session, principal=principal, campaign_id=campaign_id)
    from omniloop.campaigns.execution import wave_funnel

    items = []
    for wave in waves.list_waves(session, campaign_id=campaign.id):
        item = WaveRead.model_validate(wave)
        if wave.status in ("running", "paused"):
            item.funnel = {**wave_funnel(session, wave), "snapshot_size": (wave.funnel or {}).get("snapshot_size")}
        items.append(item)
    reasons = session.execute(select(ContactDecision.reason, func.count())
                              .where(ContactDecision.campaign_id == campaign.id, ContactDecision.outcome != "allowed")
                              .group_by(ContactDecision.reason)).all()
    return CampaignDetail(
        campaign=_read(session, campaign), waves=items,
        members=_count(session, CampaignMember.cell, campaign.id, CampaignMember),
        decisions=_count(session, ContactDecision.outcome, campaign.id, ContactDecision),
        reasons={str(r): n for r, n in reasons if r},
        outbox=_count(session, OutboxMessage.status, campaign.id, OutboxMessage),
        outbox_by_channel=_count(session, OutboxMessage.channel, campaign.id, OutboxMessage),
        allowed_actions=lifecycle.allowed_actions(campaign))


@router.post("/campaigns/{campaign_id}/preview", response_model=PreviewRead, responses=ERR_404)
def preview_campaign(campaign_id: IdPath, request: Request, session: SessionDep, principal: Manager,
                     wave_kind: Literal["test", "full"] = "full") -> PreviewRead:
    """Dry run: the funnel of who would be contacted, through which channel, and who is filtered out and why."""
    campaign = service.get_campaign(session=session, principal=principal, campaign_id=campaign_id)
    result = preview.preview(session=session, principal=principal, engine=app_engine(request.app),
                             campaign=campaign, wave_kind=wave_kind)
    session.rollback()  # a dry run writes nothing
    return result


def _transition(action: str, summary: str):
    def endpoint(campaign_id: IdPath, session: SessionDep, principal: Manager,
                 body: TransitionRequest | None = None) -> CampaignRead:
        campaign = service.get_campaign(session=session, principal=principal, campaign_id=campaign_id)
        lifecycle.transition(session, campaign=campaign, action=action, actor=principal.actor,
                             reason=body.reason if body else None)
        session.commit()
        return _read(session, campaign)

    endpoint.__name__ = f"{action}_campaign"
    endpoint.__doc__ = summary
    router.add_api_route(f"/campaigns/{{campaign_id}}/{action.replace('_', '-')}", endpoint, methods=["POST"],
                         response_model=CampaignRead, responses=ERR_409, name=f"{action}_campaign")


_transition("ready", "Mark the configuration complete (draft → ready).")
_transition("launch_test", "Launch the test cell (ready → testing).")
_transition("launch", "Launch the full campaign (ready / testing → running).")
_transition("pause", "Pause: no further chunks start; pending contacts are held.")
_transition("resume", "Resume a paused campaign.")
_transition("stop", "Stop for good: remaining waves cancelled, pending contacts cancelled.")


# ---- waves ------------------------------------------------------------------------------------------------

@router.get("/campaigns/{campaign_id}/waves", response_model=list[WaveRead], responses=ERR_404)
def list_waves(campaign_id: IdPath, session: SessionDep, principal: Reader) -> list[WaveRead]:
    campaign = service.get_campaign(session=session, principal=principal, campaign_id=campaign_id)
    return [WaveRead.model_validate(w) for w in waves.list_waves(session, campaign_id=campaign.id)]


@router.post("/campaigns/{campaign_id}/waves", response_model=WaveRead, status_code=201, responses=ERR_409)
def create_wave(campaign_id: IdPath, body: WaveCreate, session: SessionDep, principal: Manager) -> WaveRead:
    campaign = service.get_campaign(session=session, principal=principal, campaign_id=campaign_id)
    wave = waves.create_wave(session=session, principal=principal, campaign=campaign, data=body)
    if campaign.status in ("testing", "running"):
        lifecycle.queue_due_waves(session, campaign)
    session.commit()
    return WaveRead.model_validate(wave)


@router.patch("/campaigns/{campaign_id}/waves/{wave_id}", response_model=WaveRead, responses=ERR_409)
def update_wave(campaign_id: IdPath, wave_id: IdPath, body: WaveUpdate, session: SessionDep,
                principal: Manager) -> WaveRead:
    campaign = service.get_campaign(session=session, principal=principal, campaign_id=campaign_id)
    wave = waves.get_wave(session, campaign=campaign, wave_id=wave_id)
    waves.update_wave(session=session, principal=principal, campaign=campaign, wave=wave, data=body)
    session.commit()
    return WaveRead.model_validate(wave)


@router.delete("/campaigns/{campaign_id}/waves/{wave_id}", status_code=204, responses=ERR_409)
def delete_wave(campaign_id: IdPath, wave_id: IdPath, session: SessionDep, principal: Manager) -> Response:
    campaign = service.get_campaign(session=session, principal=principal, campaign_id=campaign_id)
    wave = waves.get_wave(session, campaign=campaign, wave_id=wave_id)
    waves.delete_wave(session=session, principal=principal, campaign=campaign, wave=wave)
    session.commit()
    return Response(status_code=204)


# ---- global holdout ---------------------------------------------------------------------------------------

def _holdout_read(session: Session) -> HoldoutSettingsRead:
    settings = holdout.current(session)
    if settings is None:
        return HoldoutSettingsRead(enabled=False, pct=0)
    return HoldoutSettingsRead(enabled=settings.enabled, pct=settings.pct, updated_at=settings.updated_at)


@router.get("/holdout-settings", response_model=HoldoutSettingsRead, responses=ERR)
def get_holdout(session: SessionDep, principal: Reader) -> HoldoutSettingsRead:
    """The bank-wide global holdout (全局对照组): a share of customers no campaign contacts."""
    return _holdout_read(session)


@router.put("/holdout-settings", response_model=HoldoutSettingsRead, responses={**ERR, 422: {}})
def put_holdout(body: HoldoutSettingsUpdate, session: SessionDep,
                principal: Annotated[Principal, require(Permission.contacts_manage)]) -> HoldoutSettingsRead:
    holdout.update(session, actor=principal.actor, data=body)
    session.commit()
    return _holdout_read(session)
