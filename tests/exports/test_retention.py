"""Export files past their retention are removed by the nightly ``exports.cleanup`` job; newer ones stay."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from omniloop.core.db import session_factory
from omniloop.exports import retention, tasks
from omniloop.jobs.registry import JobContext, get_handler

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def _file(path, age_days: float, now: datetime = NOW, size: int = 10):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    stamp = (now - timedelta(days=age_days)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_remove_expired_deletes_old_files_everywhere_under_exports_only(tmp_path):
    old_audience = _file(tmp_path / "exports" / "audience-1-job3.csv", 8, size=100)
    new_audience = _file(tmp_path / "exports" / "audience-2-job4.xlsx", 6.9)
    old_tag = _file(tmp_path / "exports" / "tags" / "tag-vip-7.xlsx", 30, size=50)
    stale_part = _file(tmp_path / "exports" / ".audience-3-job5.csv.part", 7.01, size=1)
    elsewhere = _file(tmp_path / "store" / "old.parquet", 400)

    removed = retention.remove_expired(tmp_path, days=7, now=NOW)
    assert (removed.files, removed.bytes, removed.kept) == (3, 151, 1)
    assert not old_audience.exists() and not old_tag.exists() and not stale_part.exists()
    assert new_audience.exists() and elsewhere.exists() and (tmp_path / "exports" / "tags").is_dir()
    assert retention.remove_expired(tmp_path, days=7, now=NOW).files == 0  # twice is harmless
    assert retention.remove_expired(tmp_path / "nothing-here", days=7, now=NOW).files == 0
    with pytest.raises(ValueError):
        retention.remove_expired(tmp_path, days=0, now=NOW)


def test_the_job_uses_the_retention_setting_and_the_schedule_is_declared(db, engine, tmp_path, monkeypatch):
    from omniloop.jobs.models import JobSchedule
    from omniloop.settings import get_settings

    monkeypatch.setenv("OMNILOOP_HOME", str(tmp_path))
    monkeypatch.setenv("OMNILOOP_EXPORT_RETENTION_DAYS", "2")
    get_settings.cache_clear()
    try:
        now = datetime.now(UTC)
        three_days = _file(tmp_path / "exports" / "tags" / "tag-a-1.csv", 3, now=now)
        one_day = _file(tmp_path / "exports" / "audience-1-job1.csv", 1, now=now)
        spec = get_handler(tasks.CLEANUP_JOB)
        assert spec is not None and spec.fn is tasks.cleanup
        ctx = JobContext(job_id=0, name=tasks.CLEANUP_JOB, attempt=1, worker_id="w",
                         session_factory=session_factory(engine))
        result = spec.fn(ctx)
        assert result["files"] == 1 and result["days"] == 2 and result["kept"] == 1
        assert not three_days.exists() and one_day.exists()
        assert spec.fn(ctx, days=30)["files"] == 0
    finally:
        get_settings.cache_clear()

    tasks.declare_schedules(db)
    tasks.declare_schedules(db)
    db.commit()
    (schedule,) = db.scalars(select(JobSchedule).where(JobSchedule.key == "exports.cleanup")).all()
    assert schedule.job_name == "exports.cleanup" and schedule.enabled and schedule.next_run_at is not None
