"""The bitmap back end of the audience compiler: live estimates (实时预估) and members from a bitmap index.

Semantics, shared exactly with the SQL back end (``omniloop.audiences.sql``):

* The **universe** is every customer in scope: the rows of the user's org subtree (``scope``), or every
  row of the feature table when there is no scope.
* A **predicate** is two-valued. A customer whose feature or tag is null does not satisfy it: not
  ``tag in [...]``, not ``feature in [...]``, not any ``range``. (SQL: ``col IS NOT NULL AND ...``.)
* ``not`` is the complement within the universe, so ``not(risk_level in [R5])`` **includes** customers
  whose risk level is null. ``minus`` is ``base and not (s1 or s2 ...)``. ``and`` / ``or`` are set
  intersection / union.
* ``list`` is membership of an uploaded list (cids not in the feature table are ignored); ``audience`` is
  the saved audience's expression, evaluated in place (a reference cycle is an error).

Complements are never built: every subtree evaluates to a bitmap ``b`` within the universe plus a flag
saying whether it stands for ``b`` or for ``universe - b``, and AND / OR / NOT rewrite the flag
(``a and not b = a - b``). Counts of a complement are ``|universe| - |b|``, breakdowns likewise, so
``not(everything)`` costs nothing and a large ``not`` is materialised only when members are asked for.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyroaring import BitMap

from omniloop.audiences.bitmap_index import BitmapIndex, Column, NumericColumn, ValueBitmaps
from omniloop.audiences.expression import (
    And,
    AudiencePredicate,
    AudienceResolver,
    FeaturePredicate,
    ListPredicate,
    Minus,
    Node,
    Not,
    Or,
    Problem,
    RangePredicate,
    TagPredicate,
    audience_error,
    join_path,
    range_bounds,
)
from omniloop.tags.features import FEATURES

DEFAULT_BREAKDOWN = ("branch", "lifecycle_stage")
_SPARSE = 64  # a bitmap holding fewer than 1/64 of the rows is mostly sorted arrays in CRoaring


@dataclass(frozen=True)
class NodeCount:
    """Customers in scope matching one node of the tree on its own."""

    path: str  # JSON path in the tree, "" for the root
    id: str | None  # the client's node id, if it sent one
    op: str
    count: int


@dataclass(frozen=True)
class Estimate:
    total: int
    universe: int  # customers in scope
    nodes: list[NodeCount]
    breakdown: dict[str, dict[Any, int]]  # dimension → value → count (zero counts left out)
    elapsed_ms: float = 0.0

    def node_count(self, key: str) -> int:
        """Count of the node with client id ``key``, else with path ``key``."""
        for node in self.nodes:
            if node.id == key:
                return node.count
        for node in self.nodes:
            if node.path == key:
                return node.count
        raise KeyError(key)


@dataclass
class _Set:
    """``bitmap`` (a subset of the universe) or, if ``negated``, ``universe - bitmap``."""

    bitmap: BitMap
    negated: bool = False


def _union(bitmaps: Sequence[BitMap]) -> BitMap:
    if not bitmaps:
        return BitMap()
    return bitmaps[0] if len(bitmaps) == 1 else BitMap.union(*bitmaps)


def _intersection(bitmaps: Sequence[BitMap], universe_size: int) -> BitMap:
    """The intersection, in the order that keeps CRoaring on its fast paths.

    With a sparse operand, smallest first: each step then costs the size of the running result. With only
    dense operands, largest first: the running result stays a dense bitset as long as possible, and
    bitset-to-bitset steps are far cheaper than turning bitsets into sorted arrays early. Stops at the
    first empty result.
    """
    ordered = sorted(bitmaps, key=len)
    if len(ordered[0]) * _SPARSE >= universe_size:
        ordered.reverse()
    result = ordered[0]
    for bitmap in ordered[1:]:
        if not result:
            break
        result = result & bitmap
    return result


@dataclass
class _Evaluator:
    index: BitmapIndex
    scope: BitMap | None
    lists: Mapping[int, BitMap]
    audiences: AudienceResolver | None
    counts: list[NodeCount] | None = None
    _list_rows: dict[int, BitMap] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.universe = self.index.universe if self.scope is None else self.scope & self.index.universe
        self.universe_size = len(self.universe)

    def _scoped(self, bitmap: BitMap) -> BitMap:
        return bitmap if self.scope is None else bitmap & self.universe

    def run(self, node: Node, path: str = "", chain: tuple[int, ...] = ()) -> _Set:
        result = self._evaluate(node, path, chain)
        if self.counts is not None and not chain:
            size = len(result.bitmap)
            self.counts.append(NodeCount(path, node.id, node.op,
                                         self.universe_size - size if result.negated else size))
        return result

    def _evaluate(self, node: Node, path: str, chain: tuple[int, ...]) -> _Set:
        match node:
            case And():
                return self._and([self.run(c, join_path(path, "children", i), chain)
                                  for i, c in enumerate(node.children)])
            case Or():
                return self._or([self.run(c, join_path(path, "children", i), chain)
                                 for i, c in enumerate(node.children)])
            case Not():
                inner = self.run(node.child, join_path(path, "child"), chain)
                return _Set(inner.bitmap, not inner.negated)
            case Minus():
                base = self.run(node.base, join_path(path, "base"), chain)
                subtract = self._or([self.run(c, join_path(path, "subtract", i), chain)
                                     for i, c in enumerate(node.subtract)])
                return self._and([base, _Set(subtract.bitmap, not subtract.negated)])
            case TagPredicate():
                tag = self._column(self.index.tags, node.tag, ValueBitmaps, join_path(path, "tag"),
                                   "标签", "tag")
                return _Set(self._scoped(tag.any_of(node.values)))
            case FeaturePredicate():
                feature = self._column(self.index.features, node.feature, ValueBitmaps,
                                       join_path(path, "feature"), "特征", "feature")
                return _Set(self._scoped(feature.any_of(node.values)))
            case RangePredicate():
                numeric = self._column(self.index.features, node.feature, NumericColumn,
                                       join_path(path, "feature"), "特征", "feature")
                low, high = range_bounds(node, FEATURES[node.feature])
                return _Set(self._scoped(numeric.range(low, high)))
            case ListPredicate():
                return _Set(self._list(node.list_id, join_path(path, "list_id")))
            case AudiencePredicate():
                return self._audience(node.audience_id, join_path(path, "audience_id"), chain)
        raise TypeError(f"not an audience node: {node!r}")

    def _column(self, columns: Mapping[str, Column], name: str, expected: type, path: str, what_zh: str,
                what_en: str) -> Any:
        column = columns.get(name)
        if column is None:
            raise audience_error([Problem(
                path, "not_indexed", f"{what_zh}“{name}”尚未建立索引（等待下次跑批）",
                f"{what_en} {name!r} is not in the bitmap index yet (wait for the next tag run)")])
        if not isinstance(column, expected):
            raise audience_error([Problem(path, "wrong_feature_kind", f"{what_zh}“{name}”不支持此条件",
                                          f"{what_en} {name!r} does not support this condition")])
        return column

    def _list(self, list_id: int, path: str) -> BitMap:
        if list_id not in self._list_rows:
            cids = self.lists.get(list_id)
            if cids is None:
                raise audience_error([Problem(path, "unknown_list", f"名单 {list_id} 不存在",
                                              f"Unknown customer list {list_id}")])
            self._list_rows[list_id] = self._scoped(self.index.rows_of(cids))
        return self._list_rows[list_id]

    def _audience(self, audience_id: int, path: str, chain: tuple[int, ...]) -> _Set:
        if audience_id in chain:
            loop = " → ".join(map(str, chain + (audience_id,)))
            raise audience_error([Problem(path, "audience_cycle", f"人群引用形成循环：{loop}",
                                 f"Saved audiences reference each other in a cycle: {loop}")])
        expression = self.audiences(audience_id) if self.audiences else None
        if expression is None:
            raise audience_error([Problem(path, "unknown_audience", f"人群 {audience_id} 不存在",
                                 f"Unknown saved audience {audience_id}")])
        return self.run(expression, path, chain + (audience_id,))

    def _and(self, parts: list[_Set]) -> _Set:
        positive = [p.bitmap for p in parts if not p.negated]
        negative = [p.bitmap for p in parts if p.negated]
        if not positive:  # not a and not b = not (a or b)
            return _Set(_union(negative), negated=True)
        result = _intersection(positive, self.universe_size)
        if negative and result:
            result = result - _union(negative)
        return _Set(result)

    def _or(self, parts: list[_Set]) -> _Set:
        positive = [p.bitmap for p in parts if not p.negated]
        negative = [p.bitmap for p in parts if p.negated]
        if not negative:
            return _Set(_union(positive))
        # a or not b = not (b - a)
        excluded = _intersection(negative, self.universe_size)
        if positive and excluded:
            excluded = excluded - _union(positive)
        return _Set(excluded, negated=True)

    def materialise(self, result: _Set) -> BitMap:
        if not result.negated:
            return result.bitmap
        if self.scope is None:  # the universe is every row: flipping beats subtracting from a run
            return result.bitmap.flip(0, self.index.n_rows)
        return self.universe - result.bitmap


def estimate(
    expr: Node,
    index: BitmapIndex,
    *,
    scope: BitMap | None = None,
    lists: Mapping[int, BitMap] | None = None,
    audiences: AudienceResolver | None = None,
    breakdown: Sequence[str] = DEFAULT_BREAKDOWN,
    node_counts: bool = True,
) -> Estimate:
    """Size of the audience in scope, its breakdown, and each node's own count.

    ``scope`` is a row bitmap from ``index.scope(org_ids)`` (None: every customer); ``lists`` maps uploaded
    list ids to the cids on them; ``audiences`` resolves a saved audience id to its expression.
    ``breakdown`` names dimensions of ``index.count_by``: ``branch``, ``org``, enum features, ``tag:<code>``.
    """
    started = time.perf_counter()
    evaluator = _Evaluator(index, scope, lists or {}, audiences, [] if node_counts else None)
    result = evaluator.run(expr)
    total = len(result.bitmap)
    if result.negated:
        total = evaluator.universe_size - total
    counts: dict[str, dict[Any, int]] = {}
    for dimension in breakdown:
        found = index.count_by(dimension, result.bitmap)
        if result.negated:
            everyone = index.count_by(dimension, evaluator.universe)
            found = {k: v - found.get(k, 0) for k, v in everyone.items() if v - found.get(k, 0)}
        counts[dimension] = found
    nodes = sorted(evaluator.counts or [], key=lambda n: _preorder_key(n.path))  # appended children first
    return Estimate(total, evaluator.universe_size, nodes, counts, (time.perf_counter() - started) * 1000)


def _preorder_key(path: str) -> tuple:
    """Sort key putting a node before its descendants and siblings in document order."""
    order = {"child": 0, "base": 0, "children": 1, "subtract": 2}
    key: list[int] = []
    for part in path.split(".") if path else []:
        key.append(int(part) if part.isdigit() else order.get(part, 3))
    return tuple(key)


def _rows(expr: Node, index: BitmapIndex, scope: BitMap | None, lists: Mapping[int, BitMap] | None,
          audiences: AudienceResolver | None) -> BitMap:
    """The audience as rows; may be a bitmap the index owns."""
    evaluator = _Evaluator(index, scope, lists or {}, audiences)
    return evaluator.materialise(evaluator.run(expr))


def rows(
    expr: Node,
    index: BitmapIndex,
    *,
    scope: BitMap | None = None,
    lists: Mapping[int, BitMap] | None = None,
    audiences: AudienceResolver | None = None,
) -> BitMap:
    """The audience as rows of ``index`` (for further bitmap work; see ``members`` for cids).

    A copy: the caller may change it without touching the index.
    """
    return _rows(expr, index, scope, lists, audiences).copy()


def members(
    expr: Node,
    index: BitmapIndex,
    *,
    scope: BitMap | None = None,
    lists: Mapping[int, BitMap] | None = None,
    audiences: AudienceResolver | None = None,
) -> BitMap:
    """The cids of the audience's members in scope."""
    return index.cids_of(_rows(expr, index, scope, lists, audiences))
