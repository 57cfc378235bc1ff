"""The customer feature table (客户特征库): how it is built, versioned, refreshed and read.

One row a customer: ``KEY_COLUMNS`` then every feature of ``omniloop.tags.features.FEATURES`` in its
storage column (money in integer fen). Tag rules and audience estimates read it through DuckDB.

Versions, one writer, many readers
----------------------------------
DuckDB admits one writing process, and production runs the API and the workers as separate
processes. So nobody writes a DuckDB database file here. The worker publishes each build as an
immutable Parquet file in its own directory, and flips a pointer::

    root/features/v000007/features.parquet   the rows, sorted by cid
    root/features/v000007/manifest.json      version, created_at (UTC), rows, source, columns, sha256, as_of
    root/features/CURRENT                    "v000007", replaced atomically (temp file + os.replace)

A reader (an API process) opens an in-memory DuckDB with a view ``features`` over the current file.
It holds no lock on anything, so any number of readers and the one publisher never block each other.
A reader keeps reading its version — consistently, since the file never changes — until it calls
``refresh()``. Readers register a lease file naming their version, so pruning (which keeps the newest
``keep`` versions) never deletes a version a live reader is using.

Building and refreshing
-----------------------
``build_features`` reads the operational tables (customers, customer_monthly, orgs) through SQLAlchemy
in chunks (server-side cursors on PostgreSQL) into temporary Parquet files, then computes the features
with DuckDB (a per-customer history aggregate, then one join and sort), which spills to disk past its
memory limit, so memory stays bounded at any size: 10 M customers build in under 1.2 GB with a 1 GB limit.
DuckDB's own sqlite/postgres scanners would need extensions downloaded from the network, which a bank's
servers do not have.

``refresh_features`` is the incremental path: it recomputes only customers changed since the previous
version (``customers.updated_at``, plus ids a caller names, e.g. the monthly-history loader), and
writes previous rows − removed − changed + recomputed as the next version, in one DuckDB query over
the previous Parquet file and the delta. Anything that changes every row — a new ``as_of`` month, a
changed schema, or a delta larger than ``full_threshold`` of the table — makes it a full rebuild.

Feature definitions (``as_of`` is a business date; its month ``m`` is the latest month of history)
-----------------------------------------------------------------------------------------------
* ``age``: whole years from ``birth_date`` to ``as_of`` (a 29 February birthday counts on 1 March).
* ``aum``, ``deposit`` … ``loan``, flags, ``app_logins_month``: the customer row as it is.
* History comes from ``customer_monthly`` (month-end AUM and that month's logins, ``month`` the first
  day of the month); a month without a row counts as zero AUM and zero logins (the customer had none).
* ``aum_avg_3m``: mean of the month-end AUM of ``m-2``, ``m-1``, ``m``, i.e. their sum / 3, rounded to
  the nearest fen (a third of an integer is never exactly half a fen, so there are no ties).
* ``aum_max_12m``: highest month-end AUM of ``m-11`` … ``m`` (0 without history).
* ``aum_change_3m``: (AUM of ``m`` − AUM of ``m-3``) / AUM of ``m-3``; null when ``m-3`` has no row
  or zero AUM.
* ``product_count``: how many of deposit, wealth, fund, insurance, loan are > 0, plus a credit card.
* ``app_logins_3m``: logins in ``m-2`` … ``m``. ``months_since_login``: months from the latest month
  with a login (up to ``m``) to ``m``; 0 when logged in during ``m``; null when never.
* ``tenure_days``: days from ``first_account_date`` to ``as_of``.
* ``lifecycle_stage`` / ``lifecycle_status``: the customer row's, when the table has the column.
* ``branch_id``: the customer org's ancestor (or itself) whose level is ``branch``; null if none.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
import uuid
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Select, func, literal, select
from sqlalchemy.orm import Session

from omniloop.core.db import utcnow
from omniloop.customers.models import Customer, CustomerMonthly
from omniloop.org.models import Org
from omniloop.tags.features import FEATURES, KEY_COLUMNS, Kind

DATA_FILE = "features.parquet"
MANIFEST_FILE = "manifest.json"
ROW_GROUP_SIZE = 262_144  # enough row groups for DuckDB to scan a 10 M-row file on every core
FETCH_ROWS = 20_000  # rows a database round trip, and rows an Arrow batch while extracting
ID_CHUNK = 5_000  # ids in one IN (…) list: far below SQLite's and PostgreSQL's parameter limits
# Refreshes start this far before the previous build's high-water mark, so a transaction that
# committed after that build but stamped an earlier updated_at is still picked up (recomputing a row
# twice is harmless).
WATERMARK_OVERLAP = timedelta(minutes=10)
# A reader's lease from another host (shared storage) counts as live this long after its last refresh.
LEASE_TTL = timedelta(hours=24)
# A crashed publisher's staging or build directory is removed after this (no build takes that long).
STAGING_TTL = timedelta(hours=6)

_ARROW_TYPES = {Kind.integer: pa.int64(), Kind.money: pa.int64(), Kind.ratio: pa.float64(),
                Kind.boolean: pa.bool_(), Kind.enum: pa.string(), Kind.date: pa.date32()}
_KEY_TYPES = {"cid": pa.int64(), "customer_no": pa.string(), "org_id": pa.int64(), "branch_id": pa.int64(),
              "rm_id": pa.int64()}
_DUCKDB_TYPES = {pa.int64(): "BIGINT", pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN", pa.string(): "VARCHAR",
                 pa.date32(): "DATE"}


def feature_schema() -> pa.Schema:
    """The feature table's columns: ``KEY_COLUMNS`` then each feature's storage column."""
    assert tuple(_KEY_TYPES) == KEY_COLUMNS, "KEY_COLUMNS changed: update _KEY_TYPES"
    return pa.schema([pa.field(name, kind) for name, kind in _KEY_TYPES.items()]
                     + [pa.field(f.column, _ARROW_TYPES[f.kind]) for f in FEATURES.values()])


def _same_columns(a: pa.Schema, b: pa.Schema) -> bool:
    return [(f.name, f.type) for f in a] == [(f.name, f.type) for f in b]


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _version_name(version: int) -> str:
    return f"v{version:06d}"


# ---- the versioned store -----------------------------------------------------------------------------


class FeatureStore:
    """Immutable, numbered versions of the feature table under ``root/features`` and the CURRENT pointer.

    Publishing is for one process at a time (the worker); a lock file serialises accidental concurrent
    publishers. Reading is for any number of processes and never takes that lock.
    """

    def __init__(self, root: Path, *, name: str = "features", keep: int = 5) -> None:
        """Versions live in ``root/name``; readers see the current one as a DuckDB view called ``name``."""
        if keep < 1:
            raise ValueError("keep at least one version")
        if not name.isidentifier():
            raise ValueError(f"store name {name!r} must be an identifier (it names the reader's view)")
        self.root = Path(root)
        self.name = name
        self.dir = self.root / name
        self.keep = keep

    # -- reading the layout -------------------------------------------------------------------------

    @property
    def _current_file(self) -> Path:
        return self.dir / "CURRENT"

    @property
    def _leases(self) -> Path:
        return self.dir / "readers"

    def current_version(self) -> int | None:
        try:
            name = self._current_file.read_text().strip()
        except FileNotFoundError:
            return None
        return int(name.removeprefix("v"))

    def versions(self) -> list[int]:
        if not self.dir.exists():
            return []
        return sorted(int(p.name[1:]) for p in self.dir.iterdir()
                      if p.is_dir() and p.name.startswith("v") and p.name[1:].isdigit())

    def path(self, version: int) -> Path:
        """The Parquet file of ``version``."""
        return self.dir / _version_name(version) / DATA_FILE

    def version_dir(self, version: int) -> Path:
        """The directory of ``version``: its Parquet file, manifest and any files published with it."""
        return self.dir / _version_name(version)

    def manifest(self, version: int | None = None) -> dict[str, Any]:
        version = self.current_version() if version is None else version
        if version is None:
            raise FileNotFoundError(f"no feature version published under {self.dir}")
        return json.loads((self.dir / _version_name(version) / MANIFEST_FILE).read_text())

    # -- publishing ---------------------------------------------------------------------------------

    def publish(
        self,
        data: pa.Table | Path,
        *,
        source: str,
        as_of: date | None = None,
        watermark: datetime | None = None,
        move: bool = False,
        files: Mapping[str, Path] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> int:
        """Store ``data`` (a table, or a Parquet file — moved rather than copied if ``move``) as the
        next version, make it current and prune; returns the version number.

        ``files`` maps names to files or directories published in the version's directory beside the
        data (moved if ``move``), e.g. a bitmap index built from it; ``meta`` adds keys to the manifest.

        The slow part (writing and hashing the file) happens in a staging directory before the lock
        is taken; under the lock only renames happen, so a reader never sees a half-written version.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        staging = self.dir / f".staging-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            target = staging / DATA_FILE
            if isinstance(data, pa.Table):
                pq.write_table(data, target, compression="zstd", row_group_size=ROW_GROUP_SIZE)
            elif move:
                shutil.move(data, target)
            else:
                shutil.copyfile(data, target)
            _fsync(target)
            for name, extra in (files or {}).items():
                if name in (DATA_FILE, MANIFEST_FILE) or "/" in name or name.startswith("."):
                    raise ValueError(f"cannot publish a file called {name!r}")
                if move:
                    shutil.move(extra, staging / name)
                elif Path(extra).is_dir():
                    shutil.copytree(extra, staging / name)
                else:
                    shutil.copyfile(extra, staging / name)
            metadata = pq.read_metadata(target)
            schema = metadata.schema.to_arrow_schema()
            if "cid" not in schema.names:
                raise ValueError("a feature table needs a cid column")
            manifest = {
                "version": None,  # filled in under the lock
                "created_at": utcnow().isoformat(),
                "rows": metadata.num_rows,
                "source": source,
                "as_of": as_of.isoformat() if as_of else None,
                "watermark": watermark.isoformat() if watermark else None,
                "columns": [{"name": f.name, "type": str(f.type)} for f in schema],
                "file": DATA_FILE,
                "bytes": target.stat().st_size,
                "sha256": _sha256(target),
                "files": sorted(files or {}),
                **dict(meta or {}),
            }
            with self._lock():
                version = max(self.versions(), default=0) + 1
                manifest["version"] = version
                (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
                _fsync(staging / MANIFEST_FILE)
                final = self.dir / _version_name(version)
                os.rename(staging, final)
                _fsync(self.dir)
                self._point_to(version)
                self._prune_locked()
            return version
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _point_to(self, version: int) -> None:
        temp = self.dir / f".CURRENT-{uuid.uuid4().hex}"
        temp.write_text(_version_name(version) + "\n")
        _fsync(temp)
        os.replace(temp, self._current_file)  # atomic: readers see the old name or the new, never neither
        _fsync(self.dir)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with (self.dir / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- pruning ------------------------------------------------------------------------------------

    def prune(self) -> list[int]:
        """Delete versions beyond the newest ``keep`` that are neither current nor leased; returns them."""
        with self._lock():
            return self._prune_locked()

    def _prune_locked(self) -> list[int]:
        versions = self.versions()
        protected = set(versions[-self.keep:]) | self._leased_versions()
        current = self.current_version()
        if current is not None:
            protected.add(current)
        removed = [v for v in versions if v not in protected]
        for version in removed:
            shutil.rmtree(self.dir / _version_name(version), ignore_errors=True)
        cutoff = time.time() - STAGING_TTL.total_seconds()
        for leftover in [*self.dir.glob(".staging-*"), *self.dir.glob(".build-*")]:
            if leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover, ignore_errors=True)
        return removed

    def _leased_versions(self) -> set[int]:
        """Versions held by live readers; leases of dead processes are removed on the way."""
        if not self._leases.exists():
            return set()
        host = socket.gethostname()
        cutoff = time.time() - LEASE_TTL.total_seconds()
        live = set()
        for lease in self._leases.glob("*.json"):
            try:
                info = json.loads(lease.read_text())
                mtime = lease.stat().st_mtime
            except (FileNotFoundError, json.JSONDecodeError):
                continue  # being replaced or removed by its reader right now
            if info["host"] == host:
                alive = _pid_alive(info["pid"])
            else:
                alive = mtime >= cutoff
            if alive:
                live.update(int(v) for v in info["versions"])
            else:
                lease.unlink(missing_ok=True)
        return live

    # -- reading ------------------------------------------------------------------------------------

    def open_reader(self, *, threads: int | None = None) -> FeatureReader:
        return FeatureReader(self, threads=threads)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


class FeatureReader:
    """A read-only view of one feature version: an in-memory DuckDB with a view ``features``.

    Queries see the version that was current when the reader opened or last refreshed, however many
    versions are published meanwhile. ``refresh()`` moves to the current one.
    """

    def __init__(self, store: FeatureStore, *, threads: int | None = None) -> None:
        self.store = store
        config = {"threads": threads} if threads else {}
        self.connection = duckdb.connect(":memory:", config=config)
        self.version: int | None = None
        self._lease = store._leases / f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex}.json"
        # A reader dropped without close() still gives up its lease.
        self._finalizer = weakref.finalize(self, self._lease.unlink, missing_ok=True)
        if not self.refresh():
            self.close()
            raise FileNotFoundError(f"no feature version published under {store.dir}")

    def refresh(self) -> bool:
        """Switch to the current version if it is newer; True when a version is (now) open."""
        for _ in range(10):
            current = self.store.current_version()
            if current is None:
                return False
            if current == self.version:
                self._write_lease(current)  # keeps a lease on shared storage fresh
                return True
            # Lease first, then check the file: once leased, pruning cannot take the version away. The
            # old version stays leased until the view has moved, for queries still running on it.
            held = [v for v in (self.version, current) if v is not None]
            self._write_lease(*held)
            path = self.store.path(current)
            if not path.exists():  # pruned between reading CURRENT and leasing it: read CURRENT again
                continue
            self.connection.execute(
                f"CREATE OR REPLACE VIEW {self.store.name} AS SELECT * FROM read_parquet({_sql_path(path)})")
            self.version = current
            self._write_lease(current)
            return True
        raise RuntimeError("the current feature version kept disappearing while opening it")

    def is_current(self) -> bool:
        return self.version == self.store.current_version()

    def _write_lease(self, *versions: int) -> None:
        self._lease.parent.mkdir(parents=True, exist_ok=True)
        temp = self._lease.with_suffix(".tmp")
        temp.write_text(json.dumps({"versions": list(versions), "pid": os.getpid(), "host": socket.gethostname()}))
        os.replace(temp, self._lease)

    def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> duckdb.DuckDBPyConnection:
        return self.connection.execute(sql, parameters)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection for one more thread; it sees the same view, and the new one after ``refresh()``."""
        return self.connection.cursor()

    def close(self) -> None:
        self.connection.close()
        self._finalizer()

    def __enter__(self) -> FeatureReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---- computing features with DuckDB ---------------------------------------------------------------------

_CUSTOMER_SOURCE = pa.schema([
    ("cid", pa.int64()), ("customer_no", pa.string()), ("org_id", pa.int64()), ("rm_id", pa.int64()),
    ("gender", pa.string()), ("birth_date", pa.date32()), ("risk_level", pa.string()), ("segment", pa.string()),
    ("aum_fen", pa.int64()), ("deposit_fen", pa.int64()), ("wealth_fen", pa.int64()), ("fund_fen", pa.int64()),
    ("insurance_fen", pa.int64()), ("loan_fen", pa.int64()), ("has_credit_card", pa.bool_()),
    ("credit_card_activated", pa.bool_()), ("payroll_flag", pa.bool_()), ("app_logins_month", pa.int64()),
    ("first_account_date", pa.date32()), ("lifecycle_stage", pa.string()), ("lifecycle_status", pa.string()),
])
_MONTHLY_SOURCE = pa.schema([("cid", pa.int64()), ("month", pa.date32()), ("aum_fen", pa.int64()),
                             ("app_logins", pa.int64())])
_ALIVE = pa.schema([("cid", pa.int64())])

# Each output column from the relations c (customer), h (history aggregate) and ob (org → branch).
_EXPRESSIONS = {
    "cid": "c.cid",
    "customer_no": "c.customer_no",
    "org_id": "c.org_id",
    "branch_id": "ob.branch_id",
    "rm_id": "c.rm_id",
    "age": "year({as_of}) - year(c.birth_date) - CASE WHEN month({as_of}) * 100 + day({as_of}) "
           "< month(c.birth_date) * 100 + day(c.birth_date) THEN 1 ELSE 0 END",
    "gender": "c.gender",
    "segment": "coalesce(c.segment, 'retail')",
    "risk_level": "c.risk_level",
    "aum_fen": "coalesce(c.aum_fen, 0)",
    "aum_avg_3m_fen": "round(coalesce(h.aum_sum_3m, 0) / 3.0)",
    "aum_max_12m_fen": "coalesce(h.aum_max_12m, 0)",
    "aum_change_3m": "CASE WHEN coalesce(h.aum_before, 0) = 0 THEN NULL "
                     "ELSE (coalesce(h.aum_now, 0) - h.aum_before) / CAST(h.aum_before AS DOUBLE) END",
    "deposit_fen": "coalesce(c.deposit_fen, 0)",
    "wealth_fen": "coalesce(c.wealth_fen, 0)",
    "fund_fen": "coalesce(c.fund_fen, 0)",
    "insurance_fen": "coalesce(c.insurance_fen, 0)",
    "loan_fen": "coalesce(c.loan_fen, 0)",
    "has_credit_card": "coalesce(c.has_credit_card, false)",
    "credit_card_activated": "coalesce(c.credit_card_activated, false)",
    "payroll_flag": "coalesce(c.payroll_flag, false)",
    "product_count": "CAST(coalesce(c.deposit_fen, 0) > 0 AS INTEGER) + CAST(coalesce(c.wealth_fen, 0) > 0 AS INTEGER)"
                     " + CAST(coalesce(c.fund_fen, 0) > 0 AS INTEGER) + CAST(coalesce(c.insurance_fen, 0) > 0 AS INTEGER)"
                     " + CAST(coalesce(c.loan_fen, 0) > 0 AS INTEGER) + CAST(coalesce(c.has_credit_card, false) AS INTEGER)",
    "app_logins_month": "coalesce(c.app_logins_month, 0)",
    "app_logins_3m": "coalesce(h.logins_3m, 0)",
    "months_since_login": "date_diff('month', h.last_login, {month})",
    "tenure_days": "date_diff('day', c.first_account_date, {as_of})",
    "first_account_date": "c.first_account_date",
    "lifecycle_stage": "c.lifecycle_stage",
    "lifecycle_status": "c.lifecycle_status",
}


def _months_back(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)


def _compute(con: duckdb.DuckDBPyConnection, workdir: Path, *, as_of: date, key: str, out: Path) -> int:
    """Features of every row of the view ``src_customers`` into ``out``, with history from ``src_monthly``
    joined on ``key`` and branches from ``org_branch``; returns the row count.

    ``key`` is ``cid`` when the monthly rows carry the customer id, ``customer_no`` for files that
    name customers by number. Two statements, not one: with the per-customer history aggregate
    written to disk first, the join and the sort have the memory limit to themselves (in one
    statement, 10 M customers did not fit in 2 GB; in two they do).
    """
    schema = feature_schema()
    missing = {f.name for f in schema} - set(_EXPRESSIONS)
    if missing:
        raise RuntimeError(f"no definition for feature columns {sorted(missing)}")
    month = as_of.replace(day=1)
    lit = {"as_of": f"DATE '{as_of.isoformat()}'", "month": f"DATE '{month.isoformat()}'"}
    window_3m = _months_back(month, 2).isoformat()
    history = workdir / "history.parquet"
    _copy(con, f"""
        SELECT {key} AS k,
            sum(aum_fen) FILTER (WHERE month >= DATE '{window_3m}') AS aum_sum_3m,
            max(aum_fen) FILTER (WHERE month >= DATE '{_months_back(month, 11).isoformat()}') AS aum_max_12m,
            max(aum_fen) FILTER (WHERE month = {lit['month']}) AS aum_now,
            max(aum_fen) FILTER (WHERE month = DATE '{_months_back(month, 3).isoformat()}') AS aum_before,
            sum(app_logins) FILTER (WHERE month >= DATE '{window_3m}') AS logins_3m,
            max(month) FILTER (WHERE app_logins > 0) AS last_login
        FROM src_monthly
        WHERE month <= {lit['month']}
        GROUP BY {key}""", history)
    columns = ",\n            ".join(
        f"CAST({_EXPRESSIONS[f.name].format(**lit)} AS {_DUCKDB_TYPES[f.type]}) AS {f.name}" for f in schema)
    return _copy(con, f"""
        SELECT
            {columns}
        FROM src_customers c
        LEFT JOIN read_parquet({_sql_path(history)}) h ON h.k = c.{key}
        LEFT JOIN org_branch ob ON ob.org_id = c.org_id
        ORDER BY cid""", out)


def _duckdb(workdir: Path, *, memory_limit: str | None) -> duckdb.DuckDBPyConnection:
    config: dict[str, Any] = {"temp_directory": str(workdir / "spill")}
    if memory_limit:
        config["memory_limit"] = memory_limit
    return duckdb.connect(":memory:", config=config)


def _copy(con: duckdb.DuckDBPyConnection, query: str, out: Path) -> int:
    con.execute(f"COPY ({query}) TO {_sql_path(out)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_SIZE})")
    return pq.read_metadata(out).num_rows


# ---- from the operational database ----------------------------------------------------------------------


def _stream(session: Session, statement: Select, schema: pa.Schema, writer: pq.ParquetWriter) -> int:
    """Rows of ``statement`` appended to ``writer`` an Arrow batch at a time (server-side cursor on PostgreSQL)."""
    rows_written = 0
    # Core rows on the session's connection: the ORM's per-row processing would double the extract time.
    # (Options for this statement only: Connection.execution_options() would change the session's connection.)
    result = session.connection().execute(statement, execution_options={"yield_per": FETCH_ROWS})
    for rows in result.partitions():
        columns = list(zip(*rows, strict=True))
        batch = pa.RecordBatch.from_arrays(
            [pa.array(values, type=field.type) for values, field in zip(columns, schema, strict=True)], schema=schema)
        writer.write_batch(batch)
        rows_written += batch.num_rows
    return rows_written


def _customer_columns() -> list[Any]:
    def optional(name: str) -> Any:
        # lifecycle_status may not exist on the customer table (yet); the feature is then null.
        column = getattr(Customer, name, None)
        return column if column is not None else literal(None).label(name)

    return [Customer.id, Customer.customer_no, Customer.org_id, Customer.rm_id, Customer.gender, Customer.birth_date,
            Customer.risk_level, Customer.segment, Customer.aum_fen, Customer.deposit_fen, Customer.wealth_fen,
            Customer.fund_fen, Customer.insurance_fen, Customer.loan_fen, Customer.has_credit_card,
            Customer.credit_card_activated, Customer.payroll_flag, Customer.app_logins_month,
            Customer.first_account_date, optional("lifecycle_stage"), optional("lifecycle_status")]


def _org_branches(session: Session) -> pa.Table:
    """org_id → branch_id: the org itself or its nearest ancestor at level ``branch`` (orgs are few)."""
    orgs = session.execute(select(Org.id, Org.level, Org.path)).all()
    level = {org_id: org_level for org_id, org_level, _ in orgs}
    org_ids, branch_ids = [], []
    for org_id, _, path in orgs:
        chain = [int(part) for part in path.strip("/").split("/") if part] or [org_id]
        branches = [node for node in chain if level.get(node) == "branch"]
        org_ids.append(org_id)
        branch_ids.append(branches[-1] if branches else None)
    return pa.table({"org_id": pa.array(org_ids, pa.int64()), "branch_id": pa.array(branch_ids, pa.int64())})


def _extract(session: Session, workdir: Path, *, as_of: date, ids: list[int] | None = None) -> None:
    """Customers (all, or those in ``ids``) and their history up to ``as_of``'s month, to Parquet in ``workdir``."""
    month = as_of.replace(day=1)
    customers = select(*_customer_columns())
    monthly = select(CustomerMonthly.customer_id, CustomerMonthly.month, CustomerMonthly.aum_fen,
                     CustomerMonthly.app_logins).where(CustomerMonthly.month <= month)
    with pq.ParquetWriter(workdir / "customers.parquet", _CUSTOMER_SOURCE) as cw, \
            pq.ParquetWriter(workdir / "monthly.parquet", _MONTHLY_SOURCE) as mw:
        if ids is None:
            _stream(session, customers, _CUSTOMER_SOURCE, cw)
            _stream(session, monthly, _MONTHLY_SOURCE, mw)
            return
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start:start + ID_CHUNK]
            _stream(session, customers.where(Customer.id.in_(chunk)), _CUSTOMER_SOURCE, cw)
            _stream(session, monthly.where(CustomerMonthly.customer_id.in_(chunk)), _MONTHLY_SOURCE, mw)


