"""Tag jobs: ``tags.run`` (跑批, on demand and by cron) and ``tags.export``."""

from __future__ import annotations

from omniloop.jobs.registry import JobContext, job
from omniloop.settings import get_settings

# The pipeline (DuckDB, Arrow, SQLGlot) is imported when a job runs, not when a worker starts.


@job("tags.run")
def run(ctx: JobContext, run_id: int | None = None, tag_ids: list[int] | None = None,
        trigger: str = "schedule") -> dict:
    """Run the tag run ``run_id``; a scheduled job (no run yet) creates its run, keyed by the job."""
    from sqlalchemy import select

    from omniloop.tags import runner
    from omniloop.tags.models import TagRun

    settings = get_settings()
    if run_id is None:
        with ctx.session_factory() as session:
            existing = session.scalar(select(TagRun).where(TagRun.job_id == ctx.job_id))
            if existing is None:
                existing = runner.create_run(session, trigger=trigger, tag_ids=tag_ids, job_id=ctx.job_id)
                session.commit()
            run_id = existing.id
    outcome = runner.run_tags(ctx.session_factory, settings.home, run_id=run_id,
                              timezone=settings.display_timezone, progress=ctx.progress, raise_on_failure=True)
    return {"run_id": outcome.id, "status": outcome.status, "tagset_version": outcome.tagset_version}


@job("tags.export")
def export_values(ctx: JobContext, tag_id: int, user_id: int, format: str = "csv",
                  values: list[str] | None = None) -> dict:
    from omniloop.tags import export

    return export.run_export(ctx.session_factory, get_settings().home, job_id=ctx.job_id, tag_id=tag_id,
                             user_id=user_id, format=format, values=values, progress=ctx.progress)
