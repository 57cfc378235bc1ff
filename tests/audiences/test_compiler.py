"""The bitmap back end: estimates, breakdowns, per-node counts, NOT and NULL semantics, org scoping."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pytest
from pyroaring import FrozenBitMap

from omniloop.audiences import compiler, sql
from omniloop.audiences.bitmap_index import BitmapIndex
from omniloop.audiences.expression import StaticCatalog, TagInfo, parse_and_validate, parse_expression
from omniloop.core.errors import ValidationFailed
from omniloop.tags.features import Kind
from tests.audiences.factories import EVERYONE, duckdb_connection, expressions

BREAKDOWN = ("org", "branch", "lifecycle_stage", "tag:vip", "gender")


def sql_estimate(con, node, catalog, *, breakdown=BREAKDOWN, scope=None):
    query = sql.estimate_sqlglot(node, breakdown=breakdown, audiences=catalog.audience_expression,
                                 scope_org_ids=scope)
    return sql.read_estimate(con.execute(query.sql(dialect="duckdb", identify=True)).fetchall(), breakdown)


def sql_members(con, node, catalog, *, scope=None) -> set[int]:
    query = sql.to_sql(node, "duckdb", audiences=catalog.audience_expression, scope_org_ids=scope)
    return {row[0] for row in con.execute(query).fetchall()}


def test_estimates_and_breakdowns_equal_sql(audience_table, audience_index, audience_lists, audience_catalog,
                                            audience_duckdb):
    for data in expressions(audience_table, count=24, seed=5):
        node = parse_and_validate(data, audience_catalog)
        found = compiler.estimate(node, audience_index, lists=audience_lists,
                                  audiences=audience_catalog.audience_expression, breakdown=BREAKDOWN)
        total, breakdown = sql_estimate(audience_duckdb, node, audience_catalog)
        assert found.total == total, data
        assert found.breakdown == breakdown, data
        assert found.universe == audience_table.num_rows
        members = compiler.members(node, audience_index, lists=audience_lists,
                                   audiences=audience_catalog.audience_expression)
        assert len(members) == total and set(members) == sql_members(audience_duckdb, node, audience_catalog)


def test_per_node_counts_are_each_condition_on_its_own(audience_index, audience_lists, audience_catalog):
    data = {"op": "minus", "id": "all", "base": {"op": "and", "children": [
        {"op": "range", "feature": "aum", "min": "50000", "id": "rich"},
        {"op": "not", "id": "no-card", "child": {"op": "feature", "feature": "has_credit_card", "in": [True]}},
    ]}, "subtract": [{"op": "list", "list_id": 1, "id": "uploaded"}, {"op": "audience", "audience_id": 101}]}
    node = parse_and_validate(data, audience_catalog)
    result = compiler.estimate(node, audience_index, lists=audience_lists,
                               audiences=audience_catalog.audience_expression)
    paths = [n.path for n in result.nodes]
    assert paths == ["", "base", "base.children.0", "base.children.1", "base.children.1.child", "subtract.0",
                     "subtract.1"]  # pre-order; the saved audience's own nodes are not listed
    assert [n.id for n in result.nodes][:4] == ["all", None, "rich", "no-card"]
    kwargs = {"lists": audience_lists, "audiences": audience_catalog.audience_expression}
    subtrees = [node, node.base, node.base.children[0], node.base.children[1], node.base.children[1].child,
                node.subtract[0], node.subtract[1]]
    for count, subtree in zip(result.nodes, subtrees, strict=True):
        assert count.count == len(compiler.members(subtree, audience_index, **kwargs)), count.path
    assert result.node_count("rich") == result.node_count("base.children.0")
    assert result.node_count("no-card") + result.node_count("base.children.1.child") == result.universe
    assert result.total == result.node_count("all")
    without = compiler.estimate(node, audience_index, node_counts=False, breakdown=(), **kwargs)
    assert without.nodes == [] and without.breakdown == {} and without.total == result.total


def null_table() -> pa.Table:
    """Six customers; customer 2 and 5 have a null risk level, 3 and 5 a null age and tag."""
    return pa.table({
        "cid": pa.array([1, 2, 3, 4, 5, 6], pa.uint32()),
        "org_id": pa.array([10, 10, 11, 11, 12, 12]),
        "branch_id": pa.array([2, 2, 2, 2, 3, 3]),
        "risk_level": pa.array(["R1", None, "R5", "R5", None, "R2"]),
        "age": pa.array([30, 40, None, 60, None, 25]),
        "aum_fen": pa.array([0, 100, 5_000_000, 10, 7, 99_999_999]),
        "tag__vip": pa.array(["gold", "gold", None, "silver", None, "silver"]),
        "lifecycle_stage": pa.array(["grow", None, "retain", "grow", "grow", None]),
    })


NULL_CASES = [
    ({"op": "feature", "feature": "risk_level", "in": ["R5"]}, {3, 4}),
    ({"op": "not", "child": {"op": "feature", "feature": "risk_level", "in": ["R5"]}}, {1, 2, 5, 6}),
    ({"op": "range", "feature": "age", "min": 30}, {1, 2, 4}),
    ({"op": "not", "child": {"op": "range", "feature": "age", "min": 30}}, {3, 5, 6}),
    ({"op": "not", "child": {"op": "range", "feature": "age", "min": 0}}, {3, 5}),
    ({"op": "not", "child": EVERYONE | {"feature": "risk_level", "in": ["R1", "R2", "R3", "R4", "R5"]}}, {2, 5}),
    ({"op": "or", "children": [{"op": "tag", "tag": "vip", "values": ["gold"]},
                               {"op": "not", "child": {"op": "tag", "tag": "vip", "values": ["gold"]}}]},
     {1, 2, 3, 4, 5, 6}),
    ({"op": "not", "child": {"op": "or", "children": [{"op": "range", "feature": "aum", "min": "0"}]}}, set()),
    ({"op": "minus", "base": {"op": "range", "feature": "aum", "max": "0.99"},
      "subtract": [{"op": "tag", "tag": "vip", "values": ["silver"]}]}, {1, 5}),
    ({"op": "and", "children": [{"op": "not", "child": {"op": "tag", "tag": "vip", "values": ["gold"]}},
                                {"op": "not", "child": {"op": "range", "feature": "age", "max": 50}}]}, {3, 4, 5}),
]


@pytest.mark.parametrize("data,expected", NULL_CASES)
def test_null_semantics_are_the_same_on_bitmaps_and_in_sql(data, expected):
    table = null_table()
    catalog = StaticCatalog(tags={"vip": TagInfo("vip", Kind.enum, ("gold", "silver"))})
    index = BitmapIndex.build(table, tag_columns={"vip": Kind.enum})
    node = parse_and_validate(data, catalog)
    assert set(compiler.members(node, index)) == expected
    assert compiler.estimate(node, index).total == len(expected)
    con = duckdb_connection(table, {})
    assert sql_members(con, node, catalog) == expected
    con.close()


def test_breakdown_of_a_complement_counts_nulls_too():
    index = BitmapIndex.build(null_table(), tag_columns={"vip": Kind.enum})
    node = parse_expression({"op": "not", "child": {"op": "feature", "feature": "risk_level", "in": ["R5"]}})
    result = compiler.estimate(node, index, breakdown=("lifecycle_stage", "branch", "org"))
    assert result.breakdown == {"lifecycle_stage": {"grow": 2, None: 2}, "branch": {2: 2, 3: 2},
                                "org": {10: 2, 12: 2}}


SCOPES = [{2}, {10, 15}, {4, 13}, {999}, {2, 3, 4}]


@pytest.mark.parametrize("org_ids", SCOPES, ids=[str(sorted(s)) for s in SCOPES])
def test_scoped_estimates_equal_filtering_the_table_by_org(org_ids, audience_table, audience_index, audience_lists,
                                                           audience_catalog, audience_duckdb):
    scope = audience_index.scope(org_ids)
    org, branch = audience_table["org_id"].to_numpy(), audience_table["branch_id"].to_numpy()
    in_scope = np.isin(org, list(org_ids)) | np.isin(branch, list(org_ids))
    scoped_cids = set(audience_table["cid"].to_numpy()[in_scope].tolist())
    cases = expressions(audience_table, count=20, seed=9) + [
        {"op": "not", "child": EVERYONE}, {"op": "not", "child": {"op": "list", "list_id": 3}}]
    for data in cases:
        node = parse_and_validate(data, audience_catalog)
        kwargs = {"scope": scope, "lists": audience_lists, "audiences": audience_catalog.audience_expression}
        found = compiler.estimate(node, audience_index, breakdown=BREAKDOWN, **kwargs)
        members = set(compiler.members(node, audience_index, **kwargs))
        assert members <= scoped_cids
        assert members == sql_members(audience_duckdb, node, audience_catalog, scope=org_ids)
        assert (found.total, found.breakdown) == sql_estimate(audience_duckdb, node, audience_catalog, scope=org_ids)
        assert found.universe == len(scoped_cids)
        assert all(n.count <= found.universe for n in found.nodes)
    everything_else = parse_expression({"op": "not", "child": {"op": "list", "list_id": 3}})
    assert compiler.estimate(everything_else, audience_index, scope=scope, lists=audience_lists).total == len(scoped_cids)


def test_errors_found_while_evaluating(audience_index, audience_lists):
    unknown_list = parse_expression({"op": "and", "children": [{"op": "list", "list_id": 77}]})
    with pytest.raises(ValidationFailed) as caught:
        compiler.estimate(unknown_list, audience_index, lists=audience_lists)
    assert caught.value.details[0]["path"] == "children.0.list_id"
    assert caught.value.details[0]["code"] == "unknown_list"

    loop = {5: parse_expression({"op": "audience", "audience_id": 6}),
            6: parse_expression({"op": "not", "child": {"op": "audience", "audience_id": 5}})}
    with pytest.raises(ValidationFailed) as caught:
        compiler.members(parse_expression({"op": "audience", "audience_id": 5}), audience_index, audiences=loop.get)
    assert caught.value.details[0]["code"] == "audience_cycle"
    with pytest.raises(ValidationFailed) as caught:
        sql.to_sql(parse_expression({"op": "audience", "audience_id": 5}), "duckdb", audiences=loop.get)
    assert caught.value.details[0]["code"] == "audience_cycle"

    not_run_yet = parse_expression({"op": "tag", "tag": "brand_new", "values": ["x"]})
    with pytest.raises(ValidationFailed) as caught:
        compiler.estimate(not_run_yet, audience_index)
    assert caught.value.details[0]["code"] == "not_indexed" and caught.value.details[0]["path"] == "tag"


def test_members_are_cids_and_lists_may_be_plain_or_frozen(audience_table, audience_index, audience_lists):
    node = parse_expression({"op": "list", "list_id": 2})
    members = compiler.members(node, audience_index, lists=audience_lists)
    assert members == audience_lists[2]  # every cid on list 2 is a customer
    frozen = {2: FrozenBitMap(audience_lists[2])}
    assert compiler.members(node, audience_index, lists=frozen) == members
    dates = parse_expression({"op": "range", "feature": "first_account_date", "min": "2020-01-01"})
    expected = {cid for cid, d in zip(audience_table["cid"].to_pylist(),
                                      audience_table["first_account_date"].to_pylist(), strict=True)
                if d is not None and d >= date(2020, 1, 1)}
    assert set(compiler.members(dates, audience_index)) == expected


def test_rows_are_the_callers_to_change(audience_index):
    node = parse_expression({"op": "feature", "feature": "gender", "in": ["F"]})
    before = len(audience_index.features["gender"].bitmaps["F"])
    mine = compiler.rows(node, audience_index)
    mine.clear()
    assert len(audience_index.features["gender"].bitmaps["F"]) == before > 0
    assert len(compiler.rows(node, audience_index)) == before
