"""Concurrent grants never drive inventory below zero nor spend beyond the budget (SQLite and PostgreSQL)."""

from __future__ import annotations

import multiprocessing
import threading

from sqlalchemy import func, select

from omniloop.benefits import service
from omniloop.benefits.models import Benefit, BenefitGrant
from omniloop.core.db import make_engine, session_factory
from tests.benefits.factories import create_benefit, create_campaign
from tests.factories import create_bank, create_customer


def _setup(db, n_customers: int, **benefit_fields):
    bank = create_bank(db)
    campaign = create_campaign(db, bank.users["operator"], bank.head)
    customers = [create_customer(db, org=bank.sub_a).id for _ in range(n_customers)]
    db.commit()
    benefit = create_benefit(db, bank.head, **benefit_fields)
    return campaign, customers, benefit


def _assert_consistent(db, benefit_id: int) -> dict:
    state = service.check_consistency(db, benefit_id=benefit_id)
    assert state["inventory_left"] >= 0
    assert state["live_grants"] == state["inventory_total"] - state["inventory_left"]
    assert state["budget_used_fen"] == state["live_cost_fen"]
    if state["budget_fen"] is not None:
        assert state["budget_used_fen"] <= state["budget_fen"]
    return state


def _run_threads(engine, jobs) -> list:
    barrier = threading.Barrier(len(jobs), timeout=60)
    results: list = [None] * len(jobs)
    errors: list = []

    def run(i, fn):
        try:
            with session_factory(engine)() as session:
                barrier.wait()
                results[i] = fn(session)
                session.commit()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return results


def test_many_threads_reserving_one_benefit(db, engine):
    campaign, customers, benefit = _setup(db, 160, inventory_total=50, unit_cost_fen=100)
    chunks = [customers[i::8] for i in range(8)]  # 8 workers × 20 distinct customers, 160 > 50 units

    def job(chunk):
        return lambda s: service.reserve(s, benefit_id=benefit.id, campaign_id=campaign.id, occasion="wave:1",
                                         customer_ids=chunk)

    results = _run_threads(engine, [job(c) for c in chunks])
    assert sum(len(r) for r in results) == 50
    state = _assert_consistent(db, benefit.id)
    assert state["inventory_left"] == 0 and state["live_grants"] == 50


def test_budget_is_never_exceeded_under_concurrency(db, engine):
    campaign, customers, benefit = _setup(db, 80, inventory_total=1_000, unit_cost_fen=700, budget_fen=20_000)

    def job(chunk):
        return lambda s: service.reserve(s, benefit_id=benefit.id, campaign_id=campaign.id, occasion="w",
                                         customer_ids=chunk)

    results = _run_threads(engine, [job(customers[i::6]) for i in range(6)])
    assert sum(len(r) for r in results) == 28  # 20 000 // 700
    state = _assert_consistent(db, benefit.id)
    assert state["budget_used_fen"] == 28 * 700


def test_racing_reruns_of_the_same_chunk_reserve_once(db, engine):
    campaign, customers, benefit = _setup(db, 30, inventory_total=100)

    def job(session):
        return service.reserve(session, benefit_id=benefit.id, campaign_id=campaign.id, occasion="wave:7",
                               customer_ids=customers)

    results = _run_threads(engine, [job] * 4)
    assert all(r == results[0] for r in results) and len(results[0]) == 30
    state = _assert_consistent(db, benefit.id)
    assert state["inventory_left"] == 70
    assert db.scalar(select(func.count()).select_from(BenefitGrant)) == 30


def test_concurrent_releases_give_back_once(db, engine):
    campaign, customers, benefit = _setup(db, 20, inventory_total=20, unit_cost_fen=100, budget_fen=2_000)
    grants = service.reserve(db, benefit_id=benefit.id, campaign_id=campaign.id, occasion="o", customer_ids=customers)
    db.commit()
    ids = list(grants.values())

    def job(session):
        return service.release(session, grant_ids=ids, reason="cancelled")

    results = _run_threads(engine, [job] * 4)
    assert sum(results) == 20
    state = _assert_consistent(db, benefit.id)
    assert (state["inventory_left"], state["budget_used_fen"]) == (20, 0)


def _process_reserve(url: str, benefit_id: int, campaign_id: int, customer_ids: list[int], start, out) -> None:
    engine = make_engine(url)
    with session_factory(engine)() as session:
        start.wait(60)
        granted = service.reserve(session, benefit_id=benefit_id, campaign_id=campaign_id, occasion="proc",
                                  customer_ids=customer_ids)
        session.commit()
    out.put(len(granted))
    engine.dispose()


def test_separate_processes_reserving_one_benefit(db, engine, database_url):
    campaign, customers, benefit = _setup(db, 60, inventory_total=25, unit_cost_fen=10)
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_process_reserve,
                         args=(database_url, benefit.id, campaign.id, customers[i::4], start, out)) for i in range(4)]
    for p in procs:
        p.start()
    start.set()
    counts = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert sum(counts) == 25
    state = _assert_consistent(db, benefit.id)
    assert state["inventory_left"] == 0
    assert db.scalar(select(Benefit.inventory_left).where(Benefit.id == benefit.id)) == 0