def _compute_from_extract(con: duckdb.DuckDBPyConnection, workdir: Path, org_branch: pa.Table, *, as_of: date,
                          out: Path) -> int:
    con.execute(f"CREATE VIEW src_customers AS SELECT * FROM read_parquet({_sql_path(workdir / 'customers.parquet')})")
    con.execute(f"CREATE VIEW src_monthly AS SELECT * FROM read_parquet({_sql_path(workdir / 'monthly.parquet')})")
    con.register("org_branch", org_branch)
    return _compute(con, workdir, as_of=as_of, key="cid", out=out)


def write_features(session: Session, *, as_of: date, out: Path, memory_limit: str | None = "2GB") -> int:
    """Compute every customer's features from the operational database into the Parquet file ``out``;
    returns the row count."""
    with tempfile.TemporaryDirectory(prefix=".features-", dir=out.parent) as tmp:
        workdir = Path(tmp)
        _extract(session, workdir, as_of=as_of)
        with _duckdb(workdir, memory_limit=memory_limit) as con:
            return _compute_from_extract(con, workdir, _org_branches(session), as_of=as_of, out=out)


def build_features(session: Session, *, as_of: date, memory_limit: str | None = "2GB") -> pa.Table:
    """Every customer's features as an Arrow table, sorted by cid (see ``write_features`` for big banks)."""
    with tempfile.TemporaryDirectory(prefix="omniloop-features-") as tmp:
        out = Path(tmp) / DATA_FILE
        write_features(session, as_of=as_of, out=out, memory_limit=memory_limit)
        return pq.read_table(out)


