"""The audience engine: no tag set, version swaps under concurrent requests, scope caching."""

from __future__ import annotations

import threading

import pytest

from omniloop.audiences.engine import AudienceEngine, NoTagset
from omniloop.core.db import session_factory
from omniloop.org.auth import Principal
from tests.audiences.bank_data import duckdb_cids, publish_tags, seed_customers, subtree_org_ids
from tests.factories import create_bank

VIP = {"op": "tag", "tag": "vip", "values": ["gold"]}


@pytest.fixture
def bank(db):
    bank = create_bank(db)
    bank.customers = seed_customers(db, bank, n=120)
    return bank


def _principal(bank, user: str, org) -> Principal:
    return Principal(user=bank.users[user], org=org, token_hash="")


def test_no_tag_set_raises_a_clear_error(db, bank, tmp_path):
    engine = AudienceEngine(tmp_path)
    with pytest.raises(NoTagset) as info:
        engine.current()
    assert info.value.code == "no_tagset" and info.value.status == 409
    assert engine.peek() is None
    publish_tags(db, tmp_path)
    assert engine.current().version == 1


def test_swap_keeps_in_flight_requests_on_their_index(db, bank, tmp_path):
    engine = AudienceEngine(tmp_path)
    publish_tags(db, tmp_path, seed=1)
    operator = _principal(bank, "operator", bank.head)
    before = engine.prepare(db, operator, VIP)  # a request that started on version 1
    expected_v1 = len(duckdb_cids(tmp_path, VIP))
    publish_tags(db, tmp_path, seed=2, rebuild=False)
    after = engine.prepare(db, operator, VIP)
    assert (before.loaded.version, after.loaded.version) == (1, 2)
    assert before.estimate(()).total == expected_v1  # the old index still answers for its request
    assert after.estimate(()).total == len(duckdb_cids(tmp_path, VIP))
    assert engine.current() is after.loaded


def test_concurrent_estimates_while_tag_sets_are_published(db, bank, tmp_path, engine):
    publish_tags(db, tmp_path, seed=1)
    expected = {1: len(duckdb_cids(tmp_path, VIP))}
    audience_engine = AudienceEngine(tmp_path)
    factory = session_factory(engine)
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def requests() -> None:
        with factory() as session:
            principal = _principal(bank, "operator", bank.head)
            while not stop.is_set():
                try:
                    query = audience_engine.prepare(session, principal, VIP)
                    results.append((query.loaded.version, query.estimate(()).total))
                except BaseException as exc:  # every failure is the test's business
                    errors.append(exc)
                    return

    threads = [threading.Thread(target=requests) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for seed in (2, 3):
            version = publish_tags(db, tmp_path, seed=seed, rebuild=False)
            expected[version] = len(duckdb_cids(tmp_path, VIP))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    assert results and {v for v, _ in results} <= set(expected)
    assert all(total == expected[version] for version, total in results)
    assert audience_engine.current().version == 3


def test_scopes_are_cached_per_version_org_and_rm(db, bank, tmp_path):
    from omniloop.customers.models import Customer

    engine = AudienceEngine(tmp_path)
    publish_tags(db, tmp_path)
    loaded = engine.current()
    manager = _principal(bank, "manager_a", bank.branch_a)
    scope = engine.scope(db, manager, loaded)
    assert engine.scope(db, manager, loaded) is scope
    assert len(scope) == db.query(Customer).filter(Customer.org_id.in_(subtree_org_ids(db, bank.branch_a))).count()
    rm_a = engine.scope(db, _principal(bank, "rm_a", bank.sub_a), loaded)
    rm_a2 = engine.scope(db, _principal(bank, "rm_a2", bank.sub_a), loaded)
    assert rm_a.isdisjoint(rm_a2) and len(rm_a) == db.query(Customer).filter(
        Customer.rm_id == bank.users["rm_a"].id).count()
    assert rm_a <= scope
