"""The bitmap index behind live audience estimates (实时人群预估): roaring bitmaps over the feature table.

Built at each tag run from the feature table (one row a customer, identified by ``cid``):

* one bitmap per value of every enum / boolean feature and tag (tags are the ``tag__<code>`` columns);
* an exact bit-sliced index (BSI, O'Neil & Quass) for every integer, money, date and ratio feature: values
  become non-negative integer codes — ``value - min`` for integers, fen and days; the rank among the
  column's distinct values for ratios (floats), so comparisons agree bit for bit with SQL on the float
  column — and bit ``i`` of every row's code is slice ``i``. ``>= a``, ``<= b`` and ``between`` are exact;
  quantile buckets and range-encoded anchors keep them to a few milliseconds (see ``BitSlicedIndex``);
* the customers of each org (``org_id``) and branch (``branch_id``) for org scoping and breakdowns.

Bitmaps do not hold cids but **row numbers**, in an order sorted by branch, org, lifecycle stage and AUM:
an org's customers are one run of rows, so scoping to an org subtree is a union of ranges and a breakdown
by org costs one ``range_cardinality`` per org instead of an intersection with a scattered bitmap (about
1 ms instead of 30 ms at ten million customers); AUM bands are runs too. ``rows_of`` and ``cids_of``
translate between cids and rows: uploaded lists come in as cids and members go out as cids.

Rows whose feature is null are in no value bitmap and in no range: see ``omniloop.audiences.compiler``
for what that means for NOT.
"""

from __future__ import annotations

import array
import bisect
import json
import mmap
import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyroaring import BitMap, FrozenBitMap

from omniloop.tags.features import FEATURES, Kind

FORMAT_VERSION = 1
TAG_PREFIX = "tag__"
ORG_DIMENSION, BRANCH_DIMENSION = "org", "branch"
LIFECYCLE = "lifecycle_stage"
_CHUNK = 1 << 16  # values per roaring container
_NO_ROW = np.uint32(0xFFFFFFFF)
_SERIAL_COOKIE_NO_RUNCONTAINER = 12346
_MASK_PATH_MIN_DENSITY = 1 / 64  # below this, building from positions is faster than from a bit mask
_TRANSLATED_LISTS = 64  # uploaded lists whose rows are remembered


# ---- building bitmaps fast ------------------------------------------------------------------------------

def bitmap_from_sorted(values: np.ndarray) -> BitMap:
    """A BitMap from ascending uint32 values; pyroaring reads an ``array('I')`` ~5x faster than numpy."""
    buffer = array.array("I")
    buffer.frombytes(np.ascontiguousarray(values, dtype=np.uint32).tobytes())
    return _compact(BitMap(buffer))


def _compact(bitmap: BitMap) -> BitMap:
    """Runs where they are smaller: clustered rows (an org, an AUM band) become a few runs."""
    bitmap.run_optimize()
    bitmap.shrink_to_fit()
    return bitmap