# ---- from the demo generator's Parquet files ------------------------------------------------------------


def demo_ids(seed: int = 42) -> tuple[dict[str, int], dict[str, int]]:
    """(org code → org id, RM username → user id) as a freshly seeded demo database numbers them:
    orgs in layout order from 1, then users with the non-RM demo logins first."""
    from omniloop.demo.layout import build_layout

    layout = build_layout(seed)
    org_ids = {spec.code: i for i, spec in enumerate(layout.orgs, start=1)}
    rm_names = {rm.username for rm in layout.rms}
    first_rm = sum(1 for login in layout.logins if login.username not in rm_names) + 1
    rm_ids = {rm.username: first_rm + i for i, rm in enumerate(layout.rms)}
    return org_ids, rm_ids


def _demo_org_table(seed: int, org_ids: Mapping[str, int]) -> pa.Table:
    from omniloop.demo.layout import build_layout

    layout = build_layout(seed)
    parent = {spec.code: spec.parent_code for spec in layout.orgs}
    level = {spec.code: spec.level for spec in layout.orgs}
    codes, ids, branches = [], [], []
    for spec in layout.orgs:
        node: str | None = spec.code
        while node is not None and level[node] != "branch":
            node = parent[node]
        codes.append(spec.code)
        ids.append(org_ids[spec.code])
        branches.append(org_ids[node] if node is not None else None)
    return pa.table({"org_code": pa.array(codes, pa.string()), "org_id": pa.array(ids, pa.int64()),
                     "branch_id": pa.array(branches, pa.int64())})


