"""The SQL back end of the audience compiler: one SQLGlot tree, rendered for DuckDB, PostgreSQL and Spark SQL.

The feature table has one row a customer: ``cid``, ``org_id``, ``branch_id``, each feature's storage column
(money as ``<name>_fen``) and each tag as ``tag__<code>``. Uploaded lists live in a table of
``(list_id, cid)`` rows. The semantics are those of ``omniloop.audiences.compiler``; in SQL terms every
predicate is written so that it is never NULL (``col IS NOT NULL AND col IN (...)``), which makes NOT the
exact complement, as it is on bitmaps. Without that guard ``NOT (risk_level IN ('R5'))`` would drop the
customers whose risk level is null, and the engines would disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

import sqlglot
from sqlglot import exp

from omniloop.audiences.bitmap_index import BRANCH_DIMENSION, ORG_DIMENSION, TAG_PREFIX
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
from omniloop.tags.features import FEATURES, Kind

DIALECTS = ("duckdb", "postgres", "spark")
AudienceSql = Callable[[int], exp.Expression | str | None]


def _literal(value: Any, kind: Kind) -> exp.Expression:
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if kind is Kind.date or isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
    if kind is Kind.ratio:
        # The bound as the same double the bitmap index compares with: repr round-trips exactly.
        return exp.cast(exp.Literal.number(repr(float(value))), exp.DataType.Type.DOUBLE)
    if isinstance(value, int):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _not_null(column: exp.Expression) -> exp.Expression:
    return exp.not_(exp.Is(this=column.copy(), expression=exp.Null()))


def _value_in(column_name: str, values: Iterable[Any], kind: Kind) -> exp.Expression:
    column = exp.column(column_name)
    literals = [_literal(v, kind) for v in dict.fromkeys(values)]
    if not literals:
        return exp.false()
    return exp.paren(exp.and_(_not_null(column), column.copy().isin(*literals)), copy=False)


def dimension_column(dimension: str) -> str:
    """The feature-table column of a breakdown dimension (``org``, ``branch``, a feature, ``tag:<code>``)."""
    if dimension == ORG_DIMENSION:
        return "org_id"
    if dimension == BRANCH_DIMENSION:
        return "branch_id"
    if dimension.startswith("tag:"):
        return TAG_PREFIX + dimension[4:]
    return FEATURES[dimension].column


class _Compiler:
    def __init__(self, *, lists_table: str, audiences: AudienceResolver | None,
                 audience_sql: AudienceSql | None) -> None:
        self.lists_table = lists_table
        self.audiences = audiences
        self.audience_sql = audience_sql

    def compile(self, node: Node, path: str = "", chain: tuple[int, ...] = ()) -> exp.Expression:
        match node:
            case And():
                return exp.paren(exp.and_(*[self.compile(c, join_path(path, "children", i), chain)
                                            for i, c in enumerate(node.children)]), copy=False)
            case Or():
                return exp.paren(exp.or_(*[self.compile(c, join_path(path, "children", i), chain)
                                           for i, c in enumerate(node.children)]), copy=False)
            case Not():
                inner = self.compile(node.child, join_path(path, "child"), chain)
                return exp.not_(exp.paren(inner, copy=False))
            case Minus():
                base = self.compile(node.base, join_path(path, "base"), chain)
                subtract = exp.or_(*[self.compile(c, join_path(path, "subtract", i), chain)
                                     for i, c in enumerate(node.subtract)])
                return exp.paren(exp.and_(base, exp.not_(exp.paren(subtract, copy=False))), copy=False)
            case TagPredicate():
                return _value_in(TAG_PREFIX + node.tag, node.values, Kind.enum)
            case FeaturePredicate():
                feature = FEATURES[node.feature]
                return _value_in(feature.column, node.values, feature.kind)
            case RangePredicate():
                feature = FEATURES[node.feature]
                low, high = range_bounds(node, feature)
                column = exp.column(feature.column)
                parts = [_not_null(column)]
                if low is not None:
                    parts.append(column.copy() >= _literal(low, feature.kind))
                if high is not None:
                    parts.append(column.copy() <= _literal(high, feature.kind))
                return exp.paren(exp.and_(*parts), copy=False)
            case ListPredicate():
                members = (exp.select("cid").from_(exp.to_table(self.lists_table))
                           .where(exp.and_(exp.column("list_id").eq(exp.Literal.number(node.list_id)),
                                           _not_null(exp.column("cid")))))
                return exp.column("cid").isin(query=members)
            case AudiencePredicate():
                return self._audience(node.audience_id, join_path(path, "audience_id"), chain)
        raise TypeError(f"not an audience node: {node!r}")

    def _audience(self, audience_id: int, path: str, chain: tuple[int, ...]) -> exp.Expression:
        if audience_id in chain:
            loop = " → ".join(map(str, chain + (audience_id,)))
            raise audience_error([Problem(path, "audience_cycle", f"人群引用形成循环：{loop}",
                                          f"Saved audiences reference each other in a cycle: {loop}")])
        if self.audience_sql is not None:
            query = self.audience_sql(audience_id)
            if query is not None:
                parsed = sqlglot.parse_one(query) if isinstance(query, str) else query
                return exp.column("cid").isin(query=parsed)
        expression = self.audiences(audience_id) if self.audiences else None
        if expression is None:
            raise audience_error([Problem(path, "unknown_audience", f"人群 {audience_id} 不存在",
                                          f"Unknown saved audience {audience_id}")])
        return self.compile(expression, path, chain + (audience_id,))


def scope_condition(org_ids: Iterable[int]) -> exp.Expression:
    """Customers whose org or branch is one of ``org_ids`` (the user's org subtree), as in ``index.scope``."""
    ids = [exp.Literal.number(int(i)) for i in sorted(set(org_ids))]
    if not ids:
        return exp.false()
    by_org = exp.column("org_id").isin(*ids)
    by_branch = exp.column("branch_id").isin(*[i.copy() for i in ids])
    return exp.paren(exp.or_(by_org, by_branch), copy=False)


def condition(
    expr: Node,
    *,
    lists_table: str = "list_members",
    audiences: AudienceResolver | None = None,
    audience_sql: AudienceSql | None = None,
    scope_org_ids: Iterable[int] | None = None,
) -> exp.Expression:
    """The WHERE condition selecting the audience (and the scope, if given) from the feature table."""
    where = _Compiler(lists_table=lists_table, audiences=audiences, audience_sql=audience_sql).compile(expr)
    if scope_org_ids is not None:
        where = exp.and_(scope_condition(scope_org_ids), where)
    return where


def to_sqlglot(
    expr: Node,
    *,
    table: str = "features",
    lists_table: str = "list_members",
    audiences: AudienceResolver | None = None,
    audience_sql: AudienceSql | None = None,
    scope_org_ids: Iterable[int] | None = None,
) -> exp.Select:
    """``SELECT cid FROM <table> WHERE <audience>``.

    ``audiences`` resolves a saved audience to its expression, which is inlined; ``audience_sql``, if
    given, returns a query of cids for a saved audience instead (e.g. a frozen snapshot) or None. Such a
    query must not return null cids: ``NOT (cid IN (... NULL ...))`` is never true in SQL.
    """
    where = condition(expr, lists_table=lists_table, audiences=audiences, audience_sql=audience_sql,
                      scope_org_ids=scope_org_ids)
    return exp.select("cid").from_(exp.to_table(table)).where(where)


def estimate_sqlglot(
    expr: Node,
    *,
    breakdown: Sequence[str] = ("branch", "lifecycle_stage"),
    table: str = "features",
    lists_table: str = "list_members",
    audiences: AudienceResolver | None = None,
    audience_sql: AudienceSql | None = None,
    scope_org_ids: Iterable[int] | None = None,
) -> exp.Select:
    """The size of the audience and its breakdown in one scan (``GROUP BY GROUPING SETS``).

    Columns: one per dimension, one ``GROUPING(...)`` flag per dimension (``g0``, ``g1`` ...), then ``n``.
    ``read_estimate`` turns the rows into the shape of ``compiler.Estimate``.
    """
    where = condition(expr, lists_table=lists_table, audiences=audiences, audience_sql=audience_sql,
                      scope_org_ids=scope_org_ids)
    columns = [dimension_column(d) for d in breakdown]
    select = exp.select(
        *[exp.column(c) for c in columns],
        *[exp.func("GROUPING", exp.column(c)).as_(f"g{i}") for i, c in enumerate(columns)],
        exp.Count(this=exp.Star()).as_("n"),
    ).from_(exp.to_table(table)).where(where)
    sets = [exp.Tuple(expressions=[exp.column(c)]) for c in columns] + [exp.Tuple(expressions=[])]
    return select.group_by(exp.GroupingSets(expressions=sets))


def read_estimate(rows: Iterable[Sequence[Any]],
                  breakdown: Sequence[str]) -> tuple[int, dict[str, dict[Any, int]]]:
    """(total, {dimension: {value: count}}) from the rows of ``estimate_sqlglot``'s query."""
    k = len(breakdown)
    total = 0
    counts: dict[str, dict[Any, int]] = {d: {} for d in breakdown}
    for row in rows:
        values, flags, n = row[:k], row[k: 2 * k], int(row[2 * k])
        grouped = [i for i in range(k) if not flags[i]]
        if not grouped:
            total = n
        elif n:
            counts[breakdown[grouped[0]]][values[grouped[0]]] = n
    return total, counts


def to_sql(expr: Node, dialect: str, **options: Any) -> str:
    """``to_sqlglot`` rendered for ``dialect`` (duckdb, postgres or spark), identifiers quoted."""
    return to_sqlglot(expr, **options).sql(dialect=dialect, identify=True)
