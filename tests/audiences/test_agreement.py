"""Every engine returns the same members: bitmaps, DuckDB, PostgreSQL and Spark SQL on one generated table.

Forty expressions: the edge cases of ``factories.EDGE_CASES`` (empty results, NOT of everything, nulls,
the empty list, ties, negative values, saved audiences) and random trees of and / or / not / minus.
"""

from __future__ import annotations

import os
import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from omniloop.audiences import compiler, sql
from omniloop.audiences.expression import parse_and_validate
from omniloop.bench.audience import copy_to_postgres, psycopg_url
from tests.audiences.factories import expressions, list_members_table

SCHEMA = "audience_agreement"
SCOPE = {3, 10}  # branch 3 and one sub-branch of branch 2


@pytest.fixture(scope="module")
def cases(audience_table, audience_catalog):
    return [parse_and_validate(data, audience_catalog) for data in expressions(audience_table, count=40, seed=11)]


@pytest.fixture(scope="module")
def bitmap_members(cases, audience_index, audience_lists, audience_catalog):
    def run(scope=None):
        rows = None if scope is None else audience_index.scope(scope)
        return [set(compiler.members(node, audience_index, scope=rows, lists=audience_lists,
                                     audiences=audience_catalog.audience_expression)) for node in cases]
    return {"all": run(), "scoped": run(SCOPE)}


def rendered(cases, catalog, dialect: str, *, table: str = "features", lists_table: str = "list_members",
             scope=None) -> list[str]:
    return [sql.to_sql(node, dialect, table=table, lists_table=lists_table, audiences=catalog.audience_expression,
                       scope_org_ids=scope) for node in cases]


def test_the_cases_cover_the_edge_cases(bitmap_members, audience_table):
    sizes = [len(m) for m in bitmap_members["all"]]
    assert 0 in sizes and audience_table.num_rows in sizes  # nobody and everybody
    assert sum(0 < s < audience_table.num_rows for s in sizes) >= 25
    assert len(set(sizes)) >= 25  # the random trees are not all alike


def test_duckdb_agrees_with_bitmaps(cases, bitmap_members, audience_catalog, audience_duckdb):
    for scope, key in ((None, "all"), (SCOPE, "scoped")):
        for i, query in enumerate(rendered(cases, audience_catalog, "duckdb", scope=scope)):
            found = {row[0] for row in audience_duckdb.execute(query).fetchall()}
            assert found == bitmap_members[key][i], (key, i, query)


@pytest.mark.postgres_only
def test_postgresql_agrees_with_bitmaps(cases, bitmap_members, audience_table, audience_lists, audience_catalog):
    import psycopg

    url = os.environ.get("OMNILOOP_TEST_DATABASE_URL")
    assert url, "--db postgres runs need OMNILOOP_TEST_DATABASE_URL"
    with psycopg.connect(psycopg_url(url)) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{SCHEMA}"')
        copy_to_postgres(conn, audience_table, "features", schema=SCHEMA)
        copy_to_postgres(conn, list_members_table(audience_lists), "list_members", schema=SCHEMA)
        try:
            for scope, key in ((None, "all"), (SCOPE, "scoped")):
                queries = rendered(cases, audience_catalog, "postgres", table=f"{SCHEMA}.features",
                                   lists_table=f"{SCHEMA}.list_members", scope=scope)
                for i, query in enumerate(queries):
                    found = {row[0] for row in conn.execute(query).fetchall()}
                    assert found == bitmap_members[key][i], (key, i, query)
        finally:
            conn.execute(f'DROP SCHEMA "{SCHEMA}" CASCADE')
            conn.commit()


@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime (java is not on PATH)")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("omniloop-audience-agreement")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    yield session
    session.stop()


@pytest.mark.slow
def test_spark_agrees_with_bitmaps(spark, cases, bitmap_members, audience_table, audience_lists, audience_catalog):
    # Spark has no unsigned integers: cid travels as a 64-bit integer.
    features = audience_table.set_column(0, "cid", pc.cast(audience_table["cid"], pa.int64()))
    spark.createDataFrame(features).createOrReplaceTempView("features")
    spark.createDataFrame(list_members_table(audience_lists)).createOrReplaceTempView("list_members")
    for scope, key in ((None, "all"), (SCOPE, "scoped")):
        for i, query in enumerate(rendered(cases, audience_catalog, "spark", scope=scope)):
            found = {row[0] for row in spark.sql(query).collect()}
            assert found == bitmap_members[key][i], (key, i, query)
