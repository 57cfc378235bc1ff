"""The bitmap index: fast bitmap construction, exact BSI ranges, org runs, cid translation, persistence."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pytest
from pyroaring import BitMap, FrozenBitMap

from omniloop.audiences.bitmap_index import (
    BitmapIndex,
    BitSlicedIndex,
    NumericColumn,
    ValueBitmaps,
    bitmap_from_mask,
    bitmap_from_sorted,
)
from tests.audiences.factories import TAG_KINDS, feature_table


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return feature_table(20_000, seed=3)


@pytest.fixture(scope="module")
def index(table: pa.Table) -> BitmapIndex:
    return BitmapIndex.build(table, tag_columns=TAG_KINDS)


def column(table: pa.Table, name: str) -> np.ndarray:
    return np.array(table[name].to_pylist(), dtype=object)


def cids_where(table: pa.Table, mask) -> set[int]:
    return set(table["cid"].to_numpy()[np.asarray(mask, dtype=bool)].tolist())


@pytest.mark.parametrize("density", [0.0, 0.0001, 0.01, 0.3, 0.97, 1.0])
@pytest.mark.parametrize("length", [1, 65_536, 200_003])
def test_bitmap_from_mask_matches_the_mask(density: float, length: int):
    mask = np.random.default_rng(int(density * 1000) + length).random(length) < density
    bitmap = bitmap_from_mask(mask)
    assert np.array_equal(np.asarray(bitmap.to_array(), dtype=np.int64), np.flatnonzero(mask))
    assert bitmap_from_sorted(np.flatnonzero(mask)) == bitmap


def random_bounds(rng: np.random.Generator, values: np.ndarray) -> list[tuple]:
    """Bounds at existing values, between them, outside the range, open, equal and inverted."""
    present = values[rng.integers(0, len(values), 40)]
    low, high = int(values.min()), int(values.max())
    cases = [(None, None), (low - 5, None), (None, high + 5), (high + 1, None), (None, low - 1),
             (low, low), (high, high), (high, low)]
    for a, b in zip(present[:20], present[20:], strict=True):
        cases.append((int(min(a, b)), int(max(a, b))))
        cases.append((int(a), None))
        cases.append((None, int(b)))
        cases.append((int(a) + 1, int(a) + 1))
    return cases


@pytest.mark.parametrize("buckets,anchors", [(256, 32), (16, 8), (64, 64), (4, 1), (1, 1)])
def test_bsi_ranges_are_exact(buckets: int, anchors: int):
    rng = np.random.default_rng(buckets)
    n = 30_000
    codes = np.concatenate([rng.integers(0, 2**33, n // 3),  # wide
                            rng.integers(0, 50, n // 3),  # heavy repeated values
                            np.round(np.exp(rng.normal(8, 3, n - 2 * (n // 3))))]).astype(np.int64)
    codes[rng.random(n) < 0.05] = 0
    valid = rng.random(n) > 0.1
    bsi = BitSlicedIndex.from_codes(codes, valid, buckets=buckets, anchors=anchors)
    assert bsi.stride >= 1 and len(bsi.buckets) == len(bsi.thresholds) + 1
    for low, high in random_bounds(rng, codes[valid]):
        expected = valid.copy()
        if low is not None:
            expected &= codes >= low
        if high is not None:
            expected &= codes <= high
        found = np.asarray(bsi.between(None if low is None else max(low, 0), high).to_array(), dtype=np.int64)
        assert np.array_equal(found, np.flatnonzero(expected)), (low, high)
        if low is not None and low >= 0:
            assert len(bsi.ge(low)) == int(np.count_nonzero(valid & (codes >= low)))
        if high is not None and high >= 0:
            assert len(bsi.le(high)) == int(np.count_nonzero(valid & (codes <= high)))


def test_numeric_columns_with_negatives_nulls_ratios_and_dates_are_exact():
    rng = np.random.default_rng(5)
    n = 8_000
    ints = rng.integers(-10_000, 10_000, n)
    ratios = np.round(rng.normal(0, 1, n), 2)
    days = rng.integers(0, 3_000, n)
    null = rng.random(n) < 0.15
    table = pa.table({
        "cid": pa.array(rng.choice(10**7, n, replace=False) + 1, pa.uint32()),
        "org_id": pa.array(rng.integers(1, 5, n)),
        "branch_id": pa.array(np.full(n, 100)),
        "tenure_days": pa.array(ints, mask=null),
        "loan_fen": pa.array(ints * 1_000_003, mask=null),
        "aum_change_3m": pa.array(ratios, mask=null),
        "first_account_date": pa.array(np.datetime64("2015-01-01") + days, mask=null),
    })
    index = BitmapIndex.build(table)
    assert set(index.features) == {"tenure_days", "loan", "aum_change_3m", "first_account_date"}
    as_dates = np.datetime64("2015-01-01") + days
    checks = {
        "tenure_days": (ints, lambda v: int(v)),
        "loan": (ints * 1_000_003, lambda v: int(v)),
        "aum_change_3m": (ratios, lambda v: float(v)),
        "first_account_date": (as_dates, lambda v: v.astype("datetime64[D]").item()),
    }
    for name, (values, to_bound) in checks.items():
        numeric = index.features[name]
        assert isinstance(numeric, NumericColumn)
        order = np.argsort(values[~null])
        present = values[~null][order]
        picks = [present[0], present[len(present) // 3], present[len(present) // 2], present[-1]]
        cases = [(picks[0], picks[-1]), (picks[1], picks[2]), (picks[2], None), (None, picks[1]), (picks[1], picks[1])]
        for low, high in cases:
            expected = ~null
            if low is not None:
                expected = expected & (values >= low)
            if high is not None:
                expected = expected & (values <= high)
            rows = numeric.range(None if low is None else to_bound(low), None if high is None else to_bound(high))
            assert set(index.cids_of(rows)) == cids_where(table, expected), (name, low, high)
    # A ratio bound between two stored values, and bounds outside every value.
    between = index.features["aum_change_3m"].range(-0.005, 0.005)
    assert set(index.cids_of(between)) == cids_where(table, ~null & (ratios == 0.0))
    assert len(index.features["tenure_days"].range(20_000, None)) == 0
    assert len(index.features["tenure_days"].range(None, -20_000)) == 0
    assert len(index.features["first_account_date"].range(date(2000, 1, 1), None)) == int(np.count_nonzero(~null))


def test_value_bitmaps_hold_each_value_and_nulls_in_none(table: pa.Table, index: BitmapIndex):
    for name, values in (("risk_level", ("R1", "R5")), ("payroll_flag", (True,)), ("payroll_flag", (False,))):
        data = column(table, name)
        expected = np.isin(data, list(values)) & (data != None)
        assert set(index.cids_of(index.features[name].any_of(values))) == cids_where(table, expected)
    vip = column(table, "tag__vip")
    assert isinstance(index.tags["vip"], ValueBitmaps)
    assert set(index.cids_of(index.tags["vip"].any_of(["gold", "platinum"]))) == cids_where(table, vip == "gold")
    tier = column(table, "tag__tier")  # 40 values: built through the sorting path
    assert set(index.cids_of(index.tags["tier"].any_of(["t07", "t39"]))) == cids_where(table, np.isin(tier, ["t07", "t39"]))
    assert len(index.tags["vip"].not_null) == int(np.count_nonzero(vip != None))


def test_orgs_are_runs_and_scope_unions_org_and_branch_ids(table: pa.Table, index: BitmapIndex):
    org, branch = table["org_id"].to_numpy(), table["branch_id"].to_numpy()
    for spans in index.groups["org"].values():
        assert len(spans) == 1  # every org is one run of rows
    scope = index.scope({3, 10, 11, 999})  # branch 3, two sub-branches of branch 2, an unknown id
    assert set(index.cids_of(scope)) == cids_where(table, np.isin(org, [10, 11]) | (branch == 3))
    assert len(index.scope([])) == 0
    rows = index.features["risk_level"].any_of(["R2"])
    risk = column(table, "risk_level")
    by_org = index.count_by("org", rows)
    assert by_org == {int(o): int(np.count_nonzero((org == o) & (risk == "R2"))) for o in np.unique(org)}
    stage = column(table, "lifecycle_stage")
    by_stage = index.count_by("lifecycle_stage", rows)
    assert by_stage[None] == int(np.count_nonzero((stage == None) & (risk == "R2")))
    assert by_stage["grow"] == int(np.count_nonzero((stage == "grow") & (risk == "R2")))
    assert sum(index.count_by("branch", rows).values()) == len(rows)
    with pytest.raises(KeyError):
        index.count_by("aum", rows)


def test_cid_translation_dense_and_sparse(table: pa.Table):
    compact = np.random.default_rng(1).permutation(table.num_rows).astype(np.int64) + 1  # 1..n, shuffled
    sparse_ids = table["cid"].to_numpy().astype(np.int64) * 1000 + 7
    dense = BitmapIndex.build(table.set_column(0, "cid", pa.array(compact, pa.uint32())))
    sparse = BitmapIndex.build(table.set_column(0, "cid", pa.array(sparse_ids, pa.uint32())))
    assert dense._row_of_cid is not None and sparse._row_of_cid is None
    for index, ids in ((dense, compact), (sparse, sparse_ids)):
        wanted = BitMap(ids[:500].tolist() + [2**32 - 1, 123456789])  # two cids not in the table
        rows = index.rows_of(wanted)
        assert len(rows) == 500
        assert set(index.cids_of(rows)) == set(ids[:500].tolist())
        frozen = FrozenBitMap(ids[100:300].tolist())
        assert index.rows_of(frozen) is index.rows_of(frozen)  # remembered
        assert set(index.cids_of(index.rows_of(frozen))) == set(frozen)
        assert index.rows_of([]) == BitMap()


def test_duplicate_cids_and_nan_ratios_are_refused(table: pa.Table):
    duplicated = table.set_column(0, "cid", pa.array(np.full(table.num_rows, 5), pa.uint32()))
    with pytest.raises(ValueError, match="unique"):
        BitmapIndex.build(duplicated)
    nan = table.set_column(table.column_names.index("aum_change_3m"), "aum_change_3m",
                           pa.array(np.full(table.num_rows, np.nan)))
    with pytest.raises(ValueError, match="NaN"):
        BitmapIndex.build(nan, features=["aum_change_3m"])


def test_save_and_load_round_trip(tmp_path, index: BitmapIndex):
    index.save(tmp_path / "index")
    loaded = BitmapIndex.load(tmp_path / "index")
    assert np.array_equal(loaded.cids, index.cids)
    assert loaded.groups == index.groups
    assert set(loaded.features) == set(index.features) and set(loaded.tags) == set(index.tags)
    for name in ("aum", "aum_change_3m", "first_account_date", "age"):
        a, b = index.features[name], loaded.features[name]
        assert a.bsi.thresholds == b.bsi.thresholds and a.offset == b.offset
        assert a.range(None, None) == b.range(None, None)
    aum = loaded.features["aum"]
    assert aum.range(1_000_000, 5_000_000) == index.features["aum"].range(1_000_000, 5_000_000)
    assert loaded.tags["churn_risk"].any_of([True]) == index.tags["churn_risk"].any_of([True])
    assert loaded.features["gender"].bitmaps.keys() == index.features["gender"].bitmaps.keys()


def test_empty_table_round_trips(tmp_path):
    empty = pa.table({"cid": pa.array([], pa.uint32()), "org_id": pa.array([], pa.int64()),
                      "branch_id": pa.array([], pa.int64()), "age": pa.array([], pa.int64())})
    index = BitmapIndex.build(empty)
    assert index.n_rows == 0 and len(index.features["age"].range(0, 100)) == 0
    index.save(tmp_path / "empty")
    assert BitmapIndex.load(tmp_path / "empty").n_rows == 0


def test_memory_and_build_stats(index: BitmapIndex):
    sizes = index.memory_bytes()
    assert sizes["bitmaps"] > 0 and sizes["cids"] == 4 * index.n_rows
    assert sizes["total"] == sum(v for k, v in sizes.items() if k != "total")
    assert index.stats is not None and index.stats.rows == 20_000 and index.stats.bitmaps > 100


def test_the_universe_keeps_only_the_given_customers(table: pa.Table):
    cids = table["cid"].to_numpy()
    kept = BitMap(cids[::3].tolist())
    index = BitmapIndex.build(table, universe=kept, features=["age"])
    assert index.n_rows == len(kept) and set(index.cids_of(index.universe)) == set(kept)
    assert set(index.cids_of(index.features["age"].range(None, None))) <= set(kept)