def write_features_from_parquet(
    customers_parquet: Path,
    monthly_parquet: Path,
    *,
    as_of: date,
    out: Path,
    seed: int = 42,
    org_ids: Mapping[str, int] | None = None,
    rm_ids: Mapping[str, int] | None = None,
    memory_limit: str | None = "2GB",
) -> int:
    """Features of the customers in the demo generator's files (``omniloop.demo.parquet``) into ``out``.

    ``cid`` is the customer's row number in ``customers_parquet`` (0 … N-1), dense so that bitmaps
    over it stay compact. Org codes and RM usernames become ids through ``org_ids`` / ``rm_ids``
    (default: ``demo_ids(seed)``); branches come from the demo layout of ``seed``.
    """
    default_orgs, default_rms = demo_ids(seed)
    org_ids = org_ids or default_orgs
    rm_ids = rm_ids or default_rms
    org_table = _demo_org_table(seed, org_ids)
    rm_table = pa.table({"rm_username": pa.array(list(rm_ids), pa.string()),
                         "rm_id": pa.array(list(rm_ids.values()), pa.int64())})
    columns = set(pq.read_schema(customers_parquet).names)

    def optional(name: str) -> str:
        return f"c.{name}" if name in columns else f"CAST(NULL AS VARCHAR) AS {name}"

    # Scratch space (history aggregate, spills) on the output's disk, which has room for the output.
    with tempfile.TemporaryDirectory(prefix=".features-", dir=out.parent) as tmp, \
            _duckdb(Path(tmp), memory_limit=memory_limit) as con:
        con.register("org_map", org_table)
        con.register("rm_map", rm_table)
        con.execute("CREATE VIEW org_branch AS SELECT org_id, branch_id FROM org_map")
        con.execute(f"""
            CREATE VIEW src_customers AS
            SELECT c.file_row_number AS cid, c.customer_no, o.org_id, r.rm_id, c.gender, c.birth_date, c.risk_level,
                   c.segment, c.aum_fen, c.deposit_fen, c.wealth_fen, c.fund_fen, c.insurance_fen, c.loan_fen,
                   c.has_credit_card, c.credit_card_activated, c.payroll_flag, c.app_logins_month,
                   c.first_account_date, {optional('lifecycle_stage')}, {optional('lifecycle_status')}
            FROM read_parquet({_sql_path(customers_parquet)}, file_row_number = true) c
            LEFT JOIN org_map o ON o.org_code = c.org_code
            LEFT JOIN rm_map r ON r.rm_username = c.rm_username""")
        con.execute(f"CREATE VIEW src_monthly AS SELECT * FROM read_parquet({_sql_path(monthly_parquet)})")
        return _compute(con, Path(tmp), as_of=as_of, key="customer_no", out=out)


