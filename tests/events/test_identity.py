"""Identity stitching: identify links anonymous ids (and attaches earlier events), alias maps external ids,
partner sources stay inside their org subtree."""

from __future__ import annotations

from sqlalchemy import select

from omniloop.events.models import Event, EventDirtyDay, Identity, IdentityMerge
from tests.events.conftest import PARTNER_KEY
from tests.events.test_ingest import events, post


def _by_message(db) -> dict[str, Event]:
    return {e.message_id: e for e in events(db)}


def test_identify_attaches_earlier_anonymous_events_and_later_ones(client, db, world):
    a1 = world["customers"]["a1"]
    for i in range(3):
        post(client, "/v1/page", {"anonymousId": "anon-1", "name": "理财产品", "messageId": f"before-{i}"})
    post(client, "/v1/track", {"anonymousId": "anon-other", "event": "浏览", "messageId": "other"})
    assert {e.customer_id for e in events(db)} == {None}

    r = post(client, "/v1/identify", {"userId": a1.customer_no, "anonymousId": "anon-1", "messageId": "idf"})
    assert r.status_code == 200
    post(client, "/v1/track", {"anonymousId": "anon-1", "event": "绑卡开始", "messageId": "after"})

    stored = _by_message(db)
    assert [stored[f"before-{i}"].customer_id for i in range(3)] == [a1.id] * 3
    assert stored["idf"].customer_id == a1.id and stored["after"].customer_id == a1.id
    assert stored["other"].customer_id is None
    identity = db.scalar(select(Identity).where(Identity.value == "anon-1"))
    assert (identity.customer_id, identity.user_id, identity.kind) == (a1.id, a1.customer_no, "anonymous")
    (merge,) = db.scalars(select(IdentityMerge)).all()
    assert (merge.customer_id, merge.identity, merge.via, merge.events_attached, merge.message_id) == (
        a1.id, "anon-1", "identify", 3, "idf")
    # The days whose stored events changed are queued for the Parquet export.
    assert {d.day for d in db.scalars(select(EventDirtyDay))} == {stored["before-0"].day}


def test_identify_and_track_in_one_batch_all_resolve(client, db, world):
    a2 = world["customers"]["a2"]
    batch = {"batch": [
        {"type": "track", "anonymousId": "anon-2", "event": "打开App", "messageId": "x1"},
        {"type": "identify", "anonymousId": "anon-2", "userId": a2.customer_no, "messageId": "x2"},
        {"type": "track", "anonymousId": "anon-2", "event": "登录", "messageId": "x3"},
    ]}
    assert post(client, "/v1/batch", batch).status_code == 200
    assert {e.customer_id for e in events(db)} == {a2.id}


def test_alias_maps_an_external_id_and_attaches_its_events(client, db, world):
    a2 = world["customers"]["a2"]
    post(client, "/v1/track", {"userId": "wx-openid-9", "event": "领券", "messageId": "w1"})
    assert _by_message(db)["w1"].customer_id is None
    assert post(client, "/v1/alias", {"previousId": a2.customer_no, "userId": "wx-openid-9",
                                      "messageId": "al"}).status_code == 200
    post(client, "/v1/track", {"userId": "wx-openid-9", "event": "核销", "messageId": "w2"})
    stored = _by_message(db)
    assert stored["w1"].customer_id == a2.id and stored["w2"].customer_id == a2.id
    merge = db.scalar(select(IdentityMerge).where(IdentityMerge.identity == "wx-openid-9"))
    assert (merge.via, merge.kind, merge.events_attached) == ("alias", "external", 1)


def test_alias_of_an_anonymous_id_to_a_customer_and_never_two_customers(client, db, world):
    a1, b1 = world["customers"]["a1"], world["customers"]["b1"]
    post(client, "/v1/track", {"anonymousId": "dev-5", "event": "浏览", "messageId": "p1"})
    post(client, "/v1/alias", {"previousId": "dev-5", "userId": a1.customer_no, "messageId": "al1"})
    # Two customer numbers are never merged.
    post(client, "/v1/alias", {"previousId": b1.customer_no, "userId": a1.customer_no, "messageId": "al2"})
    post(client, "/v1/track", {"userId": b1.customer_no, "event": "登录", "messageId": "p2"})
    stored = _by_message(db)
    assert stored["p1"].customer_id == a1.id and stored["p2"].customer_id == b1.id
    assert db.scalar(select(Identity).where(Identity.value == b1.customer_no)) is None


def test_identify_with_an_unknown_user_id_links_once_that_id_is_mapped(client, db, world):
    a1 = world["customers"]["a1"]
    post(client, "/v1/identify", {"anonymousId": "anon-7", "userId": "app-login-77", "messageId": "i1"})
    post(client, "/v1/track", {"anonymousId": "anon-7", "event": "浏览", "messageId": "t1"})
    assert {e.customer_id for e in events(db)} == {None}
    post(client, "/v1/alias", {"previousId": a1.customer_no, "userId": "app-login-77", "messageId": "al"})
    stored = _by_message(db)
    assert stored["t1"].customer_id == a1.id and stored["i1"].customer_id == a1.id
    assert db.scalar(select(Identity.customer_id).where(Identity.value == "anon-7")) == a1.id


def test_partner_source_only_names_customers_of_its_subtree(client, db, world):
    a1, b1 = world["customers"]["a1"], world["customers"]["b1"]
    batch = {"batch": [
        {"type": "track", "userId": a1.customer_no, "event": "活动报名", "messageId": "q1"},
        {"type": "track", "userId": b1.customer_no, "event": "活动报名", "messageId": "q2"},
        {"type": "identify", "userId": b1.customer_no, "anonymousId": "partner-anon", "messageId": "q3"},
        {"type": "track", "anonymousId": "partner-anon", "event": "抽奖", "messageId": "q4"},
    ]}
    r = post(client, "/v1/batch", batch, key=PARTNER_KEY)
    assert r.status_code == 200  # accepted, but outside its scope nothing is attached
    stored = _by_message(db)
    assert stored["q1"].customer_id == a1.id
    assert [stored[m].customer_id for m in ("q2", "q3", "q4")] == [None, None, None]
    assert db.scalar(select(Identity).where(Identity.customer_id == b1.id)) is None
    # An app identity linked to a branch-B customer is not moved by the partner either.
    post(client, "/v1/identify", {"userId": b1.customer_no, "anonymousId": "app-anon", "messageId": "z1"})
    post(client, "/v1/identify", {"userId": a1.customer_no, "anonymousId": "app-anon", "messageId": "z2"},
         key=PARTNER_KEY)
    assert db.scalar(select(Identity.customer_id).where(Identity.value == "app-anon")) == b1.id
