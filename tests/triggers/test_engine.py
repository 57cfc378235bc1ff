"""Each trigger kind fires for the right customers and not the others; events go through ``/v1/batch`` and
the table tail decides, as a separate trigger worker would."""

from __future__ import annotations

import time

from sqlalchemy import select

from omniloop.jobs.models import Job
from omniloop.triggers.engine import DEADLINE_JOB
from omniloop.triggers.models import TriggerState
from tests.triggers.conftest import ago, define, fired_for, firings, send, track


def test_event_trigger_with_number_and_string_filters(client, db, world, operator, runner):
    a1, a2, b1 = (world["customers"][k] for k in ("a1", "a2", "b1"))
    trigger = define(client, operator, "event", {"event": "理财购买", "filters": [
        {"property": "amount", "op": "gte", "value": 50000, "type": "number"},
        {"property": "channel", "op": "in", "value": ["app", "wechat"], "type": "string"}]})
    send(client,
         track(a1.customer_no, "理财购买", {"amount": 60000, "channel": "app"}),
         track(a2.customer_no, "理财购买", {"amount": 100, "channel": "app"}),
         track(b1.customer_no, "理财购买", {"amount": "70000", "channel": "web"}),
         track(b1.customer_no, "登录", {"amount": 90000, "channel": "app"}))
    runner.tail_once()
    assert fired_for(db, trigger["id"]) == [a1.id]
    (firing,) = firings(db, trigger["id"])
    assert firing.occurrence_key.startswith("m:") and len(firing.event_ids) == 1
    assert firing.latency_ms is not None and firing.accepted_at is not None

    # A numeric string is coerced; b1 now sends from WeChat and fires as well.
    send(client, track(b1.customer_no, "理财购买", {"amount": "70000.5", "channel": "wechat"}))
    runner.tail_once()
    assert fired_for(db, trigger["id"]) == [a1.id, b1.id]


def test_date_and_contains_and_exists_filters(client, db, world, operator, runner):
    a1, a2, b1 = (world["customers"][k] for k in ("a1", "a2", "b1"))
    trigger = define(client, operator, "event", {"event": "浏览产品", "filters": [
        {"property": "product.maturity", "op": "between", "value": ["2026-12-01", "2026-12-31"], "type": "date"},
        {"property": "title", "op": "contains", "value": "稳健", "type": "string"},
        {"property": "coupon", "op": "exists", "value": False}]})
    send(client,
         track(a1.customer_no, "浏览产品", {"product": {"maturity": "2026-12-15T10:00:00+08:00"}, "title": "稳健理财30天"}),
         track(a2.customer_no, "浏览产品", {"product": {"maturity": "2027-01-02"}, "title": "稳健理财"}),
         track(b1.customer_no, "浏览产品", {"product": {"maturity": "2026-12-02"}, "title": "稳健", "coupon": "C1"}))
    runner.tail_once()
    assert fired_for(db, trigger["id"]) == [a1.id]


def test_first_time_ever_and_first_in_n_days(client, db, world, operator, runner):
    a1, a2, b1 = (world["customers"][k] for k in ("a1", "a2", "b1"))
    # History before the triggers exist: a1 bound a card long ago; b1 logged in 10 days ago, a1 2 days ago.
    send(client, track(a1.customer_no, "绑卡完成", ts=ago(days=300)),
         track(b1.customer_no, "登录", ts=ago(days=10)), track(a1.customer_no, "登录", ts=ago(days=2)))
    ever = define(client, operator, "first_time", {"event": "绑卡完成"}, name="首次绑卡")
    window = define(client, operator, "first_time", {"event": "登录", "window_days": 7}, name="7天内首次登录")
    send(client, track(a1.customer_no, "绑卡完成"), track(a2.customer_no, "绑卡完成"),
         track(b1.customer_no, "登录"), track(a1.customer_no, "登录"))
    runner.tail_once()
    assert fired_for(db, ever["id"]) == [a2.id]
    assert fired_for(db, window["id"]) == [b1.id]
    assert firings(db, ever["id"])[0].occurrence_key == "first"

    send(client, track(a2.customer_no, "绑卡完成"), track(b1.customer_no, "登录"))
    runner.tail_once()
    assert fired_for(db, ever["id"]) == [a2.id]  # first ever fires once
    assert fired_for(db, window["id"]) == [b1.id]  # b1 logged in today already