def build_features_from_parquet(
    customers_parquet: Path,
    monthly_parquet: Path,
    *,
    as_of: date,
    seed: int = 42,
    org_ids: Mapping[str, int] | None = None,
    rm_ids: Mapping[str, int] | None = None,
    memory_limit: str | None = "2GB",
) -> pa.Table:
    """``write_features_from_parquet`` returning the table (sorted by cid) instead of writing a file."""
    with tempfile.TemporaryDirectory(prefix="omniloop-features-") as tmp:
        out = Path(tmp) / DATA_FILE
        write_features_from_parquet(customers_parquet, monthly_parquet, as_of=as_of, out=out, seed=seed,
                                    org_ids=org_ids, rm_ids=rm_ids, memory_limit=memory_limit)
        return pq.read_table(out)


# ---- publishing builds: full and incremental --------------------------------------------------------------


@dataclass(frozen=True)
class RefreshResult:
    version: int
    mode: str  # "full", "incremental" or "unchanged" (nothing changed: no new version)
    rows: int  # rows in the version
    changed: int  # customers recomputed that were in the previous version
    added: int  # customers new in this version
    removed: int  # customers of the previous version no longer in the database


@contextlib.contextmanager
def _workdir(store: FeatureStore) -> Iterator[Path]:
    """Scratch space next to the versions, so publishing the result is a rename, not a copy."""
    store.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=store.dir) as tmp:
        yield Path(tmp)


