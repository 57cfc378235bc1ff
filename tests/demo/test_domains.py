"""The demo bank's domains: tags with a first run, events, triggers and plans, seeded once."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from omniloop.demo.domains import seed_domains
from omniloop.demo.layout import DEMO_PASSWORD
from omniloop.demo.seed import seed_demo
from omniloop.events.models import Event, EventSource
from omniloop.tags.models import TagDefinition
from omniloop.tags.tagset import tag_store, tagset_tags
from omniloop.triggers.models import Trigger
from tests.factories import login_headers


def test_seed_domains_fills_every_domain_once(db, engine, client, settings):
    seed_demo(db, customers=400, as_of=date(2026, 10, 1))
    db.commit()
    first = seed_domains(engine, home=settings.home)

    assert first.tags_created == db.scalar(select(func.count()).select_from(TagDefinition)) >= 10
    assert first.tag_run == "succeeded" and first.tagset_version == tag_store(settings.home).current_version() == 1
    assert {"lifecycle_stage", "lifecycle_status"} <= set(tagset_tags(tag_store(settings.home)))
    assert first.events == db.scalar(select(func.count()).select_from(Event)) > 400
    assert db.scalar(select(func.count()).select_from(EventSource)) >= 1
    assert list((settings.home / "store" / "events").glob("date=*/*.parquet"))
    assert first.triggers_created == db.scalar(select(func.count()).select_from(Trigger)) > 0
    assert first.plans.get("created") is True

    again = seed_domains(engine, home=settings.home)
    assert (again.tags_created, again.events, again.triggers_created, again.tag_run) == (0, 0, 0, None)
    assert again.tagset_version == 1 and again.plans.get("created") is False

    # The console works at once: a branch manager's estimate counts only their branch's customers.
    manager = login_headers(client, "manager", DEMO_PASSWORD)
    operator = login_headers(client, "operator", DEMO_PASSWORD)
    everyone = {"op": "range", "feature": "aum", "min": "0"}
    answer = client.post("/api/audiences/estimate", json={"expression": everyone}, headers=manager)
    assert answer.status_code == 200, answer.text
    mine = answer.json()
    bank = client.post("/api/audiences/estimate", json={"expression": everyone}, headers=operator).json()
    assert 0 < mine["universe"] < bank["universe"] == 400
    assert [row["label_zh"] for row in mine["breakdown"]["branch"]] == ["杭州分行"]
