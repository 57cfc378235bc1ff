"""Exactly once: re-delivered events, a tail restarted from an old cursor, a breakpoint timer that outlives
its worker, and the embedded bus path deciding within a second."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import select

import omniloop.triggers.tasks  # noqa: F401  (registers the deadline job with the job registry)
from omniloop.core.db import session_factory, utcnow
from omniloop.events.models import Event
from omniloop.jobs.models import Job
from omniloop.jobs.worker import Worker
from omniloop.triggers import bus
from omniloop.triggers.dispatch import TriggerRunner
from omniloop.triggers.engine import DEADLINE_JOB, EventView, save_cursor
from omniloop.triggers.models import TriggerState
from tests.triggers.conftest import ago, define, fired_for, firings, send, track


def test_redelivery_and_a_tail_replayed_from_an_old_cursor_fire_nobody_twice(client, db, engine, world, operator,
                                                                              runner):
    a1, a2 = world["customers"]["a1"], world["customers"]["a2"]
    event_trigger = define(client, operator, "event", {"event": "登录"})
    first = define(client, operator, "first_time", {"event": "开通手机银行"})
    sequence = define(client, operator, "sequence", {"event": "浏览", "then_event": "购买", "within_seconds": 60})
    send(client, track(a1.customer_no, "登录", message_id="m-1"), track(a2.customer_no, "登录", message_id="m-2"),
         track(a1.customer_no, "开通手机银行"), track(a1.customer_no, "浏览"), track(a1.customer_no, "购买"))
    send(client, track(a1.customer_no, "登录", message_id="m-1"))  # an SDK retry: the same message
    runner.tail_once()
    before = [(f.trigger_id, f.customer_id, f.occurrence_key) for f in firings(db)]
    assert sorted(c for t, c, _ in before if t == event_trigger["id"]) == sorted([a1.id, a2.id])
    assert len(before) == 4

    # The same events delivered again (a stream entry claimed twice) and a tail restarted from cursor 0.
    with session_factory(engine)() as session:
        events = [EventView.of(e) for e in session.scalars(select(Event))]
    runner.decide(events)
    with session_factory(engine)() as session:
        save_cursor(session, "tail", last_event_id=0, now=utcnow())
        session.commit()
    restarted = TriggerRunner(engine, poll_seconds=0.05)
    restarted.tail_once()
    restarted.tail_once()
    assert [(f.trigger_id, f.customer_id, f.occurrence_key) for f in firings(db)] == before
    assert fired_for(db, first["id"]) == [a1.id] and fired_for(db, sequence["id"]) == [a1.id]


def test_a_breakpoint_timer_survives_a_worker_restart_and_fires_once_at_the_deadline(client, db, engine, world,
                                                                                      operator, runner):
    a1 = world["customers"]["a1"]
    trigger = define(client, operator, "breakpoint", {"event": "开始开户", "then_event": "开户完成",
                                                      "within_seconds": 2})
    send(client, track(a1.customer_no, "开始开户"))
    runner.tail_once()  # opens the breakpoint and enqueues its deadline job; no trigger worker from here on
    db.rollback()
    state = db.scalars(select(TriggerState)).one()
    job = db.scalars(select(Job).where(Job.name == DEADLINE_JOB)).one()
    assert job.run_at >= state.deadline_at - timedelta(milliseconds=1)

    stop_first = threading.Event()
    first = Worker(engine, poll_seconds=0.1, tick_schedules=False, stop_event=stop_first)
    thread = threading.Thread(target=first.run, daemon=True)
    thread.start()
    time.sleep(0.5)
    stop_first.set()  # the worker stops before the deadline
    thread.join(10)
    assert firings(db, trigger["id"]) == []

    stop_second = threading.Event()
    second = Worker(engine, poll_seconds=0.1, tick_schedules=False, stop_event=stop_second)
    thread = threading.Thread(target=second.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not firings(db, trigger["id"]) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop_second.set()
        thread.join(10)
    (firing,) = firings(db, trigger["id"])
    assert firing.customer_id == a1.id and firing.fired_at >= state.deadline_at
    db.rollback()
    assert db.get(Job, job.id, populate_existing=True).status == "succeeded"
    assert runner.sweep() == 0  # the sweep finds it settled
    assert len(firings(db, trigger["id"])) == 1


def test_b_before_the_deadline_cancels_and_the_timer_then_finds_nothing(client, db, engine, world, operator, runner):
    a1 = world["customers"]["a1"]
    trigger = define(client, operator, "breakpoint", {"event": "开始开户", "then_event": "开户完成",
                                                      "within_seconds": 1})
    send(client, track(a1.customer_no, "开始开户"))
    runner.tail_once()
    send(client, track(a1.customer_no, "开户完成"))
    runner.tail_once()
    time.sleep(1.5)
    worker = Worker(engine, poll_seconds=0.05, tick_schedules=False, once=True)
    worker.run()
    db.rollback()
    job = db.scalars(select(Job).where(Job.name == DEADLINE_JOB)).one()
    assert job.status == "succeeded" and job.result["outcome"] == "done"
    assert firings(db, trigger["id"]) == []


def test_embedded_bus_decides_within_a_second_and_publishes_firings(client, db, engine, world, operator):
    a1 = world["customers"]["a1"]
    trigger = define(client, operator, "event", {"event": "大额转出", "filters": [
        {"property": "amount_fen", "op": "gt", "value": 5_000_000, "type": "number"}]})
    received: list[bus.Fired] = []
    unsubscribe = bus.subscribe(received.extend)
    stop = threading.Event()
    runner = TriggerRunner(engine, poll_seconds=5.0, stop_event=stop)  # the tail is slow: only the bus is fast
    thread = threading.Thread(target=runner.run_embedded, daemon=True)
    thread.start()
    try:
        time.sleep(0.3)
        sent = time.monotonic()
        send(client, track(a1.customer_no, "大额转出", {"amount_fen": 8_000_000}))
        while not received and time.monotonic() - sent < 5:
            time.sleep(0.01)
        elapsed = time.monotonic() - sent
    finally:
        stop.set()
        thread.join(10)
        unsubscribe()
    assert received and received[0].trigger_id == trigger["id"] and received[0].customer_id == a1.id
    assert elapsed < 1.0, elapsed
    assert len(firings(db, trigger["id"])) == 1


def test_events_stitched_by_a_later_identify_are_decided_once(client, db, engine, world, operator, runner):
    a1, a2 = world["customers"]["a1"], world["customers"]["a2"]
    first = define(client, operator, "first_time", {"event": "绑卡完成"}, name="首次绑卡")
    breakpoint = define(client, operator, "breakpoint", {"event": "点击绑卡", "then_event": "绑卡完成",
                                                         "within_seconds": 60, "match_key": "flow_id"})
    anonymous = [
        {**track("", "绑卡完成", {"flow_id": "f0"}, ts=ago(minutes=20)), "userId": None, "anonymousId": "dev-1"},
        {**track("", "点击绑卡", {"flow_id": "f1"}, ts=ago(minutes=10)), "userId": None, "anonymousId": "dev-1"},
        {**track("", "点击绑卡", {"flow_id": "f9"}, ts=ago(minutes=10)), "userId": None, "anonymousId": "dev-2"},
    ]
    send(client, *anonymous)
    runner.tail_once()
    assert firings(db) == []  # no customer yet: nothing to decide

    identify = {"type": "identify", "userId": a1.customer_no, "anonymousId": "dev-1", "messageId": "id-1"}
    send(client, identify)
    runner.tail_once()
    db.rollback()
    stitched = {e.id for e in db.scalars(select(Event).where(Event.anonymous_id == "dev-1"))}
    (firing,) = firings(db, first["id"])
    assert firing.customer_id == a1.id and firing.occurrence_key == "first" and set(firing.event_ids) <= stitched
    # The stitched A's deadline has long passed: its timer settles it at once, and only once.
    assert runner.sweep() == 1 and runner.sweep() == 0
    assert [(f.customer_id, f.occurrence_key) for f in firings(db, breakpoint["id"])] == [(a1.id, "k:f1")]

    # The identify delivered again, a tail replayed from the start, an SDK retry: nothing fires twice.
    send(client, identify)
    with session_factory(engine)() as session:
        events = [EventView.of(e) for e in session.scalars(select(Event).order_by(Event.id))]
    runner.decide(events)
    with session_factory(engine)() as session:
        save_cursor(session, "tail", last_event_id=0, now=utcnow())
        session.commit()
    TriggerRunner(engine, poll_seconds=0.05).tail_once()
    runner.sweep()
    # Binding a card again as a known customer is not a first time; dev-2 stays anonymous.
    send(client, track(a1.customer_no, "绑卡完成", {"flow_id": "f2"}))
    runner.tail_once()
    assert len(firings(db, first["id"])) == 1 and len(firings(db, breakpoint["id"])) == 1
    assert {f.customer_id for f in firings(db)} == {a1.id} and a2.id not in fired_for(db, first["id"])