def _watermark(session: Session) -> datetime | None:
    return session.scalar(select(func.max(Customer.updated_at)))


def _diff_counts(con: duckdb.DuckDBPyConnection, previous: Path, current: Path) -> tuple[int, int, int]:
    """(customers in both, only in ``current``, only in ``previous``), reading only the cid columns."""
    prev, cur = f"read_parquet({_sql_path(previous)})", f"read_parquet({_sql_path(current)})"
    return con.execute(f"""
        SELECT (SELECT count(*) FROM {cur} c SEMI JOIN {prev} p ON p.cid = c.cid),
               (SELECT count(*) FROM {cur} c ANTI JOIN {prev} p ON p.cid = c.cid),
               (SELECT count(*) FROM {prev} p ANTI JOIN {cur} c ON c.cid = p.cid)""").fetchone()


def rebuild_features(session: Session, store: FeatureStore, *, as_of: date,
                     memory_limit: str | None = "2GB") -> RefreshResult:
    """A full build published as the next version."""
    previous = store.current_version()
    watermark = _watermark(session)  # taken before reading: later changes are the next refresh's
    with _workdir(store) as workdir:
        out = workdir / DATA_FILE
        rows = write_features(session, as_of=as_of, out=out, memory_limit=memory_limit)
        kept, added, removed = 0, rows, 0
        if previous is not None:
            with _duckdb(workdir, memory_limit=memory_limit) as con:
                kept, added, removed = _diff_counts(con, store.path(previous), out)
        version = store.publish(out, source="build", as_of=as_of, watermark=watermark, move=True)
    return RefreshResult(version, "full", rows, kept, added, removed)


