"""Event-triggered (被动事件触发) and real-time (主动实时) campaigns: the same chunk step, fed continuously.

Each such campaign has one wave row (created at launch) whose occasions are new all the time:

- triggered: every new firing of the campaign's trigger is one contact on occasion ``firing:<id>``. The
  consumer polls ``triggers.service.firings_after`` from the wave's cursor (the last firing id done) and
  moves the cursor in the same transaction as the chunk, so a restart neither skips nor repeats a firing.
- real-time: each pass evaluates the audience now and runs the chunk step for customers who are not
  members of the wave yet (occasion ``wave:<id>``): customers newly in the audience since the last pass.

Both run from the ``campaigns.tick`` job (every minute), so a firing waits at most about a minute.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from omniloop.audiences.engine import AudienceEngine
from omniloop.audiences.models import Audience
from omniloop.campaigns.execution import (
    CHUNK_SIZE,
    _locked_wave,
    campaign_principal,
    make_context,
    occasion_of_firing,
    occasion_of_wave,
    run_chunk,
)
from omniloop.campaigns.models import Campaign, CampaignMember, CampaignWave
from omniloop.core.db import utcnow
from omniloop.triggers import service as trigger_service

STREAM_MODES = ("triggered", "realtime")
ACTIVE = ("testing", "running")


def stream_wave(session: Session, campaign: Campaign) -> CampaignWave:
    """The campaign's continuous wave, created on first use."""
    wave = session.scalar(select(CampaignWave).where(CampaignWave.campaign_id == campaign.id)
                          .order_by(CampaignWave.seq).limit(1))
    if wave is None:
        name = "事件触发 / triggered" if campaign.mode == "triggered" else "实时 / real-time"
        wave = CampaignWave(campaign_id=campaign.id, seq=1, name=name, kind="full", status="running", cursor=0,
                            started_at=utcnow())
        session.add(wave)
        session.flush()
    return wave


def consume_firings(session_factory: sessionmaker[Session], *, campaign_id: int, engine: AudienceEngine | None,
                    max_chunks: int = 10, chunk_size: int = CHUNK_SIZE) -> int:
    """Turn new firings of the campaign's trigger into contacts; returns how many firings were handled."""
    handled = 0
    for _ in range(max_chunks):
        with session_factory() as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is None or campaign.status not in ACTIVE or campaign.mode != "triggered" \
                    or campaign.trigger_id is None:
                return handled
            wave = _locked_wave(session, stream_wave(session, campaign).id)
            firings = trigger_service.firings_after(session, trigger_id=campaign.trigger_id, after_id=wave.cursor,
                                                    limit=chunk_size)
            if not firings:
                session.commit()
                return handled
            ctx = make_context(session, campaign=campaign, wave=wave, engine=engine,
                               principal=campaign_principal(session, campaign), stream=True)
            # One customer may fire twice in a chunk: each firing is its own occasion, so run them apart.
            batches: list[list[tuple[int, str]]] = []
            for firing in firings:
                pair = (firing.customer_id, occasion_of_firing(firing.id))
                for batch in batches:
                    if all(cid != firing.customer_id for cid, _ in batch):
                        batch.append(pair)
                        break
                else:
                    batches.append([pair])
            for batch in batches:
                run_chunk(session, ctx, batch)
            wave.cursor = firings[-1].id
            session.commit()
            handled += len(firings)
    return handled


def realtime_pass(session_factory: sessionmaker[Session], *, campaign_id: int, engine: AudienceEngine,
                  chunk_size: int = CHUNK_SIZE) -> int:
    """Contact customers newly in the audience; returns how many were handled."""
    with session_factory() as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None or campaign.status not in ACTIVE or campaign.mode != "realtime":
            return 0
        wave = stream_wave(session, campaign)
        session.commit()
        principal = campaign_principal(session, campaign)
        audience = session.get(Audience, campaign.audience_id)
        now_members = engine.prepare(session, principal, audience.expression, audience_id=audience.id).members()
        seen = set(session.scalars(select(CampaignMember.customer_id).where(CampaignMember.wave_id == wave.id)))
        new = [cid for cid in now_members if cid not in seen]
        wave_id = wave.id
    handled = 0
    for start in range(0, len(new), chunk_size):
        with session_factory() as session:
            wave = _locked_wave(session, wave_id)
            campaign = session.get(Campaign, campaign_id)
            if campaign.status not in ACTIVE:
                session.commit()
                break
            ctx = make_context(session, campaign=campaign, wave=wave, engine=engine, stream=True)
            chunk = new[start:start + chunk_size]
            run_chunk(session, ctx, [(cid, occasion_of_wave(wave_id)) for cid in chunk])
            session.commit()
            handled += len(chunk)
    return handled