def bitmap_from_mask(mask: np.ndarray, *, runs: bool = True) -> BitMap:
    """The positions where ``mask`` is true, written straight in the portable roaring format.

    Dense containers are the packed mask itself, so a half-full ten-million-row mask takes ~25 ms instead
    of ~200 ms through a position list. ``runs=False`` keeps dense containers as bitsets even where runs
    would be smaller: right for a bitmap that others are subtracted from (not-null), since subtracting
    from runs is several times slower in CRoaring.
    """
    mask = np.asarray(mask, dtype=bool)
    total = int(np.count_nonzero(mask))
    if total == 0:
        return BitMap()
    if total < len(mask) * _MASK_PATH_MIN_DENSITY:
        return bitmap_from_sorted(np.flatnonzero(mask))
    n_chunks = -(-len(mask) // _CHUNK)
    packed = np.zeros(n_chunks * (_CHUNK // 8), dtype=np.uint8)
    bits = np.packbits(mask, bitorder="little")
    packed[: len(bits)] = bits
    packed = packed.reshape(n_chunks, _CHUNK // 8)
    cardinality = np.bitwise_count(packed.view(np.uint64)).sum(axis=1)
    keys = np.flatnonzero(cardinality)
    parts: list[bytes] = []
    for key in keys:
        if cardinality[key] > 4096:  # the format says: more than 4096 values is a bitset container
            parts.append(packed[key].tobytes())
        else:
            chunk = mask[key * _CHUNK: (key + 1) * _CHUNK]
            parts.append(np.flatnonzero(chunk).astype("<u2").tobytes())
    header = np.empty(2 * len(keys), dtype="<u2")
    header[0::2] = keys
    header[1::2] = cardinality[keys] - 1
    sizes = np.array([len(p) for p in parts], dtype=np.int64)
    first = 8 + 4 * len(keys) + 4 * len(keys)  # cookie + count, descriptive header, offsets
    offsets = (first + np.concatenate([[0], np.cumsum(sizes)[:-1]])).astype("<u4")
    blob = b"".join([np.array([_SERIAL_COOKIE_NO_RUNCONTAINER, len(keys)], dtype="<u4").tobytes(),
                     header.tobytes(), offsets.tobytes(), *parts])
    bitmap = BitMap.deserialize(blob)
    return _compact(bitmap) if runs else bitmap


def _bitmaps_for_codes(codes: np.ndarray, n_codes: int) -> list[BitMap]:
    """One bitmap of row numbers per code ``0 .. n_codes - 1`` (negative codes: in none)."""
    if n_codes <= 32:
        return [bitmap_from_mask(codes == k) for k in range(n_codes)]
    shifted = codes + 1  # null (-1) first; small unsigned keys make numpy's stable sort a radix sort
    shifted = shifted.astype(np.uint16 if n_codes < 65535 else np.uint32)
    order = np.argsort(shifted, kind="stable")  # rows stay ascending within a code
    counts = np.bincount(shifted, minlength=n_codes + 1)[1:]
    start = int(np.count_nonzero(shifted == 0))
    result = []
    for k in range(n_codes):
        result.append(bitmap_from_sorted(order[start: start + counts[k]]))
        start += counts[k]
    return result


def _union(bitmaps: list[BitMap]) -> BitMap:
    if not bitmaps:
        return BitMap()
    return bitmaps[0] if len(bitmaps) == 1 else BitMap.union(*bitmaps)


def _bitmap_bytes(bitmap: BitMap) -> int:
    stats = bitmap.get_statistics()
    return (stats["n_bytes_array_containers"] + stats["n_bytes_run_containers"]
            + stats["n_bytes_bitset_containers"] + 8 * stats["n_containers"])


# ---- columns --------------------------------------------------------------------------------------------

@dataclass
class ValueBitmaps:
    """Enum / boolean column: the rows holding each value."""

    kind: Kind
    bitmaps: dict[Any, BitMap]
    not_null: BitMap

    def any_of(self, values: Iterable[Any]) -> BitMap:
        found = [self.bitmaps[v] for v in dict.fromkeys(values) if v in self.bitmaps]
        if not found:
            return BitMap()
        return found[0] if len(found) == 1 else BitMap.union(*found)

    def all_bitmaps(self) -> dict[str, BitMap]:
        named = {f"value:{json.dumps(v)}": b for v, b in self.bitmaps.items()}
        named["not_null"] = self.not_null
        return named


def _anchor_thresholds(codes: np.ndarray, buckets: int, rng: np.random.Generator) -> np.ndarray:
    """Codes splitting the rows into about ``buckets`` equal parts; a very common code gets a part to itself.

    Above the last part, powers of two split the (sparse) tail, so no part spans more than one octave
    there. Chosen from a sample: thresholds decide how fast a range is, never what it returns.
    """
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    sample = codes if len(codes) <= 1_000_000 else rng.choice(codes, 1_000_000, replace=False)
    values, counts = np.unique(sample, return_counts=True)
    target = max(1, len(sample) // buckets)
    before = np.concatenate([[0], np.cumsum(counts)[:-1]])
    starts = np.flatnonzero(np.diff(before // target)) + 1  # the first value of each new part
    heavy = values[counts >= target]  # a common value is a part of its own: [v, v + 1)
    chosen = np.union1d(values[starts], np.concatenate([heavy, heavy + 1]))
    chosen = chosen[chosen > 0]
    top = int(codes.max())
    last = int(chosen[-1]) if len(chosen) else 1
    tail = [1 << k for k in range(last.bit_length(), top.bit_length())]
    return np.unique(np.concatenate([chosen, np.array(tail, dtype=np.int64)]).astype(np.int64))


@dataclass
class BitSlicedIndex:
    """Bit-sliced index over non-negative integer codes: ``slices[i]`` holds the rows whose code has bit i.

    Range searches follow O'Neil & Quass (1997): walk the slices from the top bit keeping the rows known to
    be greater than the constant and the rows equal to it so far. On ten million rows a walk over every
    slice touches dozens of dense bitmaps (~20 ms), so the rows are also split into about 256 **buckets**
    ``[t_k, t_k+1)`` at the data's quantiles, and every ``stride``-th bucket boundary has a range-encoded
    **anchor** (rows with ``code >= t_k``). ``code >= c`` is then an anchor, a few whole buckets, and the
    rows of ``c``'s own bucket that are ``>= c``. Only that bucket (well under one per cent of the rows)
    walks the slices, from the highest bit in which ``t_k`` and ``t_k+1 - 1`` differ: every row of the
    bucket has the same higher bits. Answers stay exact; buckets and anchors only make them fast.

    Every operation makes a new bitmap, and returned bitmaps may be shared with the index: callers must
    not change them in place.
    """

    slices: list[BitMap]
    not_null: BitMap
    thresholds: list[int] = field(default_factory=list)  # t_1 < t_2 < ..., all > 0; t_0 = 0
    buckets: list[BitMap] = field(default_factory=list)  # buckets[k]: codes in [t_k, t_k+1)
    anchors: dict[int, BitMap] = field(default_factory=dict)  # anchors[k]: codes >= t_k, k % stride == 0
    stride: int = 8

    @classmethod
    def from_codes(cls, codes: np.ndarray, valid: np.ndarray, *, buckets: int = 256,
                   anchors: int = 32) -> BitSlicedIndex:
        """Slices, about ``buckets`` buckets and about ``anchors`` anchors for the codes of valid rows."""
        codes = np.where(valid, codes, 0).astype("<u8")
        top = int(codes.max()) if len(codes) else 0
        by_byte = codes.view(np.uint8).reshape(len(codes), 8)
        slices = []
        for byte in range(-(-top.bit_length() // 8)):
            column = np.ascontiguousarray(by_byte[:, byte])
            for bit in range(min(8, top.bit_length() - 8 * byte)):
                slices.append(bitmap_from_mask(((column >> bit) & 1).view(bool)))
        thresholds = _anchor_thresholds(codes[valid].astype(np.int64), buckets, np.random.default_rng(0))
        bucket_of = np.searchsorted(thresholds, codes.astype(np.int64), side="right").astype(np.int64)
        bucket_of[~valid] = -1
        parts = _bitmaps_for_codes(bucket_of, len(thresholds) + 1)
        # Anchors are unions of the buckets above, accumulated from the top; a column with few buckets
        # (few distinct values, such as age) gets an anchor at (almost) every bucket.
        stride = max(1, round(len(parts) / anchors))
        made: dict[int, BitMap] = {}
        running = BitMap()
        for k in range(len(parts) - 1, 0, -1):
            running = running | parts[k]
            if k % stride == 0:
                made[k] = _compact(running)
        not_null = bitmap_from_mask(valid, runs=False)
        return cls(slices, not_null, [int(t) for t in thresholds], parts, made, stride)

    @property
    def max_code(self) -> int:
        return (1 << len(self.slices)) - 1

    def _bounds(self, k: int) -> tuple[int, int]:
        """Bucket k holds codes in [low, high)."""
        low = 0 if k == 0 else self.thresholds[k - 1]
        high = self.thresholds[k] if k < len(self.thresholds) else self.max_code + 1
        return low, high

    def _bucket_of(self, code: int) -> int:
        return bisect.bisect_right(self.thresholds, code)

    def _whole(self, first: int, stop: int) -> list[BitMap]:
        """Parts making up buckets ``first .. stop - 1``: anchors for the aligned middle, and buckets."""
        count = len(self.buckets)
        first, stop = max(first, 0), min(stop, count)
        if first >= stop:
            return []
        start_anchor = -(-first // self.stride) * self.stride
        stop_anchor = stop // self.stride * self.stride
        if start_anchor >= stop_anchor or (start_anchor == 0 and stop_anchor >= count):
            if first == 0 and stop == count:
                return [self.not_null]
            return self.buckets[first:stop]
        above = self.not_null if start_anchor == 0 else self.anchors[start_anchor]
        middle = above if stop_anchor >= count else above - self.anchors[stop_anchor]
        return [middle, *self.buckets[first:start_anchor], *self.buckets[stop_anchor:stop]]

    def _walk(self, code: int, k: int, *, greater: bool, rows: BitMap | None = None) -> list[BitMap]:
        """Disjoint parts whose union is the rows of bucket k (or of ``rows`` within it) >= / <= ``code``."""
        low, high = self._bounds(k)
        if code == (low if greater else high - 1) and rows is None:
            return [self.buckets[k]]
        parts: list[BitMap] = []
        equal = self.buckets[k] if rows is None else rows
        for i in range((low ^ (high - 1)).bit_length() - 1, -1, -1):
            in_slice = equal & self.slices[i]
            one = (code >> i) & 1
            if greater and not one:
                parts.append(in_slice)
            elif not greater and one:
                parts.append(equal - in_slice)
            equal = in_slice if one else equal - in_slice
            if not equal:
                break
        parts.append(equal)
        return parts

    def ge(self, code: int) -> BitMap:
        """Rows whose code is ``>= code``."""
        return self.between(code, None)

    def le(self, code: int) -> BitMap:
        """Rows whose code is ``<= code``."""
        return self.between(None, code)

    def between(self, low: int | None, high: int | None) -> BitMap:
        """Rows with ``low <= code <= high``; a missing bound is open."""
        low = None if low is None or low <= 0 else low
        high = None if high is None or high >= self.max_code else high
        if (low is not None and low > self.max_code) or (high is not None and high < 0):
            return BitMap()
        if low is not None and high is not None and low > high:
            return BitMap()
        if low is None and high is None:
            return self.not_null
        count = len(self.buckets)
        k_low = 0 if low is None else self._bucket_of(low)
        k_high = count - 1 if high is None else self._bucket_of(high)
        if k_low == k_high and low is not None and high is not None:
            within = _union(self._walk(low, k_low, greater=True))
            return _union(self._walk(high, k_low, greater=False, rows=within))
        # Edge buckets walk; whole buckets in between come from anchors. The small parts are added to the
        # dense piece in one union: adding to a dense bitmap is cheap, merging small ones is not.
        parts = self._whole(k_low + (low is not None), k_high + (high is None))
        if low is not None:
            parts += self._walk(low, k_low, greater=True)
        if high is not None:
            parts += self._walk(high, k_high, greater=False)
        return _union(parts)

    def all_bitmaps(self) -> dict[str, BitMap]:
        named = {f"slice:{i}": s for i, s in enumerate(self.slices)}
        named.update({f"anchor:{k}": a for k, a in self.anchors.items()})
        named.update({f"bucket:{k}": b for k, b in enumerate(self.buckets)})
        named["not_null"] = self.not_null
        return named


@dataclass
class NumericColumn:
    """A numeric or date column as a BSI: codes are ``value - offset``, or ranks in ``distinct`` (ratios)."""

    kind: Kind
    bsi: BitSlicedIndex
    offset: int = 0
    distinct: np.ndarray | None = None  # sorted distinct values, for ratio (float) columns

    @property
    def not_null(self) -> BitMap:
        return self.bsi.not_null

    def _low_code(self, value: Any) -> int:
        if self.distinct is not None:
            return int(np.searchsorted(self.distinct, float(value), side="left"))
        return _as_int(self.kind, value) - self.offset

    def _high_code(self, value: Any) -> int:
        if self.distinct is not None:
            return int(np.searchsorted(self.distinct, float(value), side="right")) - 1
        return _as_int(self.kind, value) - self.offset

    def range(self, low: Any, high: Any) -> BitMap:
        """Rows with ``low <= value <= high`` in storage units (fen, int, float, date); None is open."""
        low_code = None if low is None else max(self._low_code(low), 0)
        high_code = None if high is None else self._high_code(high)
        if high_code is not None and high_code < 0:
            return BitMap()
        return self.bsi.between(low_code, high_code)


def _as_int(kind: Kind, value: Any) -> int:
    if kind is Kind.date:
        return int(np.datetime64(value, "D").astype(np.int64))
    return int(value)


Column = ValueBitmaps | NumericColumn


# ---- reading Arrow columns ------------------------------------------------------------------------------

def _valid(column: pa.ChunkedArray) -> np.ndarray:
    return pc.is_valid(column).to_numpy(zero_copy_only=False)


def _value_codes(column: pa.ChunkedArray, kind: Kind) -> tuple[np.ndarray, list[Any]]:
    """Integer codes per row (-1 for null) and the value each code stands for."""
    if kind is Kind.boolean:
        values = pc.fill_null(column, False).to_numpy(zero_copy_only=False).astype(np.int64)
        return np.where(_valid(column), values, -1), [False, True]
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    encoded = pc.dictionary_encode(column.combine_chunks())
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary.to_pylist()


def _numeric_column(column: pa.ChunkedArray, kind: Kind, order: np.ndarray) -> NumericColumn:
    valid = _valid(column)[order]
    if kind is Kind.ratio:
        values = pc.fill_null(column.cast(pa.float64()), 0.0).to_numpy(zero_copy_only=False)[order]
        if np.isnan(values[valid]).any():
            raise ValueError("ratio columns must hold null, not NaN, for missing values")
        distinct, inverse = np.unique(values[valid], return_inverse=True)
        codes = np.zeros(len(values), dtype=np.int64)
        codes[valid] = inverse
        return NumericColumn(kind, BitSlicedIndex.from_codes(codes, valid), distinct=distinct)
    if kind is Kind.date:
        column = column.cast(pa.date32()).cast(pa.int32())
    values = pc.fill_null(column.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)[order]
    offset = int(values[valid].min()) if valid.any() else 0
    return NumericColumn(kind, BitSlicedIndex.from_codes(values - offset, valid), offset=offset)


def _value_column(column: pa.ChunkedArray, kind: Kind, order: np.ndarray) -> ValueBitmaps:
    codes, values = _value_codes(column, kind)
    codes = codes[order]
    bitmaps = _bitmaps_for_codes(codes, len(values))
    return ValueBitmaps(kind, {v: b for v, b in zip(values, bitmaps, strict=True) if b},
                        bitmap_from_mask(codes >= 0))


def _dense_ids(column: pa.ChunkedArray | None, n: int) -> np.ndarray:
    """Ids as int64 with -1 for null (org and branch ids)."""
    if column is None:
        return np.full(n, -1, dtype=np.int64)
    return pc.fill_null(column.cast(pa.int64()), -1).to_numpy(zero_copy_only=False)


def _ranges(keys: np.ndarray) -> dict[int | None, list[tuple[int, int]]]:
    """Runs of equal keys in row order: key → [(start, end), ...] (end exclusive); key -1 becomes None."""
    if len(keys) == 0:
        return {}
    starts = np.concatenate([[0], np.flatnonzero(keys[1:] != keys[:-1]) + 1])
    ends = np.concatenate([starts[1:], [len(keys)]])
    result: dict[int | None, list[tuple[int, int]]] = {}
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        key = int(keys[start])
        result.setdefault(None if key < 0 else key, []).append((start, end))
    return result


# ---- the index ------------------------------------------------------------------------------------------

@dataclass
class BuildStats:
    rows: int
    seconds: float
    bitmaps: int


@dataclass
class BitmapIndex:
    """Bitmaps over the rows of one feature table; see the module docstring."""

    cids: np.ndarray  # row → cid (uint32)
    features: dict[str, Column]
    tags: dict[str, Column]
    # Org and branch (the rows are sorted by them): id → runs of rows (None: null).
    groups: dict[str, dict[Any, list[tuple[int, int]]]]
    stats: BuildStats | None = None
    _row_of_cid: np.ndarray | None = field(default=None, repr=False)
    _sorted_cids: np.ndarray | None = field(default=None, repr=False)
    _sorted_rows: np.ndarray | None = field(default=None, repr=False)
    _translated: OrderedDict[FrozenBitMap, BitMap] = field(default_factory=OrderedDict, repr=False)

    def __post_init__(self) -> None:
        self.cids = np.ascontiguousarray(self.cids, dtype=np.uint32)
        self.universe = BitMap()
        if len(self.cids):
            self.universe.add_range(0, len(self.cids))
        self._build_lookup()

    @property
    def n_rows(self) -> int:
        return len(self.cids)

    # -- building ----------------------------------------------------------------------------------------

    @classmethod
    def build(cls, table: pa.Table, *, tag_columns: Mapping[str, Kind | str] | None = None,
              features: Iterable[str] | None = None, universe: BitMap | Iterable[int] | None = None,
              cluster_by: str | None = "aum") -> BitmapIndex:
        """Index ``table`` (a feature table: ``cid``, ``org_id``, ``branch_id``, feature and tag columns).

        ``tag_columns`` maps tag codes to their kind (enum or boolean); the column is ``tag__<code>``.
        ``features`` names the features to index (default: every feature whose column is in the table).
        ``universe`` keeps only these cids (default: every row): it is what NOT is relative to.
        ``cluster_by`` orders the rows of each org and stage by one numeric feature (None: table order).
        """
        started = time.perf_counter()
        names = set(table.column_names)
        if "cid" not in names:
            raise ValueError("the feature table has no cid column")
        if universe is not None:
            kept = pa.array(np.fromiter(universe, dtype=np.int64), pa.int64())
            table = table.filter(pc.is_in(table["cid"].cast(pa.int64()), value_set=kept))
        if table["cid"].null_count:
            raise ValueError("cid must not be null")
        cids = table["cid"].cast(pa.uint32()).to_numpy(zero_copy_only=False)
        n = len(cids)
        org = _dense_ids(table["org_id"] if "org_id" in names else None, n)
        branch = _dense_ids(table["branch_id"] if "branch_id" in names else None, n)
        stage = (_value_codes(table[LIFECYCLE], Kind.enum)[0] if LIFECYCLE in names
                 else np.full(n, -1, dtype=np.int64))

        # Sort rows by branch, org and stage so that each org (and each branch) is one run of rows and
        # each stage's bitmap a run per org; within those, by the cluster column (AUM), so that its
        # ranges, and those of features that move with it, are runs of rows too.
        key = np.zeros(n, dtype=np.int64)
        for part in (branch, org, stage):
            _, rank = np.unique(part, return_inverse=True)
            key = key * (int(rank.max(initial=0)) + 1) + rank
        cluster = FEATURES[cluster_by].column if cluster_by in FEATURES else cluster_by
        if cluster and cluster in names:
            within = pc.fill_null(table[cluster].cast(pa.float64()), -np.inf).to_numpy(zero_copy_only=False)
            order = np.lexsort((within, key))
        else:
            order = np.argsort(key, kind="stable")

        selected = list(features) if features is not None else [
            name for name, f in FEATURES.items() if f.column in names]
        for code, kind in (tag_columns or {}).items():
            if Kind(kind) not in (Kind.enum, Kind.boolean):
                raise ValueError(f"tag {code}: tags are enum or boolean, not {kind}")

        def index_feature(name: str) -> Column:
            spec = FEATURES[name]
            if spec.kind in (Kind.enum, Kind.boolean):
                return _value_column(table[spec.column], spec.kind, order)
            return _numeric_column(table[spec.column], spec.kind, order)

        def index_tag(code: str) -> Column:
            return _value_column(table[TAG_PREFIX + code], Kind(tag_columns[code]), order)

        # Columns are independent, and numpy and Arrow release the GIL: build them side by side.
        with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
            feature_jobs = {name: pool.submit(index_feature, name) for name in selected}
            tag_jobs = {code: pool.submit(index_tag, code) for code in (tag_columns or {})}
            feature_columns: dict[str, Column] = {name: job.result() for name, job in feature_jobs.items()}
            tag_index: dict[str, Column] = {code: job.result() for code, job in tag_jobs.items()}

        groups = {ORG_DIMENSION: _ranges(org[order]), BRANCH_DIMENSION: _ranges(branch[order])}
        index = cls(cids[order], feature_columns, tag_index, groups)
        index.stats = BuildStats(n, time.perf_counter() - started, sum(1 for _ in index._named_bitmaps()))
        return index

    def _build_lookup(self) -> None:
        """cid → row: a dense table when cids are compact, else a sorted copy; refuse duplicate cids."""
        n = len(self.cids)
        self._row_of_cid = self._sorted_cids = self._sorted_rows = None
        if n == 0:
            return
        top = int(self.cids.max())
        if top < 4 * n + 1024:
            table = np.full(top + 1, _NO_ROW, dtype=np.uint32)
            table[self.cids] = np.arange(n, dtype=np.uint32)
            if np.count_nonzero(table != _NO_ROW) != n:
                raise ValueError("cid values must be unique")
            self._row_of_cid = table
        else:
            order = np.argsort(self.cids, kind="stable")
            ordered = self.cids[order]
            if np.any(ordered[1:] == ordered[:-1]):
                raise ValueError("cid values must be unique")
            self._sorted_cids, self._sorted_rows = ordered, order.astype(np.uint32)

    # -- lookups -----------------------------------------------------------------------------------------

    def feature(self, name: str) -> Column:
        return self.features[name]

    def tag(self, code: str) -> Column:
        return self.tags[code]

    def rows_of(self, cids: BitMap | Iterable[int]) -> BitMap:
        """Rows of the given cids; cids not in the table are dropped.

        A ``FrozenBitMap`` (an uploaded list does not change) is translated once and remembered.
        """
        if isinstance(cids, FrozenBitMap):
            if (known := self._translated.get(cids)) is not None:
                self._translated.move_to_end(cids)
                return known
            rows = self._translate(np.frombuffer(cids.to_array(), dtype=np.uint32))
            self._translated[cids] = rows
            if len(self._translated) > _TRANSLATED_LISTS:
                self._translated.popitem(last=False)
            return rows
        values = cids.to_array() if isinstance(cids, BitMap) else np.fromiter(cids, dtype=np.int64)
        wanted = np.asarray(values, dtype=np.int64)
        wanted = wanted[(wanted >= 0) & (wanted <= 0xFFFFFFFF)].astype(np.uint32)
        return self._translate(wanted)

    def _translate(self, wanted: np.ndarray) -> BitMap:
        if len(wanted) == 0 or self.n_rows == 0:
            return BitMap()
        if self._row_of_cid is not None:
            rows = self._row_of_cid[wanted[wanted < len(self._row_of_cid)]]
            rows = rows[rows != _NO_ROW]
        else:
            at = np.minimum(np.searchsorted(self._sorted_cids, wanted), len(self._sorted_cids) - 1)
            rows = self._sorted_rows[at[self._sorted_cids[at] == wanted]]
        return bitmap_from_sorted(np.sort(rows))

    def cids_of(self, rows: BitMap) -> BitMap:
        """The cids of the given rows."""
        positions = np.frombuffer(rows.to_array(), dtype=np.uint32)
        return bitmap_from_sorted(np.sort(self.cids[positions]))

    def scope(self, org_ids: Iterable[int]) -> BitMap:
        """Rows of customers whose org or branch is one of ``org_ids`` (pass a user's whole org subtree)."""
        result = BitMap()
        for org_id in set(org_ids):
            spans = self.groups[ORG_DIMENSION].get(org_id, []) + self.groups[BRANCH_DIMENSION].get(org_id, [])
            for start, end in spans:
                result.add_range(start, end)
        return result

    # -- breakdowns --------------------------------------------------------------------------------------

    def dimensions(self) -> list[str]:
        value_features = [n for n, c in self.features.items() if isinstance(c, ValueBitmaps)]
        return [*self.groups, *value_features, *(f"tag:{c}" for c in self.tags)]

    def count_by(self, dimension: str, rows: BitMap) -> dict[Any, int]:
        """How many of ``rows`` fall in each value of ``dimension`` (zero counts left out, null as None).

        ``org`` and ``branch`` count runs of rows with ``range_cardinality`` (the rows are sorted by
        them); enum / boolean features such as ``lifecycle_stage`` and ``tag:<code>`` intersect with
        each value's bitmap.
        """
        if dimension in self.groups:
            counts = {key: sum(rows.range_cardinality(s, e) for s, e in spans)
                      for key, spans in self.groups[dimension].items()}
            return {k: v for k, v in counts.items() if v}
        tagged = dimension.startswith("tag:")
        column = self.tags.get(dimension[4:]) if tagged else self.features.get(dimension)
        if not isinstance(column, ValueBitmaps):
            raise KeyError(f"cannot break down by {dimension!r}")
        counts = {value: rows.intersection_cardinality(b) for value, b in column.bitmaps.items()}
        counts[None] = len(rows) - rows.intersection_cardinality(column.not_null)
        return {k: v for k, v in counts.items() if v}

    # -- size and persistence ----------------------------------------------------------------------------

    def _named_bitmaps(self) -> Iterable[tuple[str, BitMap]]:
        for group, columns in (("feature", self.features), ("tag", self.tags)):
            for name, column in columns.items():
                inner = column.all_bitmaps() if isinstance(column, ValueBitmaps) else column.bsi.all_bitmaps()
                for part, bitmap in inner.items():
                    yield f"{group}:{name}:{part}", bitmap

    def memory_bytes(self) -> dict[str, int]:
        """Approximate memory held, by component, in bytes."""
        sizes = {"bitmaps": sum(_bitmap_bytes(b) for _, b in self._named_bitmaps()),
                 "cids": self.cids.nbytes,
                 "cid_lookup": sum(a.nbytes for a in (self._row_of_cid, self._sorted_cids, self._sorted_rows)
                                   if a is not None),
                 "ratio_values": sum(c.distinct.nbytes for c in self.features.values()
                                     if isinstance(c, NumericColumn) and c.distinct is not None)}
        sizes["total"] = sum(sizes.values())
        return sizes

    def save(self, path: Path | str) -> None:
        """Write the index to directory ``path``: ``index.json``, ``bitmaps.bin`` and numpy arrays."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        offsets: dict[str, list[int]] = {}
        position = 0
        with open(path / "bitmaps.bin", "wb") as out:
            for name, bitmap in self._named_bitmaps():
                blob = bitmap.serialize()
                out.write(blob)
                offsets[name] = [position, len(blob)]
                position += len(blob)
        np.save(path / "cids.npy", self.cids)
        columns = {}
        for group, items in (("feature", self.features), ("tag", self.tags)):
            for name, column in items.items():
                meta: dict[str, Any] = {"kind": column.kind.value}
                if isinstance(column, ValueBitmaps):
                    meta["values"] = list(column.bitmaps)
                else:
                    meta["offset"] = column.offset
                    meta["slices"] = len(column.bsi.slices)
                    meta["thresholds"] = column.bsi.thresholds
                    meta["anchors"] = sorted(column.bsi.anchors)
                    meta["stride"] = column.bsi.stride
                    if column.distinct is not None:
                        meta["distinct"] = f"distinct__{group}__{name}.npy"
                        np.save(path / meta["distinct"], column.distinct)
                columns[f"{group}:{name}"] = meta
        manifest = {
            "version": FORMAT_VERSION, "rows": self.n_rows, "columns": columns, "bitmaps": offsets,
            "groups": {name: [[key, spans] for key, spans in values.items()]
                       for name, values in self.groups.items()},
        }
        (path / "index.json").write_text(json.dumps(manifest), encoding="utf-8")

    @classmethod
    def load(cls, path: Path | str) -> BitmapIndex:
        """Read an index written by ``save``; the bitmap file is memory-mapped while it is read."""
        path = Path(path)
        manifest = json.loads((path / "index.json").read_text(encoding="utf-8"))
        if manifest.get("version") != FORMAT_VERSION:
            raise ValueError(f"bitmap index format {manifest.get('version')} is not {FORMAT_VERSION}")
        offsets = manifest["bitmaps"]
        features: dict[str, Column] = {}
        tags: dict[str, Column] = {}
        with open(path / "bitmaps.bin", "rb") as f:
            size = path.joinpath("bitmaps.bin").stat().st_size
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""  # mmap refuses 0 bytes
            try:

                def read(name: str) -> BitMap:
                    start, length = offsets[name]
                    return BitMap.deserialize(data[start: start + length])

                for qualified, meta in manifest["columns"].items():
                    group, name = qualified.split(":", 1)
                    kind = Kind(meta["kind"])
                    prefix = f"{group}:{name}:"
                    if "values" in meta:
                        column: Column = ValueBitmaps(
                            kind, {v: read(f"{prefix}value:{json.dumps(v)}") for v in meta["values"]},
                            read(f"{prefix}not_null"))
                    else:
                        bsi = BitSlicedIndex(
                            [read(f"{prefix}slice:{i}") for i in range(meta["slices"])],
                            read(f"{prefix}not_null"), meta["thresholds"],
                            [read(f"{prefix}bucket:{k}") for k in range(len(meta["thresholds"]) + 1)],
                            {k: read(f"{prefix}anchor:{k}") for k in meta["anchors"]}, meta["stride"])
                        distinct = np.load(path / meta["distinct"]) if "distinct" in meta else None
                        column = NumericColumn(kind, bsi, offset=meta["offset"], distinct=distinct)
                    (features if group == "feature" else tags)[name] = column
            finally:
                if isinstance(data, mmap.mmap):
                    data.close()
        groups = {name: {key: [(int(s), int(e)) for s, e in spans] for key, spans in values}
                  for name, values in manifest["groups"].items()}
        return cls(np.load(path / "cids.npy"), features, tags, groups)