def refresh_features(
    session: Session,
    store: FeatureStore,
    *,
    changed_since: datetime | None = None,
    customer_ids: Iterable[int] = (),
    as_of: date | None = None,
    full_threshold: float = 0.2,
    memory_limit: str | None = "2GB",
) -> RefreshResult:
    """Publish the next version with the rows of changed customers recomputed.

    Changed: ``customers.updated_at >= changed_since`` (default: the previous version's high-water mark
    minus ``WATERMARK_OVERLAP``), plus ``customer_ids`` — the monthly history has no timestamp of its
    own, so whoever loads it names the customers it touched (or touches ``updated_at``). Customers
    deleted from the database leave the table. ``as_of`` defaults to the previous version's.
    """
    previous = store.current_version()
    if previous is None:
        if as_of is None:
            raise ValueError("the first build needs as_of")
        return rebuild_features(session, store, as_of=as_of, memory_limit=memory_limit)
    manifest = store.manifest(previous)
    previous_as_of = date.fromisoformat(manifest["as_of"]) if manifest.get("as_of") else None
    as_of = as_of or previous_as_of
    if as_of is None:
        raise ValueError("as_of is unknown: give it")
    previous_path = store.path(previous)
    if as_of != previous_as_of or not _same_columns(pq.read_schema(previous_path), feature_schema()):
        return rebuild_features(session, store, as_of=as_of, memory_limit=memory_limit)
    previous_watermark = datetime.fromisoformat(manifest["watermark"]) if manifest.get("watermark") else None
    if changed_since is None:
        if previous_watermark is None:  # nothing tells what changed since that version
            return rebuild_features(session, store, as_of=as_of, memory_limit=memory_limit)
        changed_since = previous_watermark - WATERMARK_OVERLAP

    watermark = _watermark(session)  # taken before reading, as in rebuild_features
    changed = set(customer_ids)
    for rows in session.execute(select(Customer.id).where(Customer.updated_at >= changed_since),
                                execution_options={"yield_per": 50_000}).partitions():
        changed.update(row[0] for row in rows)
    if len(changed) > full_threshold * max(manifest["rows"], 1):
        return rebuild_features(session, store, as_of=as_of, memory_limit=memory_limit)

    with _workdir(store) as workdir:
        # Ids of deleted customers find no rows here; the alive list below drops them from the table.
        _extract(session, workdir, as_of=as_of, ids=sorted(changed))
        with pq.ParquetWriter(workdir / "alive.parquet", _ALIVE) as writer:
            _stream(session, select(Customer.id), _ALIVE, writer)
        with _duckdb(workdir, memory_limit=memory_limit) as con:
            delta_path = workdir / "delta.parquet"
            _compute_from_extract(con, workdir, _org_branches(session), as_of=as_of, out=delta_path)
            prev, delta = f"read_parquet({_sql_path(previous_path)})", f"read_parquet({_sql_path(delta_path)})"
            alive = f"read_parquet({_sql_path(workdir / 'alive.parquet')})"
            out = workdir / DATA_FILE
            rows = _copy(con, f"""
                SELECT p.* FROM {prev} p
                SEMI JOIN {alive} a ON a.cid = p.cid
                ANTI JOIN {delta} d ON d.cid = p.cid
                UNION ALL
                SELECT * FROM {delta}
                ORDER BY cid""", out)
            _, added, removed = _diff_counts(con, previous_path, out)
            replaced = con.execute(f"SELECT count(*) FROM {delta} d SEMI JOIN {prev} p ON p.cid = d.cid").fetchone()[0]
        if replaced == added == removed == 0:
            return RefreshResult(previous, "unchanged", manifest["rows"], 0, 0, 0)
        version = store.publish(out, source="refresh", as_of=as_of, watermark=watermark or previous_watermark,
                                move=True)
    return RefreshResult(version, "incremental", rows, replaced, added, removed)


__all__ = [
    "FeatureReader", "FeatureStore", "RefreshResult", "build_features", "build_features_from_parquet", "demo_ids",
    "feature_schema", "rebuild_features", "refresh_features", "write_features", "write_features_from_parquet",
]
