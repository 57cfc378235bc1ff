"""Audience estimate benchmark (人群预估基准): the bitmap engine against DuckDB (and PostgreSQL) SQL.

Data: the demo bank's customers (``omniloop.demo.parquet.generate_parquet``), from which DuckDB derives a
feature table — the features the expressions use, org and branch ids from the demo layout, a simple
lifecycle stage and three synthetic tags. Every engine answers the same fixed expressions (3 to 8
predicates each, most with AUM ranges) with the same breakdown — by org (60 sub-branches), by branch (8)
and by lifecycle stage — and the answers must agree exactly, or the run fails. DuckDB runs the SQL of
``omniloop.audiences.sql`` over an in-memory copy of the table and is the reference; PostgreSQL runs
the same SQL when ``OMNILOOP_BENCH_DATABASE_URL`` is set.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyroaring import BitMap, FrozenBitMap

from omniloop.audiences import compiler
from omniloop.audiences.bitmap_index import BitmapIndex, bitmap_from_sorted
from omniloop.audiences.expression import Node, StaticCatalog, TagInfo, parse_and_validate
from omniloop.audiences.sql import estimate_sqlglot, read_estimate
from omniloop.demo.layout import build_layout
from omniloop.demo.parquet import CUSTOMERS_FILE, MONTHLY_FILE, generate_parquet
from omniloop.tags.features import Kind

ENGINES = ("bitmap", "duckdb", "postgres")
BREAKDOWN = ("org", "branch", "lifecycle_stage")
BENCH_DB_ENV = "OMNILOOP_BENCH_DATABASE_URL"
LIST_ID = 1
TAGS = {
    "value_tier": TagInfo("value_tier", Kind.enum, ("mass", "affluent", "hnw", "private")),
    "digital_active": TagInfo("digital_active", Kind.boolean),
    "churn_warning": TagInfo("churn_warning", Kind.enum, ("high", "medium", "low")),
}


def _feature(name: str, *values: Any) -> dict:
    return {"op": "feature", "feature": name, "in": list(values)}


def _range(name: str, low: Any = None, high: Any = None) -> dict:
    return {"op": "range", "feature": name, "min": low, "max": high}


def _tag(code: str, *values: Any) -> dict:
    return {"op": "tag", "tag": code, "values": list(values)}


def _and(*children: dict) -> dict:
    return {"op": "and", "children": list(children)}


def _or(*children: dict) -> dict:
    return {"op": "or", "children": list(children)}


def _not(child: dict) -> dict:
    return {"op": "not", "child": child}


# Marketing audiences an operator would compose; money in yuan.
EXPRESSIONS: dict[str, dict] = {
    "private_banking_prospects": _and(_range("aum", "500000", "6000000"), _feature("segment", "retail"),
                                      _range("age", 30, 60), _not(_tag("value_tier", "private"))),
    "card_activation": _and(_feature("has_credit_card", True), _feature("credit_card_activated", False),
                            _range("age", 23, 50), _range("aum", "1000")),
    "payroll_cross_sell": _and(_feature("payroll_flag", True), _not(_feature("has_credit_card", True)),
                               _range("aum", "10000", "500000"), _range("app_logins_month", 3)),
    "churn_rescue": _and(_tag("churn_warning", "high", "medium"), _range("aum", "100000"),
                         _or(_feature("lifecycle_stage", "retain", "grow"), _range("tenure_days", 365))),
    "young_digital": _and(_range("age", None, 30), _tag("digital_active", True),
                          _range("aum", "1000", "50000"), _feature("gender", "F")),
    "wealth_upgrade": {"op": "minus", "base": _range("aum", "200000"),
                       "subtract": [_feature("risk_level", "R1"), _tag("value_tier", "private"),
                                    _range("wealth", "100000")]},
    "business_owners": _and(_or(_and(_feature("segment", "small_business"), _range("loan", "100000")),
                                _and(_feature("segment", "corporate"), _range("aum", "1000000"))),
                            _range("aum_change_3m", "0.05")),
    "eight_conditions": _and(_range("aum", "50000", "5000000"), _range("age", 25, 65),
                             _feature("risk_level", "R2", "R3", "R4"), _feature("has_credit_card", True),
                             _tag("digital_active", True), _not(_feature("payroll_flag", True)),
                             _range("app_logins_3m", 5), _feature("lifecycle_stage", "grow", "retain")),
    "long_tail": _not(_or(_range("aum", "10000"), _tag("digital_active", True),
                          _feature("payroll_flag", True))),
    "falling_assets": _and(_range("aum_change_3m", None, "-0.2"), _range("aum_avg_3m", "100000"),
                           _feature("segment", "retail", "private")),
    "retirees_deposit_only": _and(_range("age", 55), _range("deposit", "200000"), _range("wealth", None, "0"),
                                  _feature("risk_level", "R1", "R2", "R3")),
    "uploaded_list_followup": _and({"op": "list", "list_id": LIST_ID}, _range("aum", "50000"),
                                   _feature("gender", "M")),
}


# ---- data -----------------------------------------------------------------------------------------------

def _org_table(seed: int) -> pa.Table:
    """Org ids as the demo database numbers them: head office 1, then branches, then sub-branches."""
    layout = build_layout(seed)
    ids = {org.code: i for i, org in enumerate(layout.orgs, start=1)}
    subs = layout.sub_branches
    return pa.table({
        "org_code": [s.code for s in subs],
        "org_id": pa.array([ids[s.code] for s in subs], pa.int64()),
        "branch_id": pa.array([ids[s.parent_code] for s in subs], pa.int64()),
    })


_FEATURE_SQL = """
WITH months AS (SELECT max(month) AS as_of FROM read_parquet($monthly)),
history AS (
    SELECT m.customer_no,
           sum(m.app_logins) FILTER (WHERE m.month > months.as_of - INTERVAL 3 MONTH) AS app_logins_3m,
           CAST(round(avg(m.aum_fen) FILTER (WHERE m.month > months.as_of - INTERVAL 3 MONTH)) AS BIGINT)
               AS aum_avg_3m_fen,
           any_value(m.aum_fen) FILTER (WHERE m.month = months.as_of - INTERVAL 3 MONTH) AS aum_3m_ago
    FROM read_parquet($monthly) m, months
    GROUP BY m.customer_no
),
base AS (
    SELECT CAST(substr(c.customer_no, 2) AS UINTEGER) AS cid, c.customer_no, o.org_id, o.branch_id,
           CAST(NULL AS BIGINT) AS rm_id,
           CAST(floor(date_diff('day', c.birth_date, months.as_of) / 365.25) AS INTEGER) AS age,
           c.gender, c.segment, c.risk_level, c.aum_fen, c.deposit_fen, c.wealth_fen, c.fund_fen,
           c.insurance_fen, c.loan_fen, c.has_credit_card, c.credit_card_activated, c.payroll_flag,
           CAST(c.app_logins_month AS INTEGER) AS app_logins_month,
           CAST(coalesce(h.app_logins_3m, 0) AS INTEGER) AS app_logins_3m,
           coalesce(h.aum_avg_3m_fen, 0) AS aum_avg_3m_fen,
           CASE WHEN h.aum_3m_ago > 0 THEN round(c.aum_fen / h.aum_3m_ago - 1, 4) END AS aum_change_3m,
           CAST(date_diff('day', c.first_account_date, months.as_of) AS INTEGER) AS tenure_days,
           c.first_account_date
    FROM read_parquet($customers) c
    CROSS JOIN months
    JOIN orgs o ON o.org_code = c.org_code
    LEFT JOIN history h ON h.customer_no = c.customer_no
)
SELECT *,
       CASE WHEN tenure_days < 180 THEN 'acquire'
            WHEN app_logins_3m = 0 AND aum_fen < 100000 THEN 'activate'
            WHEN aum_change_3m >= 0.1 THEN 'grow'
            WHEN aum_fen >= 50000000 THEN 'refer'
            ELSE 'retain' END AS lifecycle_stage,
       CASE WHEN aum_fen >= 600000000 THEN 'private' WHEN aum_fen >= 50000000 THEN 'hnw'
            WHEN aum_fen >= 5000000 THEN 'affluent' ELSE 'mass' END AS tag__value_tier,
       CASE WHEN app_logins_3m > 0 THEN app_logins_3m >= 6 END AS tag__digital_active,
       CASE WHEN aum_change_3m <= -0.3 THEN 'high' WHEN aum_change_3m <= -0.1 THEN 'medium'
            WHEN aum_change_3m IS NOT NULL THEN 'low' END AS tag__churn_warning
