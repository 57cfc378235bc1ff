"""The SQL back end: one SQLGlot tree rendered for DuckDB, PostgreSQL and Spark SQL."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from omniloop.audiences import sql
from omniloop.audiences.expression import parse_expression
from tests.audiences.factories import EDGE_CASES, saved_audiences


@pytest.mark.parametrize("dialect", sql.DIALECTS)
def test_every_edge_case_renders_and_parses_back(dialect: str):
    for data in EDGE_CASES:
        node = parse_expression(data)
        rendered = sql.to_sql(node, dialect, audiences=saved_audiences().get, scope_org_ids=[2, 10])
        parsed = sqlglot.parse_one(rendered, read=dialect)
        assert isinstance(parsed, exp.Select)
        assert parsed.find(exp.Where) is not None


def test_predicates_are_guarded_against_null():
    node = parse_expression({"op": "not", "child": {"op": "feature", "feature": "risk_level", "in": ["R5", "R4"]}})
    assert sql.to_sql(node, "postgres") == (
        'SELECT "cid" FROM "features" WHERE NOT ((NOT "risk_level" IS NULL AND "risk_level" IN (\'R5\', \'R4\')))')


def test_money_dates_ratios_and_tags_use_storage_columns_and_types():
    node = parse_expression({"op": "and", "children": [
        {"op": "range", "feature": "aum", "min": "500000.50", "max": "6000000"},
        {"op": "range", "feature": "first_account_date", "min": "2020-01-31"},
        {"op": "range", "feature": "aum_change_3m", "max": "-0.1"},
        {"op": "tag", "tag": "churn_risk", "values": [True]},
    ]})
    rendered = sql.to_sql(node, "spark")
    assert "`aum_fen` >= 50000050 AND `aum_fen` <= 600000000" in rendered
    assert "`first_account_date` >= CAST('2020-01-31' AS DATE)" in rendered
    assert "`aum_change_3m` <= CAST(-0.1 AS DOUBLE)" in rendered
    assert "`tag__churn_risk` IN (TRUE)" in rendered
    assert "CAST(-0.1 AS DOUBLE PRECISION)" in sql.to_sql(node, "postgres")


def test_lists_saved_audiences_and_scope():
    node = parse_expression({"op": "minus", "base": {"op": "audience", "audience_id": 100},
                             "subtract": [{"op": "list", "list_id": 3}]})
    rendered = sql.to_sql(node, "duckdb", table="aud.features", lists_table="aud.list_members",
                          audiences=saved_audiences().get, scope_org_ids=[4, 2, 2])
    assert rendered.startswith('SELECT "cid" FROM "aud"."features" WHERE ("org_id" IN (2, 4) OR "branch_id" IN (2, 4))')
    assert '"cid" IN (SELECT "cid" FROM "aud"."list_members" WHERE "list_id" = 3 AND NOT "cid" IS NULL)' in rendered
    assert '"aum_fen" >= 10000000' in rendered  # audience 100 inlined
    frozen = sql.to_sql(node, "duckdb", audience_sql=lambda i: f"SELECT cid FROM snapshot_{i}")
    assert '"cid" IN (SELECT "cid" FROM "snapshot_100")' in frozen
    nobody = sql.to_sql(parse_expression({"op": "list", "list_id": 1}), "duckdb", scope_org_ids=[])
    assert " WHERE FALSE AND " in nobody  # an empty org subtree sees no one


def test_estimate_query_groups_every_dimension_in_one_scan():
    node = parse_expression({"op": "tag", "tag": "vip", "values": ["gold"]})
    query = sql.estimate_sqlglot(node, breakdown=("org", "lifecycle_stage", "tag:tier"))
    rendered = query.sql(dialect="postgres", identify=True)
    assert 'GROUP BY GROUPING SETS (("org_id"), ("lifecycle_stage"), ("tag__tier"), ())' in rendered
    rows = [(None, None, None, 1, 1, 1, 9), (10, None, None, 0, 1, 1, 4), (11, None, None, 0, 1, 1, 5),
            (None, "grow", None, 1, 0, 1, 9), (None, None, None, 1, 1, 0, 9)]
    assert sql.read_estimate(rows, ("org", "lifecycle_stage", "tag:tier")) == (
        9, {"org": {10: 4, 11: 5}, "lifecycle_stage": {"grow": 9}, "tag:tier": {None: 9}})
    assert sql.dimension_column("aum") == "aum_fen" and sql.dimension_column("branch") == "branch_id"
