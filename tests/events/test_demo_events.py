"""The demo bank's event history: sources with the documented key, plausible events, Parquet export."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pyarrow.dataset as ds
from sqlalchemy import func, select

from omniloop.customers.models import Customer
from omniloop.demo.events import APP_WRITE_KEY, seed_events
from omniloop.demo.seed import seed_demo
from omniloop.events.models import Event, EventSource, Identity
from omniloop.events.service import key_digest
from tests.events.test_ingest import post


def test_demo_events(db, tmp_path, client):
    seed_demo(db, customers=400, as_of=date(2026, 10, 1))
    summary = seed_events(db, home=tmp_path, years=1, as_of=date(2026, 10, 31))
    assert summary.created and summary.events > 1000
    again = seed_events(db, home=tmp_path, years=1, as_of=date(2026, 10, 31))
    assert not again.created
    app = db.scalar(select(EventSource).where(EventSource.key_hash == key_digest(APP_WRITE_KEY)))
    assert app.kind == "app" and app.enabled
    assert db.scalar(select(func.count()).select_from(Event)) == summary.events

    names = Counter(db.scalars(select(Event.name)).all())
    for expected in ("登录", "首页", "转账", "工资到账"):
        assert names[expected] > 0, expected
    # Users are customer numbers, and nobody acts before opening an account or after the as-of date.
    first = dict(db.execute(select(Customer.id, Customer.first_account_date)).all())
    numbers = dict(db.execute(select(Customer.id, Customer.customer_no)).all())
    for event in db.scalars(select(Event).limit(3000)):
        assert event.user_id == numbers[event.customer_id]
        assert date(2025, 10, 30) <= event.day <= date(2026, 10, 31)
        assert event.day >= first[event.customer_id] - timedelta(days=1)
    # Card binding breakpoints: some flows start and never complete.
    flows = Counter()
    for name, props in db.execute(select(Event.name, Event.properties).where(Event.name.in_(["绑卡开始", "绑卡完成"]))):
        flows[props["flow_id"]] += 1 if name == "绑卡开始" else 10
    assert any(v == 1 for v in flows.values()) or not flows
    # Hours follow a bank app's rhythm (Beijing time = UTC+8): evenings busier than 3-5 am.
    hours = Counter((e.hour + 8) % 24 for e in db.scalars(select(Event.ts).where(Event.name == "登录")))
    assert hours[20] + hours[21] > 3 * (hours[3] + hours[4])
    assert db.scalar(select(func.count()).select_from(Identity)) > 0

    dataset = ds.dataset(tmp_path / "store" / "events", format="parquet", partitioning="hive")
    assert dataset.count_rows() == summary.events
    # The documented write key works with the SDK's protocol.
    someone = db.scalar(select(Customer.customer_no).limit(1))
    assert post(client, "/v1/track", {"userId": someone, "event": "登录"}, key=APP_WRITE_KEY).status_code == 200
