"""The demo bank beyond its customers: tags and a first tag run, behaviour history, triggers, plans.

``seed_domains`` runs after ``seed.seed_demo`` and is idempotent like it: each step adds only what is
missing, so a restarted demo keeps what operators changed. Steps commit one by one, so a demo stopped
half-way resumes where it stopped. The first tag run happens here, synchronously, so that audience
estimates and the lifecycle view work as soon as the console opens; later runs are the daily job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from omniloop.core.audit import SYSTEM
from omniloop.core.db import session_factory

Log = Callable[[str], None]


@dataclass
class DomainsSummary:
    tags_created: int = 0
    tag_run: str | None = None  # status of the first run, None when a tag set existed already
    tagset_version: int | None = None
    events: int = 0
    triggers_created: int = 0
    holdings: int = 0
    plans: dict = field(default_factory=dict)
    elements: dict = field(default_factory=dict)
    contacts: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    campaigns: dict = field(default_factory=dict)
    seconds: float = 0.0


def seed_domains(engine: Engine, *, home: Path, seed: int = 42, log: Log = lambda _msg: None) -> DomainsSummary:
    from omniloop.demo.elements import seed_elements
    from omniloop.demo.events import seed_events
    from omniloop.demo.history import seed_history
    from omniloop.demo.plans import seed_plans
    from omniloop.demo.tags import seed_tags
    from omniloop.demo.triggers import seed_triggers
    from omniloop.events.tasks import declare_schedules as declare_event_schedules
    from omniloop.exports.tasks import declare_schedules as declare_export_schedules
    from omniloop.tags.runner import run_tags
    from omniloop.tags.tagset import tag_store

    started = time.monotonic()
    summary = DomainsSummary()
    factory = session_factory(engine)

    with factory() as session:
        summary.tags_created = len(seed_tags(session, actor=SYSTEM))
        session.commit()
    with factory() as session:
        log("behaviour events 行为事件…")
        events = seed_events(session, home=home, seed=seed)
        summary.events = events.events
        declare_event_schedules(session)
        declare_export_schedules(session)
        session.commit()
    with factory() as session:
        # After the events: trigger cursors start at the newest event, so history does not fire them.
        created = seed_triggers(session, actor=SYSTEM, seed=seed)
        summary.triggers_created, summary.holdings = created["triggers"], created["holdings"]
        session.commit()
    with factory() as session:
        summary.plans = seed_plans(session, actor=SYSTEM, seed=seed)
        session.commit()
    with factory() as session:
        summary.elements = seed_elements(session, actor=SYSTEM)  # benefits, templates, blocked words, rules
        session.commit()
    with factory() as session:
        summary.history = seed_history(session, actor=SYSTEM, seed=seed)  # past campaigns for estimation (C2)
        session.commit()
    with factory() as session:
        from omniloop.demo.contacts import seed_contacts

        summary.contacts = seed_contacts(session, actor=SYSTEM, seed=seed)  # contact policy, DND, opt-outs
        session.commit()

    store = tag_store(home)
    if store.current_version() is None:
        log("first tag run 首次标签跑批…")
        run = run_tags(factory, home, trigger="manual")
        summary.tag_run = run.status
    summary.tagset_version = store.current_version()
    if summary.tagset_version is not None:  # a wave snapshots its audience from the tag set's index
        from omniloop.demo.campaigns import seed_campaigns

        log("running campaign 执行中的活动…")
        summary.campaigns = seed_campaigns(factory, home=home)
    summary.seconds = round(time.monotonic() - started, 2)
    return summary


__all__ = ["DomainsSummary", "seed_domains"]
