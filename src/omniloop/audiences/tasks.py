"""Audience jobs: ``audiences.export`` writes a saved audience's or a snapshot's members to CSV / Excel."""

from __future__ import annotations

from dataclasses import asdict

from omniloop.audiences.engine import engine_for
from omniloop.audiences.export import run_export
from omniloop.jobs.registry import JobContext, job
from omniloop.settings import get_settings


@job("audiences.export")
def export_audience(ctx: JobContext, user_id: int, format: str = "csv", audience_id: int | None = None,
                    snapshot_id: int | None = None) -> dict:
    """Export members for ``user_id`` in their scope at run time; reports progress a chunk at a time.

    Safe to run twice: the file is written under a temporary name and renamed over any earlier one.
    """
    if format not in ("csv", "xlsx"):
        raise ValueError(f"unknown export format {format!r}")
    home = get_settings().home
    with ctx.session_factory() as session:
        result = run_export(session, engine=engine_for(home), home=home, job_id=ctx.job_id, user_id=user_id,
                            fmt=format, audience_id=audience_id, snapshot_id=snapshot_id, progress=ctx.progress)
    return asdict(result)