def test_breakpoint_fires_only_without_b_on_the_same_flow(client, db, world, operator, runner):
    a1, a2, b1 = (world["customers"][k] for k in ("a1", "a2", "b1"))
    trigger = define(client, operator, "breakpoint", {
        "event": "点击绑卡", "then_event": "绑卡完成", "within_seconds": 1, "match_key": "flow_id"})
    send(client,
         track(a1.customer_no, "点击绑卡", {"flow_id": "f1"}), track(a1.customer_no, "绑卡完成", {"flow_id": "f1"}),
         track(a2.customer_no, "点击绑卡", {"flow_id": "f2"}), track(a2.customer_no, "绑卡完成", {"flow_id": "other"}),
         track(b1.customer_no, "点击绑卡", {"flow_id": "f4"}), track(b1.customer_no, "点击绑卡", {"flow_id": "f4"}))
    runner.tail_once()
    db.rollback()
    states = {s.customer_id: s.status for s in db.scalars(select(TriggerState))}
    assert states == {a1.id: "closed", a2.id: "open", b1.id: "open"}
    jobs = db.scalars(select(Job).where(Job.name == DEADLINE_JOB)).all()
    assert len(jobs) == 3 and all(j.idempotency_key.startswith(DEADLINE_JOB) for j in jobs)
    assert runner.sweep() == 0  # not due yet
    time.sleep(1.5)
    assert runner.sweep() == 2
    assert runner.sweep() == 0
    assert fired_for(db, trigger["id"]) == sorted([a2.id, b1.id])
    assert {f.occurrence_key for f in firings(db, trigger["id"])} == {"k:f2", "k:f4"}

    # The same flow again does not open a second breakpoint; a new flow does.
    send(client, track(b1.customer_no, "点击绑卡", {"flow_id": "f4"}), track(b1.customer_no, "点击绑卡", {"flow_id": "f5"}))
    runner.tail_once()
    time.sleep(1.5)
    runner.sweep()
    assert sorted(f.occurrence_key for f in firings(db, trigger["id"]) if f.customer_id == b1.id) == ["k:f4", "k:f5"]


def test_sequence_fires_for_a_then_b_within_t_in_either_processing_order(client, db, world, operator, runner):
    a1, a2, b1 = (world["customers"][k] for k in ("a1", "a2", "b1"))
    trigger = define(client, operator, "sequence", {
        "event": "浏览基金", "then_event": "购买基金", "within_seconds": 60, "match_key": "fund",
        "then_filters": [{"property": "amount", "op": "gt", "value": 0, "type": "number"}]})
    send(client,
         track(a1.customer_no, "浏览基金", {"fund": "F1"}), track(a1.customer_no, "购买基金", {"fund": "F1", "amount": 5}),
         track(a2.customer_no, "购买基金", {"fund": "F2", "amount": 5}),
         track(b1.customer_no, "浏览基金", {"fund": "F3"}), track(b1.customer_no, "购买基金", {"fund": "F9", "amount": 5}),
         # B stored before A (a smaller id), A earlier in time: still a sequence.
         track(a2.customer_no, "购买基金", {"fund": "F7", "amount": 9}, ts=ago(seconds=5)),
         track(a2.customer_no, "浏览基金", {"fund": "F7"}, ts=ago(seconds=20)))
    runner.tail_once()
    assert fired_for(db, trigger["id"]) == sorted([a1.id, a2.id])
    by_customer = {f.customer_id: f for f in firings(db, trigger["id"])}
    assert len(by_customer[a1.id].event_ids) == 2 and by_customer[a2.id].occurrence_key == "k:F7"
    # Too late: B more than T after A.
    send(client, track(b1.customer_no, "浏览基金", {"fund": "F5"}, ts=ago(seconds=200)),
         track(b1.customer_no, "购买基金", {"fund": "F5", "amount": 1}))
    runner.tail_once()
    assert b1.id not in fired_for(db, trigger["id"])


def test_paused_trigger_does_not_fire_and_branch_trigger_only_fires_in_its_subtree(client, db, world, operator,
                                                                                   runner, bank):
    a1, b1 = world["customers"]["a1"], world["customers"]["b1"]
    paused = define(client, operator, "event", {"event": "登录"}, name="暂停的")
    assert client.post(f"/api/triggers/{paused['id']}/pause", headers=operator).json()["status"] == "paused"
    branch = define(client, operator, "event", {"event": "登录"}, name="杭州分行登录",
                    owner_org_id=bank.branch_a.id)
    send(client, track(a1.customer_no, "登录"), track(b1.customer_no, "登录"))
    runner.tail_once()
    assert fired_for(db, paused["id"]) == []
    assert fired_for(db, branch["id"]) == [a1.id]
