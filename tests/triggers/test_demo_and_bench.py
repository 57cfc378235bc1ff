"""The demo's triggers and holdings, and a short run of the trigger latency benchmark."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from omniloop.bench import triggers as bench
from omniloop.core.audit import SYSTEM
from omniloop.core.clock import Clock
from omniloop.core.db import utcnow
from omniloop.customers.models import CustomerHolding
from omniloop.demo.triggers import DEMO_TRIGGERS, seed_triggers
from omniloop.triggers import keydates
from omniloop.triggers.models import Trigger, TriggerCursor
from tests.factories import create_customer


def test_seed_triggers_creates_the_six_examples_and_holdings_once(db, bank):
    for i in range(30):
        create_customer(db, org=bank.sub_a, wealth_fen=1_000_000 * (i + 1), deposit_fen=500_000)
    db.commit()
    first = seed_triggers(db, actor=SYSTEM)
    db.commit()
    assert first["triggers"] == len(DEMO_TRIGGERS) == 6 and first["holdings"] > 10
    kinds = sorted(db.scalars(select(Trigger.kind).where(Trigger.status == "active")))
    assert kinds == sorted(["event", "first_time", "breakpoint", "key_date", "key_date", "key_date"])
    assert db.get(TriggerCursor, "tail") is not None
    again = seed_triggers(db, actor=SYSTEM)
    db.commit()
    assert again == {"triggers": 0, "holdings": 0}
    # Some wealth product matures three days from some day in the next four months: the trigger fires.
    maturity = db.scalar(select(func.min(CustomerHolding.maturity_date)).where(CustomerHolding.product_type == "wealth"))
    day = maturity - timedelta(days=3)
    decisions = keydates.evaluate_key_dates(db, today=day, now=utcnow(), timezone=Clock().timezone)
    assert any(f.occurrence_key.startswith(maturity.isoformat()) for f in decisions.fired)


def test_trigger_benchmark_agrees_with_batch_sql(tmp_path, monkeypatch):
    monkeypatch.delenv(bench.BENCH_DB_ENV, raising=False)
    result = bench.run(clients=2, seconds=2, batch=20, pause=0.05, customers=50, within_seconds=1,
                       json_path=tmp_path / "r.json", log=lambda *_: None)
    assert (tmp_path / "r.json").exists()
    assert result["results"]["breakpoint"]["firings"] > 0 and result["results"]["event"]["firings"] > 0
    assert result["reference"]["breakpoint_decisions"] > 0
    assert result["ratio"] >= 0.95, result
