"""Success rules (D7): the property filter, and who responded within the window after their contact."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from omniloop.core.errors import OmniloopError
from omniloop.events.models import Event
from omniloop.success import service
from omniloop.success.models import SuccessRule
from tests.factories import create_bank, create_customer

_ids = itertools.count(1)
T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def rule(event="购买理财", filters=None, window=7, value=None) -> SuccessRule:
    return SuccessRule(name="r", event_name=event, property_filter=filters or [], window_days=window,
                       value_property=value, owner_org_id=1)


def add_event(db, customer_id, name, ts, properties=None) -> None:
    n = next(_ids)
    db.add(Event(id=n, day=ts.date(), source_id=1, message_id=f"m{n}", type="track", name=name,
                 customer_id=customer_id, ts=ts, received_at=ts, properties=properties))


@pytest.mark.parametrize(("flt", "props", "expected"), [
    ({"property": "amount_fen", "op": "gte", "value": 1_000_000}, {"amount_fen": 1_000_000}, True),
    ({"property": "amount_fen", "op": "gt", "value": 1_000_000}, {"amount_fen": 1_000_000}, False),
    ({"property": "amount_fen", "op": "lt", "value": 5}, {"amount_fen": "4"}, True),  # numeric strings coerce
    ({"property": "amount_fen", "op": "lte", "value": 5}, {}, False),  # a missing property never matches
    ({"property": "risk_level", "op": "eq", "value": "R2"}, {"risk_level": "R2"}, True),
    ({"property": "risk_level", "op": "neq", "value": "R2"}, {"risk_level": "R3"}, True),
    ({"property": "risk_level", "op": "neq", "value": "R2"}, {}, False),
    ({"property": "risk_level", "op": "in", "value": ["R1", "R2"]}, {"risk_level": "R1"}, True),
    ({"property": "risk_level", "op": "in", "value": ["R1", "R2"]}, {"risk_level": "R4"}, False),
    ({"property": "product_name", "op": "contains", "value": "稳利"}, {"product_name": "之江稳利90天"}, True),
    ({"property": "tags", "op": "contains", "value": "新客"}, {"tags": ["新客", "VIP"]}, True),
    ({"property": "card.level", "op": "eq", "value": "金卡"}, {"card": {"level": "金卡"}}, True),
])
def test_matches_each_operator(flt, props, expected):
    assert service.matches(rule(filters=[flt]), {"name": "购买理财", "properties": props}) is expected


def test_matches_needs_the_event_name_and_all_filters():
    r = rule(filters=[{"property": "amount_fen", "op": "gte", "value": 100},
                      {"property": "risk_level", "op": "eq", "value": "R2"}])
    assert service.matches(r, {"name": "购买理财", "properties": {"amount_fen": 100, "risk_level": "R2"}})
    assert not service.matches(r, {"name": "购买理财", "properties": {"amount_fen": 100, "risk_level": "R3"}})
    assert not service.matches(r, {"event": "登录", "properties": {"amount_fen": 100, "risk_level": "R2"}})


def test_invalid_filters_are_422_with_paths():
    with pytest.raises(OmniloopError) as err:
        service.parse_filters([{"property": "a", "op": "like", "value": 1},
                               {"property": "", "op": "eq", "value": "x"},
                               {"property": "n", "op": "gt", "value": "abc", "type": "number"}])
    assert err.value.code == "invalid_property_filter" and err.value.status == 422
    assert [d["field"] for d in err.value.details] == ["property_filter.0.op", "property_filter.1.property",
                                                        "property_filter.2.value"]
    assert service.normalise_filters([{"property": "r", "op": "in", "value": ["b", "a"]}]) == [
        {"property": "r", "op": "in", "value": ["a", "b"], "type": "string"}]


def test_responses_within_the_window_after_the_contact(db):
    bank = create_bank(db)
    a, b, c, d, e = (create_customer(db, org=bank.sub_a).id for _ in range(5))
    add_event(db, a, "购买理财", T0 + timedelta(days=2), {"amount_fen": 5_000_000})
    add_event(db, a, "购买理财", T0 + timedelta(days=3), {"amount_fen": 9_000_000})  # later: the first one counts
    add_event(db, b, "购买理财", T0 - timedelta(hours=1), {"amount_fen": 5_000_000})  # before the contact
    add_event(db, b, "购买理财", T0 + timedelta(days=8), {"amount_fen": 5_000_000})  # after the window
    add_event(db, c, "购买理财", T0 + timedelta(days=1), {"amount_fen": 100})  # filter fails
    add_event(db, c, "登录", T0 + timedelta(days=1))  # another event
    add_event(db, d, "购买理财", T0 + timedelta(days=7), {"amount_fen": 1_000_000})  # exactly at the window's end
    add_event(db, e, "购买理财", T0 + timedelta(days=1), {"amount_fen": 1_000_000})  # e was not contacted
    db.commit()
    r = rule(filters=[{"property": "amount_fen", "op": "gte", "value": 1_000_000}], value="amount_fen")
    contacts = [(a, T0), (b, T0), (c, T0), (d, T0)]
    assert service.responses(db, rule=r, contacts=contacts) == {a: T0 + timedelta(days=2), d: T0 + timedelta(days=7)}
    details = service.response_details(db, rule=r, contacts=contacts)
    assert details[a].value == 5_000_000
    # A later contact of b opens a new window that catches b's day-8 purchase.
    assert b in service.responses(db, rule=r, contacts=[(b, T0), (b, T0 + timedelta(days=5))])
    assert service.responses(db, rule=r, contacts=[]) == {}
