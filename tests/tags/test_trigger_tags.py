"""Trigger firings as tag values (B3): "fired trigger T within N days" and "how often", computed by the tag
run from trigger_firings and checked against an independent count."""

from __future__ import annotations

from datetime import timedelta

from omniloop.tags import definitions as defs
from omniloop.tags.tagset import tag_store, tagset_tags
from omniloop.triggers.models import Trigger, TriggerFiring
from tests.tags.conftest import NOW, make_tag, run
from tests.tags.test_runner import values_of


def test_definition_of_a_trigger_fired_tag_is_checked():
    ok = defs.check_definition(source="event", value_type="boolean", definition={"trigger_id": 3, "within_days": 7},
                               trigger_exists=lambda i: i == 3)
    assert ok.ok and ok.spec == defs.TriggerFiredTag(3, 7) and ok.kind == "boolean"
    bad = defs.check_definition(source="event", value_type="numeric",
                                definition={"trigger_id": 4, "within_days": 0, "event": "x", "buckets": []},
                                trigger_exists=lambda i: i == 3)
    assert {p.path for p in bad.problems} >= {"definition.trigger_id", "definition.within_days", "definition.event",
                                              "definition.buckets"}
    assert defs.check_definition(source="event", value_type="boolean",
                                 definition={"trigger_id": True, "within_days": 7}).problems[0].path \
        == "definition.trigger_id"


def test_fired_within_n_days_and_firing_count_buckets(tag_bank, db, factory):
    bank, home, customers = tag_bank.bank, tag_bank.home, tag_bank.customers
    trigger = Trigger(name="首次绑卡", kind="first_time", definition={"event": "绑卡完成"}, status="active",
                      owner_org_id=bank.head.id)
    other = Trigger(name="登录", kind="event", definition={"event": "登录"}, status="active", owner_org_id=bank.head.id)
    db.add_all([trigger, other])
    db.flush()
    fired: list[tuple[int, int, int]] = []  # (trigger, customer, days ago)
    for i, c in enumerate(customers[:30]):
        for k in range(i % 4):
            fired.append((trigger.id, c.id, (i + 5 * k) % 20))
    fired += [(other.id, c.id, 1) for c in customers[30:40]]
    fired.append((trigger.id, customers[45].id, -1))  # after the run's "now": not counted
    for n, (tid, cid, days) in enumerate(fired):
        db.add(TriggerFiring(trigger_id=tid, customer_id=cid, occurrence_key=f"m:{n}", event_ids=[n],
                             fired_at=NOW - timedelta(days=days, minutes=1)))
    db.commit()
    make_tag(db, bank, code="bound_recently", source="event", category="event",
             definition={"trigger_id": trigger.id, "within_days": 7})
    make_tag(db, bank, code="bind_count", source="event", category="event", value_type="numeric", definition={
        "trigger_id": trigger.id, "within_days": 14,
        "buckets": [{"value": "none", "min": None, "max": 1}, {"value": "one", "min": 1, "max": 2},
                    {"value": "many", "min": 2, "max": None}]})

    outcome = run(factory, home)
    assert outcome.status == "succeeded", outcome.error
    everyone = [c.id for c in customers]

    def count(cid: int, days: int) -> int:
        return sum(1 for t, c, d in fired if t == trigger.id and c == cid and 0 <= d < days)

    assert values_of(home, "bound_recently") == {cid: count(cid, 7) > 0 for cid in everyone}
    names = {0: "none", 1: "one"}
    assert values_of(home, "bind_count") == {cid: names.get(count(cid, 14), "many") for cid in everyone}
    assert {"none", "one", "many"} <= set(values_of(home, "bind_count").values())
    assert not values_of(home, "bound_recently")[customers[45].id]
    tags = tagset_tags(tag_store(home))
    assert tags["bound_recently"].kind == "boolean" and tags["bind_count"].values == ("none", "one", "many")


def test_a_missing_trigger_fails_only_its_tag(tag_bank, db, factory):
    bank, home = tag_bank.bank, tag_bank.home
    doomed = Trigger(name="已删除", kind="event", definition={"event": "登录"}, status="active", owner_org_id=bank.head.id)
    db.add(doomed)
    db.commit()
    make_tag(db, bank, code="gone", source="event", category="event", definition={"trigger_id": doomed.id,
                                                                                   "within_days": 7})
    db.delete(doomed)  # deleted after the tag was saved (saving checks that the trigger exists)
    db.commit()
    make_tag(db, bank, code="senior", definition={"rule": "age >= 60"})
    outcome = run(factory, home)
    assert outcome.status == "partial"
    assert set(values_of(home, "senior")) == {c.id for c in tag_bank.customers}
