"""Tag definition checks (pure): every problem with its path, and the SQL a checked definition compiles to."""

from __future__ import annotations

import duckdb
import pytest

from omniloop.tags import definitions as defs


def kinds(**kwargs) -> list[tuple[str, str]]:
    return [(p.path, p.kind) for p in defs.check_definition(**kwargs).problems]


@pytest.mark.parametrize("source, value_type, definition, expected", [
    ("rule", "boolean", {"rule": "aum >= 1 and"}, [("definition.rule", "syntax")]),
    ("rule", "boolean", {}, [("definition.rule", "required")]),
    ("rule", "enum", {"cases": [{"value": "a", "rule": "age > 1"}, {"value": "a", "rule": "age > 2"}]},
     [("definition.cases[1].value", "duplicate_value")]),
    ("rule", "enum", {"cases": [{"value": "a b", "rule": "x > 1"}]},
     [("definition.cases[0].value", "bad_value"), ("definition.cases[0].rule", "unknown_feature")]),
    ("rule", "numeric", {"feature": "gender", "buckets": [{"value": "a", "min": 1, "max": 2}]},
     [("definition.feature", "unknown_feature")]),
    ("rule", "numeric", {"feature": "aum", "buckets": [{"value": "a", "min": 5, "max": 1},
                                                        {"value": "b", "min": 10.001, "max": None}]},
     [("definition.buckets[0]", "bad_range"), ("definition.buckets[1].min", "money_precision")]),
    ("rule", "numeric", {"feature": "product_count", "buckets": [{"value": "a", "min": 1.5}]},
     [("definition.buckets[0].min", "bad_number")]),
    ("list", "enum", {"list_id": 1}, [("value_type", "bad_value_type")]),
    ("list", "boolean", {"list_id": "x"}, [("definition.list_id", "required")]),
    ("model_score", "boolean", {}, [("definition.threshold", "required")]),
    ("event", "boolean", {"event": "", "within_days": 0}, [("definition.event", "required"),
                                                           ("definition.within_days", "bad_days")]),
    ("event", "boolean", {"event": "x", "within_days": 3, "filter": {"property": "a;b", "op": "like"}},
     [("definition.filter.property", "bad_property"), ("definition.filter.op", "bad_operator")]),
    ("event", "numeric", {"event": "x", "within_days": 3, "filter": {"property": "a", "op": ">", "value": "x"}},
     [("definition.filter.value", "bad_value"), ("definition.buckets", "required")]),
    ("nope", "boolean", {}, [("source", "bad_source")]),
])
def test_problems_have_paths(source, value_type, definition, expected):
    assert kinds(source=source, value_type=value_type, definition=definition) == expected


def test_rule_problems_carry_positions_and_lifecycle_rules_cannot_refer_to_lifecycle():
    (problem,) = defs.check_definition(source="rule", value_type="enum", definition={
        "cases": [{"value": "grow", "rule": "aum > 1"}, {"value": "refer", "rule": "age > 'x'"}]}).problems
    assert (problem.path, problem.line, problem.column, problem.offset, problem.length) == (
        "definition.cases[1].rule", 1, 7, 6, 3)
    checked = defs.check_definition(source="rule", value_type="enum", code="lifecycle_stage", definition={
        "cases": [{"value": "grow", "rule": "lifecycle_status = 'mature'"}, {"value": "sleepy", "rule": "aum > 1"}]})
    assert [p.kind for p in checked.problems] == ["lifecycle_reference", "unknown_value"]
    assert defs.check_definition(source="list", value_type="boolean", definition={"list_id": 3},
                                 list_exists=lambda i: False).problems[0].kind == "unknown_list"


def test_compiled_sql_first_match_wins_and_buckets_are_half_open():
    cases = defs.check_definition(source="rule", value_type="enum", definition={
        "cases": [{"value": "a", "rule": "age >= 18"}, {"value": "b", "rule": "age >= 60"}],
        "else": {"value": "c", "label_zh": "其他"}})
    assert cases.ok and [v["value"] for v in cases.values] == ["a", "b", "c"] and cases.values[2]["label_zh"] == "其他"
    buckets = defs.check_definition(source="rule", value_type="numeric", definition={
        "feature": "aum", "buckets": [{"value": "lo", "max": 100}, {"value": "hi", "min": 100}]})
    con = duckdb.connect()
    con.execute("CREATE TABLE features AS SELECT * FROM (VALUES (1, 17, 9999), (2, 60, 10000), (3, NULL, NULL)) "
                "t(cid, age, aum_fen)")
    rows = con.execute(f"SELECT cid, {defs.rule_value_sql(cases.spec)}, {defs.rule_value_sql(buckets.spec)} "
                       f"FROM features f ORDER BY cid").fetchall()
    assert rows == [(1, "c", "lo"), (2, "a", "hi"), (3, "c", None)]
    sql, params = defs.event_filter_sql(defs.EventFilter("a.b", "in", ["x", 1, True]))
    assert sql == "json_extract_string(properties, '$.\"a\".\"b\"') IN (?, ?, ?)" and params == ["x", "1", "true"]