FROM base
WHERE cid <= $customers_wanted
ORDER BY cid
"""


def default_data_dir(customers: int, seed: int) -> Path:
    return Path(tempfile.gettempdir()) / "omniloop-bench-audience" / f"{customers}-{seed}"


def prepare_features(customers: int, *, seed: int, data_dir: Path | None = None,
                     cache_dir: Path | None = None,
                     log: Callable[[str], None] = print) -> tuple[pa.Table, dict[str, float]]:
    """The feature table of the first ``customers`` demo customers, derived once and cached.

    ``data_dir`` holds the Parquet of ``omniloop demo generate`` (it must have enough customers); without
    it the customers are generated into ``cache_dir`` (default: a directory under the system temp dir).
    """
    cache_dir = cache_dir or default_data_dir(customers, seed)
    timings: dict[str, float] = {}
    source = (data_dir or cache_dir) / CUSTOMERS_FILE
    available = pq.read_metadata(source).num_rows if source.exists() else 0
    if available < customers:
        if data_dir is not None:
            raise ValueError(f"{source} has {available:,} customers, fewer than {customers:,}")
        log(f"generating {customers:,} demo customers into {cache_dir}")
        started = time.perf_counter()
        generate_parquet(cache_dir, customers=customers, seed=seed)
        timings["generate_s"] = time.perf_counter() - started
    stat = source.stat()
    fingerprint = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{customers}"
    key = hashlib.sha1(fingerprint.encode()).hexdigest()[:12]
    cache = cache_dir / f"features-{key}.parquet"
    if cache.exists():
        return pq.read_table(cache), timings
    log("deriving the feature table with DuckDB")
    started = time.perf_counter()
    con = duckdb.connect()
    con.register("orgs", _org_table(seed))
    params = {"customers": str(source), "monthly": str(source.parent / MONTHLY_FILE),
              "customers_wanted": customers}
    table = con.sql(_FEATURE_SQL, params=params).to_arrow_table()
    con.close()
    timings["derive_s"] = time.perf_counter() - started
    if table.num_rows != customers:
        raise RuntimeError(f"derived {table.num_rows} feature rows, expected {customers}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, cache)
    return table, timings


def uploaded_list(table: pa.Table, *, seed: int) -> BitMap:
    """A list of 1 % of the customers, as an uploaded list would be."""
    cids = table["cid"].to_numpy()
    rng = np.random.default_rng([seed, 7])
    return bitmap_from_sorted(np.sort(rng.choice(cids, max(1, len(cids) // 100), replace=False)))


# ---- engines --------------------------------------------------------------------------------------------

Answer = tuple[int, dict[str, dict[Any, int]]]


def _normalise(answer: Answer) -> Answer:
    total, breakdown = answer
    return total, {d: {(None if k is None else str(k)): int(v) for k, v in counts.items()}
                   for d, counts in breakdown.items()}


class _Queries(dict):
    """Estimate queries rendered once per expression: SQL engines are timed running them, not SQLGlot."""

    def __init__(self, dialect: str) -> None:
        super().__init__()
        self.dialect = dialect

    def of(self, node: Node) -> str:
        if id(node) not in self:
            self[id(node)] = estimate_sqlglot(node, breakdown=BREAKDOWN).sql(dialect=self.dialect, identify=True)
        return self[id(node)]


class BitmapEngine:
    name = "bitmap"
    in_process = True

    def __init__(self, table: pa.Table, lists: dict[int, BitMap]) -> None:
        started = time.perf_counter()
        self.index = BitmapIndex.build(table, tag_columns={code: info.kind for code, info in TAGS.items()})
        self.build_s = time.perf_counter() - started
        self.memory_mb = self.index.memory_bytes()["total"] / 2**20
        # Uploaded lists do not change: frozen, their translation to index rows is remembered.
        self.lists = {k: FrozenBitMap(v) for k, v in lists.items()}

    def answer(self, node: Node) -> Answer:
        result = compiler.estimate(node, self.index, lists=self.lists, breakdown=BREAKDOWN)
        return result.total, result.breakdown

    def close(self) -> None:
        del self.index  # hundreds of megabytes at ten million customers


class DuckDBEngine:
    name = "duckdb"
    in_process = True

    def __init__(self, table: pa.Table, lists: dict[int, BitMap]) -> None:
        started = time.perf_counter()
        self.queries = _Queries("duckdb")
        self.con = duckdb.connect()
        self.con.register("feature_source", table)
        self.con.execute("CREATE TABLE features AS SELECT * FROM feature_source")
        self.con.unregister("feature_source")
        self.con.register("list_source", _list_table(lists))
        self.con.execute("CREATE TABLE list_members AS SELECT * FROM list_source")
        self.con.unregister("list_source")
        self.build_s = time.perf_counter() - started
        used = self.con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0]
        self.memory_mb = float(used or 0) / 2**20

    def answer(self, node: Node) -> Answer:
        return read_estimate(self.con.execute(self.queries.of(node)).fetchall(), BREAKDOWN)

    def close(self) -> None:
        self.con.close()


def _list_table(lists: dict[int, BitMap]) -> pa.Table:
    none = [np.zeros(0, np.int64)]
    ids = np.concatenate([np.full(len(b), k, dtype=np.int64) for k, b in lists.items()] or none)
    cids = np.concatenate([np.asarray(b.to_array(), dtype=np.int64) for b in lists.values()] or none)
    return pa.table({"list_id": ids, "cid": cids})


_PG_TYPES = {pa.uint32(): "bigint", pa.int64(): "bigint", pa.int32(): "integer",
             pa.float64(): "double precision",
             pa.bool_(): "boolean", pa.string(): "text", pa.large_string(): "text", pa.date32(): "date"}


def copy_to_postgres(conn: Any, table: pa.Table, name: str, *, schema: str | None = None) -> None:
    """(Re)create table ``name`` like ``table`` and fill it with COPY (CSV written by DuckDB, streamed)."""
    qualified = f'"{schema}"."{name}"' if schema else f'"{name}"'
    columns = ", ".join(f'"{f.name}" {_PG_TYPES[f.type]}' for f in table.schema)
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / f"{name}.csv"
        con = duckdb.connect()
        con.register("source", table)
        con.execute(f"COPY source TO '{csv_path}' (FORMAT csv, HEADER false)")
        con.close()
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {qualified}")
            cur.execute(f"CREATE UNLOGGED TABLE {qualified} ({columns})")
            with cur.copy(f"COPY {qualified} FROM STDIN WITH (FORMAT csv)") as copy, \
                    open(csv_path, "rb") as f:
                while block := f.read(1 << 20):
                    copy.write(block)
            cur.execute(f"ANALYZE {qualified}")
    conn.commit()


def psycopg_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://``) as libpq takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class PostgresEngine:
    name = "postgres"
    in_process = False

    def __init__(self, table: pa.Table, lists: dict[int, BitMap], url: str) -> None:
        import psycopg

        started = time.perf_counter()
        self.queries = _Queries("postgres")
        self.conn = psycopg.connect(psycopg_url(url))
        copy_to_postgres(self.conn, table, "features")
        copy_to_postgres(self.conn, _list_table(lists), "list_members")
        self.build_s = time.perf_counter() - started
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_total_relation_size('features') + pg_total_relation_size('list_members')")
            self.memory_mb = cur.fetchone()[0] / 2**20  # on disk: PostgreSQL reads through its buffer cache

    def answer(self, node: Node) -> Answer:
        with self.conn.cursor() as cur:
            cur.execute(self.queries.of(node))
            return read_estimate(cur.fetchall(), BREAKDOWN)

    def close(self) -> None:
        self.conn.close()


# ---- the run --------------------------------------------------------------------------------------------

def _load() -> list[float]:
    """The 1, 5 and 15 minute load averages: other work on the machine slows every engine down."""
    return [round(x, 2) for x in os.getloadavg()]


def _percentile(samples: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q))


def _time(engine: Any, nodes: dict[str, Node], repetitions: int,
          warmup: int) -> tuple[dict[str, Answer], dict]:
    answers: dict[str, Answer] = {}
    wall: list[float] = []
    cpu: list[float] = []
    per_expression: dict[str, dict[str, float]] = {}
    for name, node in nodes.items():
        for _ in range(warmup):
            answers[name] = engine.answer(node)
        times = []
        for _ in range(repetitions):
            started, started_cpu = time.perf_counter(), time.process_time()
            engine.answer(node)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        wall.extend(times)
        per_expression[name] = {"p50_ms": round(statistics.median(times), 3), "total": answers[name][0]}
    result = {
        "p50_ms": round(_percentile(wall, 50), 3),
        "p95_ms": round(_percentile(wall, 95), 3),
        "build_s": round(engine.build_s, 3),
        "memory_mb": round(engine.memory_mb, 1),
    }
    if engine.in_process:  # CPU time of this process, all its threads: less sensitive to a busy machine
        result["cpu_p50_ms"] = round(_percentile(cpu, 50), 3)
    result["expressions"] = per_expression
    return answers, result


def run(
    customers: int,
    *,
    json_path: Path | str | None = None,
    engines: Sequence[str] = ENGINES,
    seed: int = 42,
    repetitions: int = 30,
    warmup: int = 2,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Run the benchmark; write the result to ``json_path`` (if given) and return it.

    Raises ``RuntimeError`` if any two engines disagree on any expression's size or breakdown.
    """
    unknown = set(engines) - set(ENGINES)
    if unknown:
        raise ValueError(f"unknown engines: {sorted(unknown)} (choose from {', '.join(ENGINES)})")
    if "duckdb" not in engines:
        raise ValueError("duckdb is the reference engine and must run")
    load_start = _load()
    table, data_timings = prepare_features(customers, seed=seed, data_dir=data_dir, cache_dir=cache_dir,
                                           log=log)
    lists = {LIST_ID: uploaded_list(table, seed=seed)}
    catalog = StaticCatalog(tags=TAGS, lists=set(lists))
    nodes = {name: parse_and_validate(expr, catalog) for name, expr in EXPRESSIONS.items()}

    results: dict[str, Any] = {}
    answers: dict[str, dict[str, Answer]] = {}
    for name in engines:
        if name == "postgres" and not os.environ.get(BENCH_DB_ENV):
            results[name] = {"skipped": f"{BENCH_DB_ENV} is not set"}
            log(f"postgres: skipped ({BENCH_DB_ENV} is not set)")
            continue
        log(f"{name}: loading {customers:,} customers")
        engine = (BitmapEngine(table, lists) if name == "bitmap"
                  else DuckDBEngine(table, lists) if name == "duckdb"
                  else PostgresEngine(table, lists, os.environ[BENCH_DB_ENV]))
        try:
            answers[name], results[name] = _time(engine, nodes, repetitions, warmup)
        finally:
            engine.close()
        log(f"{name}: p50 {results[name]['p50_ms']} ms, p95 {results[name]['p95_ms']} ms, "
            f"build {results[name]['build_s']} s, {results[name]['memory_mb']} MB")

    reference = {k: _normalise(v) for k, v in answers["duckdb"].items()}
    for name, found in answers.items():
        for expression, answer in found.items():
            if _normalise(answer) != reference[expression]:
                raise RuntimeError(f"{name} disagrees with duckdb on {expression}: "
                                   f"{_normalise(answer)[0]} vs {reference[expression][0]} customers")

    layout = build_layout(seed)
    result = {
        "name": "audience",
        "params": {
            "customers": customers, "seed": seed, "engines": list(engines), "repetitions": repetitions,
            "warmup": warmup, "expressions": len(nodes), "breakdown": list(BREAKDOWN),
            "orgs": {"sub_branches": len(layout.sub_branches), "branches": len(layout.branches)},
            "measured": "one estimate: size and breakdown by org, branch and lifecycle stage "
                        "(bitmap: also every condition's own count)",
            "cpus": os.cpu_count(), "load_average": {"start": load_start, "end": _load()},
            "python": platform.python_version(), "duckdb": duckdb.__version__, **data_timings,
        },
        "results": results,
        "reference": "duckdb",
        "ratio": (round(results["duckdb"]["p50_ms"] / results["bitmap"]["p50_ms"], 2)
                  if "bitmap" in answers else None),
        "agreement": "all engines returned the same size and breakdown for every expression",
    }
    if json_path is not None:
        Path(json_path).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return result
