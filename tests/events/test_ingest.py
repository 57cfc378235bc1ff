"""Raw HTTP against /v1: what is accepted, what is rejected (with nothing half-written), dedupe, clock skew."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from omniloop.core.clock import Clock
from omniloop.events import bus
from omniloop.events.models import Event, EventMessageId
from tests.events.conftest import APP_KEY, basic
from tests.factories import login_headers

JSON = {"Content-Type": "application/json"}


def post(client, path: str, body, *, key: str | None = APP_KEY, headers: dict | None = None, raw: bytes | None = None):
    content = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    return client.post(path, content=content, headers={**JSON, **(basic(key) if key else {}), **(headers or {})})


def count(db, model=Event) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model))


def events(db) -> list[Event]:
    db.rollback()
    return list(db.scalars(select(Event).order_by(Event.id)))


class FixedClock(Clock):
    def __init__(self, at: datetime) -> None:
        super().__init__()
        self.at = at

    def now(self) -> datetime:
        return self.at


def test_track_with_basic_auth_is_stored_for_the_customer(client, db, world):
    a1 = world["customers"]["a1"]
    r = post(client, "/v1/track", {"userId": a1.customer_no, "event": "登录", "messageId": "m-1",
                                   "properties": {"channel": "app", "amount_fen": 120}, "context": {"ip": "10.0.0.1"}})
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True}
    (e,) = events(db)
    assert (e.type, e.name, e.customer_id, e.user_id, e.message_id) == ("track", "登录", a1.id, a1.customer_no, "m-1")
    assert e.properties == {"channel": "app", "amount_fen": 120} and e.context == {"ip": "10.0.0.1"}
    assert e.source_id == world["app"].id and e.day == e.ts.date()


def test_write_key_in_body_and_every_single_message_endpoint(client, db, world):
    cno = world["customers"]["a1"].customer_no
    bodies = {
        "identify": {"userId": cno, "traits": {"nickname": "小张"}},
        "page": {"userId": cno, "name": "理财产品列表", "category": "财富", "properties": {"url": "/wealth"}},
        "screen": {"userId": cno, "name": "首页"},
        "group": {"userId": cno, "groupId": "family-1", "traits": {"size": 3}},
        "alias": {"userId": cno, "previousId": "device-77"},
        "track": {"anonymousId": "anon-x", "event": "浏览"},
    }
    for kind, body in bodies.items():
        r = post(client, f"/v1/{kind}", {**body, "writeKey": APP_KEY}, key=None)
        assert r.status_code == 200, (kind, r.text)
    stored = {e.type: e for e in events(db)}
    assert set(stored) == set(bodies)
    assert stored["identify"].properties == {"nickname": "小张"}
    assert stored["page"].name == "理财产品列表" and stored["page"].properties["category"] == "财富"
    assert stored["group"].name == "family-1" and stored["group"].properties == {"size": 3}
    assert stored["alias"].properties == {"previousId": "device-77"}
    assert stored["track"].customer_id is None


def test_malformed_requests_are_rejected_and_nothing_is_written(client, db, world):
    cno = world["customers"]["a1"].customer_no
    cases = [
        (post(client, "/v1/track", None, raw=b'{"userId": "x", "event": '), 400, "invalid_body"),
        (post(client, "/v1/track", None, raw=b"[1, 2]"), 400, "invalid_body"),
        (post(client, "/v1/track", {"event": "登录"}), 400, "missing_id"),
        (post(client, "/v1/track", {"userId": cno}), 400, "missing_field"),
        (post(client, "/v1/track", {"userId": cno, "event": "x", "timestamp": "yesterday"}), 400, "invalid_message"),
        (post(client, "/v1/track", {"userId": cno, "event": "x", "properties": [1]}), 400, "invalid_message"),
        (post(client, "/v1/alias", {"userId": cno}), 400, "missing_id"),
        (post(client, "/v1/batch", {"messages": []}), 400, "missing_field"),
        (post(client, "/v1/track", {"userId": cno, "event": "x", "properties": {"blob": "x" * 33_000}}), 400,
         "payload_too_large"),
        (post(client, "/v1/batch", {"batch": [{"type": "track", "userId": cno, "event": "x",
                                               "properties": {"blob": "y" * 30_000}}] * 20}), 400,
         "payload_too_large"),
        (post(client, "/v1/track", {"userId": cno, "event": "x"}, key="wrong-key"), 401, "invalid_write_key"),
        (post(client, "/v1/track", {"userId": cno, "event": "x"}, key=None), 401, "invalid_write_key"),
        (post(client, "/v1/track", None, raw=b"\x1f\x8b not gzip", headers={"Content-Encoding": "gzip"}), 400,
         "invalid_gzip"),
        (post(client, "/v1/track", None, raw=gzip.compress(b'{"userId": "a\\u0000", "event": "x"}'),
              headers={"Content-Encoding": "gzip"}), 422, "invalid_character"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        payload = response.json()
        body = payload["error"]
        assert body["code"] == code and body["message_zh"] and body["message_en"]
        # Segment clients read code and message at the top level.
        assert payload["success"] is False and payload["code"] == code and payload["message"] == body["message"]
    assert count(db) == 0 and count(db, EventMessageId) == 0


def test_v1_errors_have_top_level_code_and_message_in_the_request_language(client, db, world):
    r = post(client, "/v1/track", {"userId": "x", "event": "y"}, key="nope", headers={"Accept-Language": "en"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert r.json()["code"] == "invalid_write_key" and r.json()["message"] == "Invalid write key"
    r = post(client, "/v1/batch", {"batch": [{"type": "track", "event": "e"}]})
    assert r.json()["message"] == r.json()["error"]["message_zh"] and r.json()["message"].startswith("第 0 条消息")
    # A plain (not gzip) body with an escaped NUL reaches /v1 unbuffered and is still refused.
    r = post(client, "/v1/track", None, raw=b'{"userId": "a\\u0000", "event": "x"}')
    assert r.status_code == 422 and r.json()["code"] == "invalid_character"
    assert r.json()["error"]["details"] == [{"loc": ["body", "userId"], "type": "invalid_character"}]
    r = client.post("/v1/track?x=%00", content=b"{}", headers={**JSON, **basic(APP_KEY)})
    assert r.status_code == 422 and r.json()["code"] == "invalid_character"
    # The rest of the API keeps the one error shape.
    r = client.get("/api/customers", headers={"Accept-Language": "en"})
    assert r.status_code == 401 and "code" not in r.json() and r.json()["error"]["code"] == "unauthenticated"
    assert count(db) == 0


def test_one_bad_message_rejects_the_whole_batch_with_its_index(client, db, world):
    cno = world["customers"]["a1"].customer_no
    batch = [{"type": "track", "userId": cno, "event": f"e{i}", "messageId": f"b-{i}"} for i in range(5)]
    bad = [*batch[:3], {"type": "track", "event": "no ids", "messageId": "b-bad"}, *batch[3:]]
    r = post(client, "/v1/batch", {"batch": bad})
    assert r.status_code == 400
    assert r.json()["error"]["details"] == {"index": 3, "field": "userId"}
    oversized = [*batch[:1], {"type": "track", "userId": cno, "event": "big", "properties": {"b": "z" * 40_000}}]
    r = post(client, "/v1/batch", {"batch": oversized})
    assert r.status_code == 400 and r.json()["error"]["details"]["index"] == 1
    assert count(db) == 0 and count(db, EventMessageId) == 0
    # The good messages sent again are all stored: nothing of the rejected requests was kept.
    assert post(client, "/v1/batch", {"batch": batch}).status_code == 200
    assert [e.name for e in events(db)] == [f"e{i}" for i in range(5)]


def test_retried_message_ids_are_accepted_once(client, db, world):
    cno = world["customers"]["a1"].customer_no
    batch = {"batch": [{"type": "track", "userId": cno, "event": "转账", "messageId": f"d-{i}"} for i in range(3)]}
    assert post(client, "/v1/batch", batch).status_code == 200
    assert post(client, "/v1/batch", batch).status_code == 200
    dup_inside = {"batch": [{"type": "track", "userId": cno, "event": "购买", "messageId": "d-9"}] * 2}
    assert post(client, "/v1/batch", dup_inside).json() == {"success": True}
    assert sorted(e.message_id for e in events(db)) == ["d-0", "d-1", "d-2", "d-9"]
    # Dedupe is per source: another source may use the same message id.
    other = client.post("/api/event-sources", json={"name": "网银", "kind": "web"},
                        headers=login_headers(client, "admin")).json()
    assert post(client, "/v1/track", {"userId": cno, "event": "转账", "messageId": "d-0"},
                key=other["write_key"]).status_code == 200
    assert count(db) == 5


def test_gzip_body_is_accepted(client, db, world):
    cno = world["customers"]["b1"].customer_no
    body = json.dumps({"batch": [{"type": "page", "userId": cno, "name": f"页面{i}"} for i in range(50)]}).encode()
    r = post(client, "/v1/batch", None, raw=gzip.compress(body), headers={"Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert count(db) == 50


def test_clock_skew_is_corrected_and_the_original_times_kept(app, client, db, world):
    received = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    app.state.clock = FixedClock(received)
    cno = world["customers"]["a1"].customer_no
    # The device clock runs 10 minutes fast: it stamped the event at 12:04 and sent it at 12:09 (its time).
    batch = {"sentAt": "2026-03-01T12:09:00+00:00", "batch": [
        {"type": "track", "userId": cno, "event": "late", "timestamp": "2026-03-01T20:04:00+08:00", "messageId": "s1"},
        {"type": "track", "userId": cno, "event": "own", "timestamp": "2026-03-01T12:04:00Z",
         "sentAt": "2026-03-01T11:59:00Z", "messageId": "s2"},
        {"type": "track", "userId": cno, "event": "none", "messageId": "s3"},
        {"type": "track", "userId": cno, "event": "naive", "timestamp": "2026-02-28T23:30:00", "messageId": "s4"},
    ]}
    assert post(client, "/v1/batch", batch).status_code == 200
    by_name = {e.name: e for e in events(db)}
    late = by_name["late"]
    assert late.ts == datetime(2026, 3, 1, 11, 55, tzinfo=UTC)
    assert late.original_timestamp == datetime(2026, 3, 1, 12, 4, tzinfo=UTC)
    assert late.sent_at == datetime(2026, 3, 1, 12, 9, tzinfo=UTC) and late.received_at == received
    assert by_name["own"].ts == datetime(2026, 3, 1, 12, 5, tzinfo=UTC)  # the message's own sentAt wins
    assert by_name["none"].ts == received and by_name["none"].original_timestamp is None
    naive = by_name["naive"]  # no sentAt on batch? it has one: corrected from 23:30 UTC by -9 min
    assert naive.ts == datetime(2026, 2, 28, 23, 21, tzinfo=UTC) and naive.day.isoformat() == "2026-02-28"


def test_disabled_and_rotated_keys_stop_working(client, db, world):
    admin = login_headers(client, "admin")
    cno = world["customers"]["a1"].customer_no
    source_id = world["app"].id
    assert client.patch(f"/api/event-sources/{source_id}", json={"enabled": False}, headers=admin).status_code == 200
    r = post(client, "/v1/track", {"userId": cno, "event": "x"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "source_disabled"
    client.patch(f"/api/event-sources/{source_id}", json={"enabled": True}, headers=admin)
    rotated = client.post(f"/api/event-sources/{source_id}/rotate-key", headers=admin)
    assert rotated.status_code == 200
    new_key = rotated.json()["write_key"]
    assert rotated.json()["key_prefix"] == new_key[:8]
    assert post(client, "/v1/track", {"userId": cno, "event": "x"}).status_code == 401
    assert post(client, "/v1/track", {"userId": cno, "event": "x"}, key=new_key).status_code == 200
    assert count(db) == 1


def test_bus_gets_committed_events_and_a_failing_subscriber_does_not_fail_ingestion(client, db, world):
    seen: list[list[bus.CommittedEvent]] = []

    def broken(_events):
        raise RuntimeError("subscriber bug")

    unsubscribe = [bus.subscribe(seen.append), bus.subscribe(broken)]
    try:
        a1 = world["customers"]["a1"]
        batch = {"batch": [{"type": "track", "userId": a1.customer_no, "event": "绑卡开始", "messageId": "bus-1",
                            "properties": {"flow_id": "f1"}},
                           {"type": "track", "anonymousId": "anon-bus", "event": "浏览", "messageId": "bus-2"}]}
        assert post(client, "/v1/batch", batch).status_code == 200
        assert post(client, "/v1/batch", batch).status_code == 200  # duplicates: nothing new to publish
    finally:
        for fn in unsubscribe:
            fn()
    assert len(seen) == 1
    first, second = seen[0]
    stored = {e.message_id: e for e in events(db)}
    assert (first.id, first.customer_id, first.name, first.properties) == (
        stored["bus-1"].id, a1.id, "绑卡开始", {"flow_id": "f1"})
    assert second.customer_id is None and second.id > first.id
    assert first.ts == stored["bus-1"].ts


def test_ids_grow_with_arrival(client, db, world):
    cno = world["customers"]["a1"].customer_no
    for i in range(3):
        post(client, "/v1/track", {"userId": cno, "event": f"n{i}",
                                   "timestamp": (datetime(2026, 1, 10, tzinfo=UTC) - timedelta(days=i)).isoformat()})
    stored = events(db)
    assert [e.name for e in stored] == ["n0", "n1", "n2"]
    assert stored[0].id < stored[1].id < stored[2].id


def test_group_commit_writes_concurrent_requests_and_a_bad_key_fails_alone(engine, db, world):
    from omniloop.core.db import session_factory
    from omniloop.events import messages, service
    from omniloop.events.writer import IngestWriter

    cno = world["customers"]["a1"].customer_no
    now = datetime.now(UTC)

    def parsed(*ids: str) -> list:
        return [messages.parse_message({"type": "track", "userId": cno, "event": "登录", "messageId": i},
                                       received_at=now) for i in ids]

    writer = IngestWriter(session_factory(engine), engine)
    # Usually one group (queued before the writer thread wakes); the outcome is the same either way.
    futures = [writer.submit(APP_KEY, parsed("g-1", "g-2")), writer.submit("wrong", parsed("g-3")),
               writer.submit(APP_KEY, parsed("g-2", "g-4")), writer.submit(APP_KEY, [])]
    results = [f.exception(30) or f.result(30) for f in futures]
    assert results[0] == service.IngestResult(2, 2, 0) and results[2] == service.IngestResult(2, 1, 1)
    assert isinstance(results[1], service.InvalidWriteKey) and results[3] == service.IngestResult(0, 0, 0)
    assert sorted(e.message_id for e in events(db)) == ["g-1", "g-2", "g-4"]
    assert all(e.customer_id == world["customers"]["a1"].id for e in events(db))
