"""Campaign jobs: ``campaigns.wave`` runs one batch wave (resumable by chunk); ``campaigns.tick`` (every
minute) queues waves whose time has come and feeds event-triggered and real-time campaigns."""

from __future__ import annotations

import logging

from sqlalchemy import select

from omniloop.audiences.engine import engine_for
from omniloop.campaigns import execution, lifecycle, streams
from omniloop.campaigns.models import Campaign
from omniloop.core.db import utcnow
from omniloop.jobs.registry import JobContext, job
from omniloop.settings import get_settings

log = logging.getLogger(__name__)


@job("campaigns.wave")
def wave_job(ctx: JobContext, wave_id: int) -> dict:
    """Run one wave: snapshot, then chunks of ≤ 10 000 customers, each committed with its cursor."""
    return execution.run_wave(ctx.session_factory, wave_id=wave_id, engine=engine_for(get_settings().home),
                              progress=ctx.progress)


@job("campaigns.tick")
def tick_job(ctx: JobContext, campaign_id: int | None = None) -> dict:
    """Queue due waves; consume new trigger firings; run real-time passes. Safe to run twice at once: the
    wave rows are locked per chunk and every write is keyed."""
    engine = engine_for(get_settings().home)
    now = utcnow()
    with ctx.session_factory() as session:
        stmt = select(Campaign).where(Campaign.status.in_(("testing", "running")))
        if campaign_id is not None:
            stmt = stmt.where(Campaign.id == campaign_id)
        campaigns = session.scalars(stmt).all()
        queued = 0
        for campaign in campaigns:
            if campaign.mode == "batch":
                queued += len(lifecycle.queue_due_waves(session, campaign, now=now))
        session.commit()
        streaming = [(c.id, c.mode) for c in campaigns if c.mode in streams.STREAM_MODES]
    handled = 0
    for cid, mode in streaming:
        try:
            if mode == "triggered":
                handled += streams.consume_firings(ctx.session_factory, campaign_id=cid, engine=engine)
            else:
                handled += streams.realtime_pass(ctx.session_factory, campaign_id=cid, engine=engine)
        except Exception:  # one broken campaign must not stop the others; the next tick retries it
            log.exception("campaign %s: stream pass failed", cid)
    return {"waves_queued": queued, "stream_contacts": handled}
