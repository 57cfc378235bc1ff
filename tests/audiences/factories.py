"""Generated feature tables, lists, saved audiences and random expressions for the audience tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from pyroaring import BitMap

from omniloop.audiences.expression import StaticCatalog, TagInfo, parse_expression
from omniloop.tags.features import FEATURES, Kind

BRANCHES = {2: [10, 11, 12, 13], 3: [14, 15, 16, 17], 4: [18, 19, 20, 21]}
SUB_BRANCH_PARENT = {sub: branch for branch, subs in BRANCHES.items() for sub in subs}
TAGS = {
    "vip": TagInfo("vip", Kind.enum, ("gold", "silver", "bronze", "platinum")),  # nobody is platinum
    "churn_risk": TagInfo("churn_risk", Kind.boolean),
    "tier": TagInfo("tier", Kind.enum, tuple(f"t{i:02d}" for i in range(40))),
}
TAG_KINDS = {code: info.kind for code, info in TAGS.items()}
VALUE_FEATURES = ("gender", "segment", "risk_level", "has_credit_card", "payroll_flag", "lifecycle_stage")
RANGE_FEATURES = ("age", "aum", "loan", "aum_change_3m", "app_logins_month", "tenure_days", "first_account_date")


def _with_nulls(rng: np.random.Generator, values: np.ndarray, rate: float) -> pa.Array:
    return pa.array(values, mask=rng.random(len(values)) < rate)


def _pick(rng: np.random.Generator, choices: tuple, n: int, rate: float = 0.0) -> pa.Array:
    return pa.array(np.array(choices, dtype=object)[rng.integers(0, len(choices), n)].tolist(),
                    mask=rng.random(n) < rate, type=pa.string())


def feature_table(n: int = 20_000, *, seed: int = 7) -> pa.Table:
    """A feature table with sparse cids, nulls where the schema allows them (and in a boolean), ties."""
    rng = np.random.default_rng(seed)
    cids = rng.choice(50 * n, size=n, replace=False).astype(np.uint32) + 1
    subs = np.array(sorted(SUB_BRANCH_PARENT))
    org = subs[rng.integers(0, len(subs), n)]
    aum = np.round(np.exp(rng.normal(np.log(20_000), 2.0, n)) * 100).astype(np.int64)
    aum[rng.random(n) < 0.05] = 0
    loan = np.where(rng.random(n) < 0.2, rng.integers(1, 10**9, n), 0)
    change = np.round(rng.normal(0, 0.4, n), 3)  # rounded: many customers share a value
    change[rng.random(n) < 0.02] = -1.0
    return pa.table({
        "cid": pa.array(cids, pa.uint32()),
        "customer_no": pa.array([f"C{c:010d}" for c in cids]),
        "org_id": pa.array(org, pa.int64()),
        "branch_id": pa.array([SUB_BRANCH_PARENT[o] for o in org.tolist()], pa.int64()),
        "rm_id": _with_nulls(rng, rng.integers(1, 60, n), 0.3),
        "age": _with_nulls(rng, rng.integers(18, 90, n), 0.05),
        "gender": _pick(rng, ("M", "F"), n, 0.05),
        "segment": _pick(rng, ("retail", "private", "corporate", "small_business"), n),
        "risk_level": _pick(rng, ("R1", "R2", "R3", "R4", "R5"), n, 0.3),
        "aum_fen": pa.array(aum, pa.int64()),
        "loan_fen": pa.array(loan, pa.int64()),
        "aum_change_3m": _with_nulls(rng, change, 0.1),
        "has_credit_card": pa.array(rng.random(n) < 0.4),
        "payroll_flag": _with_nulls(rng, rng.random(n) < 0.3, 0.05),
        "app_logins_month": pa.array(rng.poisson(4, n), pa.int64()),
        "tenure_days": _with_nulls(rng, rng.integers(-30, 9000, n), 0.05),
        "first_account_date": _with_nulls(rng, np.datetime64("2000-01-02") + rng.integers(0, 9000, n), 0.05),
        "lifecycle_stage": _pick(rng, ("acquire", "activate", "grow", "retain", "refer"), n, 0.1),
        "tag__vip": _pick(rng, ("gold", "silver", "bronze"), n, 0.7),
        "tag__churn_risk": _with_nulls(rng, rng.random(n) < 0.2, 0.4),
        "tag__tier": _pick(rng, TAGS["tier"].values, n, 0.2),
    })


def customer_lists(table: pa.Table, *, seed: int = 7) -> dict[int, BitMap]:
    """Three uploaded lists: a sample of customers plus cids that are not in the table; one is empty."""
    rng = np.random.default_rng(seed + 2)
    cids = table["cid"].to_numpy()
    strangers = (np.uint32(2**31) + rng.integers(0, 1000, 50)).astype(np.uint32)
    return {
        1: BitMap(np.concatenate([rng.choice(cids, len(cids) // 10, replace=False), strangers]).tolist()),
        2: BitMap(rng.choice(cids, 300, replace=False).tolist()),
        3: BitMap(),
    }


def saved_audiences() -> dict[int, Any]:
    """Saved audiences 100 (high AUM) and 101 (refers to 100), as parsed expressions."""
    return {
        100: parse_expression({"op": "range", "feature": "aum", "min": "100000"}),
        101: parse_expression({"op": "or", "children": [
            {"op": "audience", "audience_id": 100},
            {"op": "tag", "tag": "vip", "values": ["gold"]},
        ]}),
    }


def catalog() -> StaticCatalog:
    return StaticCatalog(tags=TAGS, lists={1, 2, 3}, audiences=saved_audiences())


# ---- random expressions ---------------------------------------------------------------------------------

def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _bound(table: pa.Table, feature: str, rng: np.random.Generator) -> Any:
    spec = FEATURES[feature]
    values = [v for v in table[spec.column].to_pylist() if v is not None]
    value = values[int(rng.integers(0, len(values)))]  # an existing value: bounds hit rows exactly
    if spec.kind is Kind.money:
        if rng.random() < 0.3:
            value += int(rng.integers(-5, 6))
        return _yuan(value)
    if spec.kind is Kind.ratio:
        return repr(value) if rng.random() < 0.7 else repr(round(value + float(rng.normal(0, 0.01)), 6))
    if spec.kind is Kind.date:
        return value.isoformat()
    return int(value) + (int(rng.integers(-2, 3)) if rng.random() < 0.3 else 0)


def _leaf(table: pa.Table, rng: np.random.Generator) -> dict:
    kind = rng.choice(["tag", "feature", "range", "range", "list", "audience"])
    if kind == "tag":
        code = str(rng.choice(list(TAGS)))
        info = TAGS[code]
        choices = [True, False] if info.kind is Kind.boolean else list(info.values)
        k = int(rng.integers(1, min(4, len(choices)) + 1))
        return {"op": "tag", "tag": code, "values": [choices[i] for i in rng.choice(len(choices), k, replace=False)]}
    if kind == "feature":
        name = str(rng.choice(VALUE_FEATURES))
        spec = FEATURES[name]
        choices = [True, False] if spec.kind is Kind.boolean else list(spec.values)
        k = int(rng.integers(1, len(choices) + 1))
        return {"op": "feature", "feature": name, "in": [choices[i] for i in rng.choice(len(choices), k, replace=False)]}
    if kind == "range":
        name = str(rng.choice(RANGE_FEATURES))
        low, high = _bound(table, name, rng), _bound(table, name, rng)
        spec = FEATURES[name]
        if spec.kind is Kind.money:
            low, high = sorted([low, high], key=lambda y: float(y))
        elif spec.kind is Kind.ratio:
            low, high = sorted([low, high], key=float)
        else:
            low, high = sorted([low, high])
        shape = rng.random()
        return {"op": "range", "feature": name, "min": None if shape < 0.25 else low,
                "max": None if 0.25 <= shape < 0.5 else high}
    if kind == "list":
        return {"op": "list", "list_id": int(rng.integers(1, 4))}
    return {"op": "audience", "audience_id": int(rng.choice([100, 101]))}


def random_expression(table: pa.Table, rng: np.random.Generator, depth: int = 0) -> dict:
    if depth >= 4 or rng.random() < 0.3 + 0.15 * depth:
        return _leaf(table, rng)
    op = rng.choice(["and", "or", "not", "minus"], p=[0.35, 0.3, 0.15, 0.2])
    if op == "not":
        return {"op": "not", "child": random_expression(table, rng, depth + 1)}
    if op == "minus":
        return {"op": "minus", "base": random_expression(table, rng, depth + 1),
                "subtract": [random_expression(table, rng, depth + 1) for _ in range(int(rng.integers(1, 3)))]}
    return {"op": str(op), "children": [random_expression(table, rng, depth + 1)
                                        for _ in range(int(rng.integers(1, 4)))]}


EVERYONE = {"op": "feature", "feature": "segment", "in": ["retail", "private", "corporate", "small_business"]}
EDGE_CASES: list[dict] = [
    {"op": "not", "child": EVERYONE},  # NOT of everything: nobody
    {"op": "not", "child": {"op": "not", "child": EVERYONE}},
    {"op": "tag", "tag": "vip", "values": ["platinum"]},  # a value nobody has
    {"op": "not", "child": {"op": "tag", "tag": "vip", "values": ["platinum"]}},  # everybody
    {"op": "not", "child": {"op": "feature", "feature": "risk_level", "in": ["R1", "R2", "R3", "R4", "R5"]}},  # nulls
    {"op": "not", "child": {"op": "range", "feature": "age", "min": 0}},  # null age only
    {"op": "or", "children": [{"op": "tag", "tag": "churn_risk", "values": [True]},
                              {"op": "not", "child": {"op": "tag", "tag": "churn_risk", "values": [True]}}]},
    {"op": "minus", "base": EVERYONE, "subtract": [{"op": "range", "feature": "aum", "max": "1000"}]},
    {"op": "and", "children": [{"op": "list", "list_id": 3}, EVERYONE]},  # the empty list
    {"op": "not", "child": {"op": "list", "list_id": 1}},
    {"op": "range", "feature": "aum_change_3m", "min": "-1", "max": "-1"},  # a tie shared by many rows
    {"op": "range", "feature": "tenure_days", "max": -1},  # negative values
    {"op": "range", "feature": "first_account_date", "min": "2010-01-01", "max": "2012-12-31"},
    {"op": "range", "feature": "aum", "min": "0", "max": "0"},
    {"op": "range", "feature": "loan", "min": "99999999999"},  # above every value
    {"op": "and", "children": [{"op": "audience", "audience_id": 101},
                               {"op": "not", "child": {"op": "feature", "feature": "payroll_flag", "in": [True]}}]},
]


def expressions(table: pa.Table, *, count: int = 40, seed: int = 11) -> list[dict]:
    """The edge cases, then random trees up to ``count`` in all."""
    rng = np.random.default_rng(seed)
    result = list(EDGE_CASES)
    while len(result) < count:
        result.append(random_expression(table, rng))
    return result


def list_members_table(lists: dict[int, BitMap]) -> pa.Table:
    return pa.table({
        "list_id": pa.array([k for k, cids in lists.items() for _ in cids], pa.int64()),
        "cid": pa.array([c for cids in lists.values() for c in cids], pa.int64()),
    })


def duckdb_connection(table: pa.Table, lists: dict[int, BitMap]):
    """An in-memory DuckDB with ``features`` and ``list_members``."""
    import duckdb

    con = duckdb.connect()
    con.register("feature_source", table)
    con.execute("CREATE TABLE features AS SELECT * FROM feature_source")
    con.register("list_source", list_members_table(lists))
    con.execute("CREATE TABLE list_members AS SELECT * FROM list_source")
    return con
