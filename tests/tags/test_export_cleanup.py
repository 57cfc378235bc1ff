"""A tag export declares the nightly export cleanup; once the cleanup removed its file, the download says so."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from omniloop.core.audit import SYSTEM
from omniloop.core.db import utcnow
from omniloop.demo.tags import seed_tags
from omniloop.exports import retention
from omniloop.jobs.models import Job, JobSchedule
from omniloop.tags import export
from omniloop.tags.models import TagDefinition
from tests.factories import login_headers
from tests.tags.conftest import run


def test_export_request_declares_cleanup_and_a_removed_file_is_reported_gone(client, tag_bank, db, factory):
    seed_tags(db, actor=SYSTEM)
    db.commit()
    assert run(factory, tag_bank.home).status == "succeeded"
    assert db.scalar(select(JobSchedule).where(JobSchedule.key == "exports.cleanup")) is None
    headers = login_headers(client, "operator")
    tag = db.scalar(select(TagDefinition).where(TagDefinition.code == "payroll"))
    queued = client.post(f"/api/tags/{tag.id}/exports", json={"format": "csv"}, headers=headers)
    assert queued.status_code == 202
    db.expire_all()
    assert db.scalar(select(JobSchedule.job_name).where(JobSchedule.key == "exports.cleanup")) == "exports.cleanup"

    job = db.get(Job, queued.json()["job_id"])
    job.status, job.result = "succeeded", export.run_export(factory, tag_bank.home, job_id=job.id,
                                                            progress=lambda f, m: None, **job.args)
    db.commit()
    url = f"/api/tags/exports/{job.id}/download"
    assert client.get(url, headers=headers).status_code == 200
    assert retention.remove_expired(tag_bank.home, days=7, now=utcnow() + timedelta(days=6)).files == 0
    assert client.get(url, headers=headers).status_code == 200
    assert retention.remove_expired(tag_bank.home, days=7, now=utcnow() + timedelta(days=8)).files == 1
    gone = client.get(url, headers=headers)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "export_file_gone"
