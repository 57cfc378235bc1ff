"""The official SDKs (segment-analytics-python, rudder-sdk-python) against a real HTTP server, unchanged
except for host and write key."""

from __future__ import annotations

import pytest
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient
from sqlalchemy import select

from omniloop.events.models import Event, Identity
from tests.events.conftest import APP_KEY
from tests.events.test_ingest import events


def _drive(client, customer_no: str, prefix: str) -> None:
    client.track(anonymous_id=f"{prefix}-anon", event="浏览理财", properties={"product": "稳健理财30天"},
                 message_id=f"{prefix}-1")
    client.page(anonymous_id=f"{prefix}-anon", category="财富", name="理财产品详情", properties={"url": "/wealth/1"},
                message_id=f"{prefix}-2")
    client.screen(user_id=customer_no, name="首页", message_id=f"{prefix}-3")
    client.identify(user_id=customer_no, anonymous_id=f"{prefix}-anon", traits={"level": "金卡"},
                    message_id=f"{prefix}-4")
    client.group(user_id=customer_no, group_id="family-8", traits={"members": 3}, message_id=f"{prefix}-5")
    client.alias(previous_id=f"{prefix}-openid", user_id=customer_no, message_id=f"{prefix}-6")
    client.track(user_id=customer_no, event="绑卡完成", properties={"flow_id": "f-9", "amount_fen": 100},
                 message_id=f"{prefix}-7")
    client.flush()


def _check(db, customer, prefix: str, source_id: int) -> None:
    stored = {e.message_id: e for e in events(db) if e.message_id.startswith(prefix)}
    assert sorted(stored) == [f"{prefix}-{i}" for i in range(1, 8)]
    assert [stored[f"{prefix}-{i}"].type for i in range(1, 8)] == [
        "track", "page", "screen", "identify", "group", "alias", "track"]
    # Identify stitched the anonymous events sent before it.
    assert {e.customer_id for e in stored.values()} == {customer.id}
    assert stored[f"{prefix}-2"].name == "理财产品详情" and stored[f"{prefix}-2"].properties["category"] == "财富"
    assert stored[f"{prefix}-7"].properties == {"flow_id": "f-9", "amount_fen": 100}
    assert stored[f"{prefix}-7"].context["library"]["name"]
    assert {e.source_id for e in stored.values()} == {source_id}
    assert db.scalar(select(Identity.customer_id).where(Identity.value == f"{prefix}-openid")) == customer.id


@pytest.mark.parametrize("gzip", [False, True])
def test_segment_sdk(live_server, db, world, gzip):
    customer = world["customers"]["a1"]
    errors = []
    client = SegmentClient(APP_KEY, host=live_server, gzip=gzip, max_retries=1,
                           on_error=lambda e, batch: errors.append(e))
    _drive(client, customer.customer_no, "seg")
    client.shutdown()
    assert errors == []
    _check(db, customer, "seg", world["app"].id)


def test_rudderstack_sdk(live_server, db, world):
    customer = world["customers"]["b1"]
    errors = []
    client = RudderClient(APP_KEY, host=live_server, max_retries=1, on_error=lambda e, batch: errors.append(e))
    _drive(client, customer.customer_no, "rud")
    client.shutdown()
    assert errors == []
    _check(db, customer, "rud", world["app"].id)


def test_sdk_with_a_wrong_key_reports_the_error_and_stores_nothing(live_server, db, world):
    errors = []
    client = SegmentClient("not-a-key", host=live_server, max_retries=0, on_error=lambda e, batch: errors.append(e))
    client.track(user_id="C1", event="x")
    client.flush()
    client.shutdown()
    assert len(errors) == 1 and getattr(errors[0], "status", None) == 401
    db.rollback()
    assert db.scalar(select(Event.id)) is None
