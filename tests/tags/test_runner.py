"""Tag runs end to end on generated customers: every source type against an independent computation,
first-match-wins, buckets, lifecycle in the index, failed runs and failed tags, carried tags, history."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyroaring import BitMap
from sqlalchemy import select

from omniloop.audiences.bitmap_index import BitmapIndex
from omniloop.core.audit import SYSTEM
from omniloop.customers import lists as customer_lists
from omniloop.customers.models import Customer
from omniloop.tags import lifecycle, runner
from omniloop.tags.models import TagRun, TagRunResult
from omniloop.tags.tagset import index_path, tag_column, tag_store, tagset_tags
from tests.tags.conftest import NOW, features_by_cid, make_tag, run


def values_of(home: Path, code: str) -> dict[int, object]:
    store = tag_store(home)
    table = pq.read_table(store.path(store.current_version()))
    return dict(zip(table["cid"].to_pylist(), table[tag_column(code)].to_pylist(), strict=True))


def test_rule_tags_match_an_independent_computation(tag_bank, db, factory):
    bank, home = tag_bank.bank, tag_bank.home
    make_tag(db, bank, code="senior", definition={"rule": "age >= 60"})
    # Overlapping cases: first match wins, so nobody can be "rich" (everyone rich is "some" first).
    make_tag(db, bank, code="tier", value_type="enum", definition={"cases": [
        {"value": "some", "rule": "aum_avg_3m >= 5万"},
        {"value": "rich", "rule": "aum_avg_3m >= 50万"},
        {"value": "card", "rule": "has_credit_card"}], "else": {"value": "other"}})
    make_tag(db, bank, code="band", value_type="numeric", definition={"feature": "aum", "buckets": [
        {"value": "low", "min": None, "max": 1000}, {"value": "mid", "min": 1000, "max": 100000.5},
        {"value": "top", "min": 1000000, "max": None}]})
    make_tag(db, bank, code="r_high", value_type="enum", definition={"cases": [
        {"value": "yes", "rule": "risk_level >= 'R4'"}]})

    outcome = run(factory, home)
    assert outcome.status == "succeeded", outcome.error
    features = features_by_cid(db)
    assert set(values_of(home, "senior")) == set(features)

    def tier(f):
        if f["aum_avg_3m_fen"] >= 5_0000_00:
            return "some"
        if f["aum_avg_3m_fen"] >= 50_0000_00:
            return "rich"  # unreachable: first match wins
        return "card" if f["has_credit_card"] else "other"

    def band(f):
        if f["aum_fen"] < 1000_00:
            return "low"
        if 1000_00 <= f["aum_fen"] < 100000_50:
            return "mid"
        return "top" if f["aum_fen"] >= 1000000_00 else None  # the gap has no value

    expected = {
        "senior": {cid: f["age"] is not None and f["age"] >= 60 for cid, f in features.items()},
        "tier": {cid: tier(f) for cid, f in features.items()},
        "band": {cid: band(f) for cid, f in features.items()},
        "r_high": {cid: "yes" if f["risk_level"] in ("R4", "R5") else None for cid, f in features.items()},
    }
    for code, want in expected.items():
        assert values_of(home, code) == want, code
    assert "rich" not in set(expected["tier"].values())
    assert {"some", "card", "other"} <= set(expected["tier"].values())  # the data exercises every branch
    assert None in set(expected["band"].values())

    results = {r.tag_code: r for r in db.scalars(select(TagRunResult).where(TagRunResult.run_id == outcome.id))}
    assert results["senior"].coverage == sum(expected["senior"].values())
    assert results["tier"].distribution == {v: list(expected["tier"].values()).count(v)
                                            for v in set(expected["tier"].values())}
    manifest_tags = tagset_tags(tag_store(home))
    assert manifest_tags["senior"].kind == "boolean" and manifest_tags["band"].kind == "enum"
    assert manifest_tags["band"].values == ("low", "mid", "top")


def test_list_score_and_event_tags(tag_bank, db, factory):
    bank, home, customers = tag_bank.bank, tag_bank.home, tag_bank.customers
    members = [c.id for c in customers[::3]]
    listed = customer_lists.create_list(db, actor=SYSTEM, name="VIP", org_id=bank.head.id, cids=members)
    db.commit()
    make_tag(db, bank, code="on_list", source="list", definition={"list_id": listed.id})
    make_tag(db, bank, code="churn_score", source="model_score", value_type="numeric", definition={
        "model": "churn_v1", "buckets": [{"value": "low", "min": None, "max": 0.3},
                                         {"value": "high", "min": 0.7, "max": None}]})
    make_tag(db, bank, code="churn_hit", source="model_score", definition={"threshold": 0.5})
    scores = {c.id: (i % 10) / 10 for i, c in enumerate(customers) if i % 4}
    path = runner.scores_path(home, "churn_score")
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({"cid": list(scores), "score": list(scores.values())}), path)
    pq.write_table(pa.table({"cid": list(scores), "score": list(scores.values())}),
                   runner.scores_path(home, "churn_hit"))

    make_tag(db, bank, code="bound_card", source="event", category="event",
             definition={"event": "bind_card", "within_days": 7})
    make_tag(db, bank, code="app_buys", source="event", category="event", value_type="numeric", definition={
        "event": "purchase", "event_type": "track", "within_days": 30,
        "filter": {"property": "channel", "op": "=", "value": "app"},
        "buckets": [{"value": "none", "min": None, "max": 1}, {"value": "one", "min": 1, "max": 2},
                    {"value": "many", "min": 2, "max": None}]})
    events = []
    for i, c in enumerate(customers[:40]):
        days_ago = i % 12  # some inside 7 days, some not
        events.append(dict(cid=c.id, name="bind_card", type="track", days=days_ago, properties={}))
        for k in range(i % 4):
            events.append(dict(cid=c.id, name="purchase", type="track", days=k * 9,
                               properties={"channel": "app" if k % 2 == 0 else "branch"}))
    events.append(dict(cid=None, name="bind_card", type="track", days=1, properties={}))  # not identified
    events.append(dict(cid=customers[50].id, name="purchase", type="page", days=1, properties={"channel": "app"}))
    write_events(home, events)

    outcome = run(factory, home)
    assert outcome.status == "succeeded", outcome.error
    everyone = [c.id for c in customers]
    assert values_of(home, "on_list") == {cid: cid in set(members) for cid in everyone}

    def score_bucket(cid):
        s = scores.get(cid)
        return None if s is None else "low" if s < 0.3 else "high" if s >= 0.7 else None

    assert values_of(home, "churn_score") == {cid: score_bucket(cid) for cid in everyone}
    assert values_of(home, "churn_hit") == {cid: cid in scores and scores[cid] >= 0.5 for cid in everyone}

    since7, since30 = NOW - timedelta(days=7), NOW - timedelta(days=30)
    did = {e["cid"] for e in events if e["name"] == "bind_card" and at(e) >= since7}
    assert values_of(home, "bound_card") == {cid: cid in did for cid in everyone}
    counts = {cid: sum(1 for e in events if e["cid"] == cid and e["name"] == "purchase" and e["type"] == "track"
                       and e["properties"].get("channel") == "app" and at(e) >= since30) for cid in everyone}
    bucket = {0: "none", 1: "one"}
    assert values_of(home, "app_buys") == {cid: bucket.get(n, "many") for cid, n in counts.items()}
    assert {"none", "one", "many"} <= set(values_of(home, "app_buys").values())


def at(event: dict) -> datetime:
    return NOW - timedelta(days=event["days"], hours=1)


def write_events(home: Path, events: list[dict]) -> None:
    """Day-partitioned event files in the layout the events engineer exports."""
    by_day: dict[str, list[dict]] = {}
    for i, e in enumerate(events):
        ts = at(e)
        by_day.setdefault(ts.date().isoformat(), []).append({
            "event_id": f"e{i}", "cid": e["cid"], "customer_no": None, "type": e["type"], "name": e["name"],
            "ts": ts, "properties": json.dumps(e["properties"])})
    schema = pa.schema([("event_id", pa.string()), ("cid", pa.int64()), ("customer_no", pa.string()),
                        ("type", pa.string()), ("name", pa.string()), ("ts", pa.timestamp("us", tz="UTC")),
                        ("properties", pa.string())])
    for day, rows in by_day.items():
        folder = runner.store_root(home) / "events" / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "part-0.parquet")


def seed_lifecycle(db, bank):
    make_tag(db, bank, code="lifecycle_stage", category="lifecycle", value_type="enum", system=True,
             definition=lifecycle.DEFAULT_STAGE_DEFINITION)
    make_tag(db, bank, code="lifecycle_status", category="lifecycle", value_type="enum", system=True,
             definition=lifecycle.DEFAULT_STATUS_DEFINITION)


def test_lifecycle_replaces_the_feature_columns_in_the_index_and_rules(tag_bank, db, factory):
    bank, home = tag_bank.bank, tag_bank.home
    seed_lifecycle(db, bank)
    # Stage by AUM alone, so it is easy to check; another tag reads the computed stage.
    make_tag(db, bank, code="big", definition={"rule": "lifecycle_stage = 'retain'"})
    stage = db.scalar(select(TagRun).limit(1))
    assert stage is None
    from omniloop.tags.models import TagDefinition

    definition = db.scalar(select(TagDefinition).where(TagDefinition.code == "lifecycle_stage"))
    definition.definition = {"cases": [{"value": "retain", "rule": "aum >= 50万"}], "else": {"value": "grow"}}
    db.commit()
    outcome = run(factory, home)
    assert outcome.status == "succeeded", outcome.error
    features = features_by_cid(db)
    expected = {cid: "retain" if f["aum_fen"] >= 50_0000_00 else "grow" for cid, f in features.items()}
    assert values_of(home, "lifecycle_stage") == expected
    assert values_of(home, "big") == {cid: v == "retain" for cid, v in expected.items()}

    store = tag_store(home)
    index = BitmapIndex.load(index_path(store, store.current_version()))
    counts = index.count_by("lifecycle_stage", index.universe)
    assert counts == {"retain": list(expected.values()).count("retain"), "grow": list(expected.values()).count("grow")}
    # Written back to the customer rows (the customer list filters and the 360 profile show them).
    db.expire_all()
    stored = dict(db.execute(select(Customer.id, Customer.lifecycle_stage)).all())
    assert stored == expected
    assert set(dict(db.execute(select(Customer.id, Customer.lifecycle_status)).all()).values()) <= set(
        lifecycle.STATUS_LABELS)


def test_a_failed_run_publishes_nothing_and_a_rerun_of_a_finished_run_does_nothing(tag_bank, db, factory,
                                                                                   monkeypatch):
    bank, home = tag_bank.bank, tag_bank.home
    make_tag(db, bank, code="rich", definition={"rule": "aum >= 50万"})
    first = run(factory, home)
    store = tag_store(home)
    version = store.current_version()
    assert first.status == "succeeded" and first.tagset_version == version
    again = run(factory, home, run_id=first.id)
    assert (again.status, store.current_version()) == ("succeeded", version)  # done: not run twice

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(runner.BitmapIndex, "build", broken)
    failed = run(factory, home)
    assert failed.status == "failed" and "disk full" in failed.error
    assert store.current_version() == version  # the previous tag set stays current
    assert db.scalar(select(TagRunResult).where(TagRunResult.run_id == failed.id)) is None
    with pytest.raises(RuntimeError):
        run(factory, home, raise_on_failure=True)


def test_a_failing_tag_keeps_its_previous_values_and_unrequested_tags_are_carried(tag_bank, db, factory):
    bank, home, customers = tag_bank.bank, tag_bank.home, tag_bank.customers
    scored = make_tag(db, bank, code="scored", source="model_score", definition={"threshold": 0.5})
    rich = make_tag(db, bank, code="rich", definition={"rule": "aum >= 50万"})
    path = runner.scores_path(home, "scored")
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({"cid": [c.id for c in customers[:30]], "score": [0.9] * 30}), path)
    first = run(factory, home)
    assert first.status == "succeeded"
    before = values_of(home, "scored")
    assert sum(before.values()) == 30

    path.unlink()  # the model's file is gone: the tag fails, its values stay
    rich.definition = {"rule": "aum >= 1"}
    rich.definition_version += 1
    db.commit()
    second = run(factory, home)
    assert second.status == "partial" and second.tags_failed == 1
    assert values_of(home, "scored") == before
    results = {r.tag_code: r for r in db.scalars(select(TagRunResult).where(TagRunResult.run_id == second.id))}
    assert results["scored"].status == "failed" and "评分" in results["scored"].error
    assert results["rich"].status == "succeeded" and results["rich"].definition_version == 2

    # Only `rich` requested: `scored` is carried over untouched.
    rich.definition = {"rule": "aum >= 100万"}
    db.commit()
    third = run(factory, home, tag_ids=[rich.id])
    assert third.status == "succeeded"
    results = {r.tag_code: r.status for r in db.scalars(select(TagRunResult).where(TagRunResult.run_id == third.id))}
    assert results == {"scored": "carried", "rich": "succeeded"}
    assert values_of(home, "scored") == before
    features = features_by_cid(db)
    assert values_of(home, "rich") == {cid: f["aum_fen"] >= 100_0000_00 for cid, f in features.items()}
    assert scored.id  # still defined


def test_history_records_each_change_once(tag_bank, db, factory):
    bank, home = tag_bank.bank, tag_bank.home
    tag = make_tag(db, bank, code="rich", definition={"rule": "aum >= 50万"})
    run(factory, home)
    first = values_of(home, "rich")
    assert not list(runner.history_dir(home).glob("*.parquet"))  # first values are the tag set itself
    tag.definition = {"rule": "aum >= 5万"}
    db.commit()
    second_run = run(factory, home)
    second = values_of(home, "rich")
    changed = {cid for cid in second if second[cid] != first[cid]}
    assert changed and second_run.changed == len(changed)
    (history,) = runner.history_dir(home).glob("*.parquet")
    rows = pq.read_table(history).to_pylist()
    assert {r["cid"] for r in rows} == changed
    assert all(r["previous"] == "false" and r["value"] == "true" and r["run_id"] == second_run.id for r in rows)
    assert BitMap(changed)  # non-empty and ints
