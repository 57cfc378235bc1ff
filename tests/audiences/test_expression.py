"""Audience expressions: parsing, limits, and validation errors with their paths."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from omniloop.audiences.expression import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_VALUES,
    And,
    FeaturePredicate,
    RangePredicate,
    StaticCatalog,
    TagInfo,
    dump_expression,
    parse_and_validate,
    parse_expression,
    range_bounds,
    validate,
)
from omniloop.core.errors import ValidationFailed
from omniloop.tags.features import FEATURES, Kind

CATALOG = StaticCatalog(
    tags={"vip": TagInfo("vip", Kind.enum, ("gold", "silver")), "churn": TagInfo("churn", Kind.boolean)},
    lists={7},
    audiences={
        1: parse_expression({"op": "tag", "tag": "vip", "values": ["gold"]}),
        2: parse_expression({"op": "audience", "audience_id": 3}),
        3: parse_expression({"op": "or", "children": [{"op": "audience", "audience_id": 2},
                                                       {"op": "list", "list_id": 7}]}),
        4: parse_expression({"op": "audience", "audience_id": 99}),
        5: parse_expression({"op": "audience", "audience_id": 1}),
    },
)


def problems(data, *, catalog=CATALOG, audience_id=None) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        parse_and_validate(data, catalog, audience_id=audience_id)
    error = caught.value
    assert error.code == "invalid_audience" and error.status == 422
    for detail in error.details:
        assert detail["message_zh"] and detail["message_en"]
    return [(d["path"], d["code"]) for d in error.details]


def tag(*values, code="vip"):
    return {"op": "tag", "tag": code, "values": list(values)}


def test_a_valid_tree_parses_and_round_trips():
    data = {"op": "minus", "id": "root",
            "base": {"op": "and", "children": [tag("gold"), {"op": "feature", "feature": "risk_level", "in": ["R4"]}]},
            "subtract": [{"op": "not", "child": {"op": "range", "feature": "aum", "min": "500000", "max": None}},
                         {"op": "list", "list_id": 7}, {"op": "audience", "audience_id": 5}]}
    node = parse_and_validate(data, CATALOG)
    assert node.id == "root"
    assert isinstance(node.base, And) and isinstance(node.base.children[1], FeaturePredicate)
    assert node.base.children[1].values == ["R4"]
    dumped = dump_expression(node)
    assert dumped["base"]["children"][1]["in"] == ["R4"]
    assert parse_expression(dumped) == node


def test_structural_errors_carry_the_path_without_union_tags():
    found = problems({"op": "and", "children": [
        {"op": "xor", "children": []},
        {"op": "tag", "tag": "vip"},
        {"op": "not", "child": {"op": "list", "list_id": "seven"}},
        {"op": "range", "feature": "age", "min": 1, "extra": True},
    ]})
    assert ("children.0", "invalid_node") in found
    assert ("children.1.values", "invalid_node") in found
    assert ("children.2.child.list_id", "invalid_node") in found
    assert ("children.3.extra", "invalid_node") in found


def test_unknown_tag_value_and_wrong_value_type():
    found = problems({"op": "or", "children": [
        tag("gold"), tag("platinum", 3), tag("x", code="nope"), tag("yes", code="churn"), tag(True, code="churn"),
    ]})
    assert found == [
        ("children.1.values.0", "unknown_value"),
        ("children.1.values.1", "wrong_value_type"),
        ("children.2.tag", "unknown_tag"),
        ("children.3.values.0", "wrong_value_type"),
    ]


def test_feature_predicates_check_the_feature_schema():
    found = problems({"op": "and", "children": [
        {"op": "feature", "feature": "risk_level", "in": ["R9"]},
        {"op": "feature", "feature": "has_credit_card", "in": ["true"]},
        {"op": "feature", "feature": "aum", "in": ["1"]},
        {"op": "feature", "feature": "shoe_size", "in": ["42"]},
        {"op": "feature", "feature": "gender", "in": []},
    ]})
    assert found == [
        ("children.0.in.0", "unknown_value"),
        ("children.1.in.0", "wrong_value_type"),
        ("children.2.feature", "wrong_feature_kind"),
        ("children.3.feature", "unknown_feature"),
        ("children.4.in", "empty_values"),
    ]


def test_range_errors():
    found = problems({"op": "or", "children": [
        {"op": "range", "feature": "gender", "min": 1},
        {"op": "range", "feature": "aum"},
        {"op": "range", "feature": "aum", "min": "12.345"},
        {"op": "range", "feature": "age", "max": 30.5},
        {"op": "range", "feature": "first_account_date", "min": "2020-13-01"},
        {"op": "range", "feature": "aum_change_3m", "min": True},
        {"op": "range", "feature": "age", "min": 60, "max": 30},
        {"op": "range", "feature": "aum", "min": "abc"},
        {"op": "range", "feature": "aum_change_3m", "max": "1e400"},
    ]})
    assert found == [
        ("children.0.feature", "wrong_feature_kind"),
        ("children.1", "unbounded_range"),
        ("children.2.min", "invalid_bound"),
        ("children.3.max", "invalid_bound"),
        ("children.4.min", "invalid_bound"),
        ("children.5.min", "invalid_bound"),
        ("children.6", "inverted_range"),
        ("children.7.min", "invalid_bound"),
        ("children.8.max", "invalid_bound"),
    ]


def test_bounds_convert_to_storage_units_exactly():
    money = RangePredicate(op="range", feature="aum", min="500000.10", max=Decimal("0.01"))
    assert range_bounds(money) == (50_000_010, 1)
    assert range_bounds(RangePredicate(op="range", feature="aum", min=0.29)) == (29, None)  # not 28.999...
    assert range_bounds(RangePredicate(op="range", feature="age", min="18", max=65)) == (18, 65)
    assert range_bounds(RangePredicate(op="range", feature="aum_change_3m", min="-0.5")) == (-0.5, None)
    assert range_bounds(RangePredicate(op="range", feature="first_account_date", max="2024-02-29")) == (
        None, date(2024, 2, 29))
    assert FEATURES["aum"].column == "aum_fen"


def test_lists_and_saved_audiences_must_exist():
    found = problems({"op": "or", "children": [
        {"op": "list", "list_id": 8}, {"op": "audience", "audience_id": 42}, {"op": "audience", "audience_id": 4},
    ]})
    assert found == [
        ("children.0.list_id", "unknown_list"),
        ("children.1.audience_id", "unknown_audience"),
        ("children.2.audience_id", "unknown_audience"),  # 4 refers to 99, which does not exist
    ]


def test_reference_cycles_are_found():
    assert problems({"op": "audience", "audience_id": 2}) == [("audience_id", "audience_cycle")]
    # Editing saved audience 1 so that it refers to 5, which refers back to 1.
    assert problems({"op": "and", "children": [tag("gold"), {"op": "audience", "audience_id": 5}]},
                    audience_id=1) == [("children.1.audience_id", "audience_cycle")]
    # The same expression saved as a new audience is fine.
    validate(parse_expression({"op": "audience", "audience_id": 5}), CATALOG)


def test_empty_children_and_subtract():
    found = problems({"op": "or", "children": [
        {"op": "and", "children": []}, {"op": "minus", "base": tag("gold"), "subtract": []},
    ]})
    assert found == [("children.0.children", "empty_children"), ("children.1.subtract", "empty_children")]


def test_limits_on_values_nodes_and_depth():
    assert problems(tag(*(["gold"] * (MAX_VALUES + 1)))) == [("values", "too_many_values")]
    assert ("", "too_many_nodes") in problems({"op": "or", "children": [tag("gold")] * MAX_NODES})
    deep: dict = tag("gold")
    for _ in range(MAX_DEPTH):
        deep = {"op": "not", "child": deep}
    path = ".".join(["child"] * MAX_DEPTH)
    assert problems(deep) == [(path, "too_deep")]
    very_deep: dict = tag("gold")
    for _ in range(5000):  # refused before Pydantic recurses into it
        very_deep = {"op": "not", "child": very_deep}
    assert problems(very_deep) == [(path, "too_deep")]
    exactly = tag("gold")
    for _ in range(MAX_DEPTH - 1):
        exactly = {"op": "not", "child": exactly}
    parse_and_validate(exactly, CATALOG)


def test_every_problem_is_reported_at_once():
    found = problems({"op": "and", "children": [tag("bad"), {"op": "list", "list_id": 1},
                                                {"op": "range", "feature": "age"}]})
    assert [code for _, code in found] == ["unknown_value", "unknown_list", "unbounded_range"]
