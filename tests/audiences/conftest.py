"""Shared data for the audience tests: one generated feature table, its index, lists and catalog."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyroaring import BitMap

from omniloop.audiences.bitmap_index import BitmapIndex
from omniloop.audiences.expression import StaticCatalog
from tests.audiences.factories import TAG_KINDS, catalog, customer_lists, duckdb_connection, feature_table


@pytest.fixture(scope="session")
def audience_table() -> pa.Table:
    return feature_table(20_000, seed=7)


@pytest.fixture(scope="session")
def audience_index(audience_table: pa.Table) -> BitmapIndex:
    return BitmapIndex.build(audience_table, tag_columns=TAG_KINDS)


@pytest.fixture(scope="session")
def audience_lists(audience_table: pa.Table) -> dict[int, BitMap]:
    return customer_lists(audience_table)


@pytest.fixture(scope="session")
def audience_catalog() -> StaticCatalog:
    return catalog()


@pytest.fixture(scope="session")
def audience_duckdb(audience_table: pa.Table, audience_lists: dict[int, BitMap]):
    con = duckdb_connection(audience_table, audience_lists)
    yield con
    con.close()
