"""The tag run pipeline (标签跑批): features → tag values → lifecycle → bitmap index → tag set → history.

One run, in the worker (job ``tags.run``) or synchronously (``run_tags``, for the demo and tests):

1. refresh the feature store (``refresh_features``; the first build is a ``rebuild_features``) at the
   business date ``as_of``;
2. load the feature table into DuckDB; compute the two lifecycle tags first (their rules may not refer
   to the lifecycle features) and put their values in place of the ``lifecycle_stage`` /
   ``lifecycle_status`` feature columns, so other rules, the bitmap index and its breakdown see them;
3. compute every other requested tag, each in its own query: a tag that fails (a rule that no longer
   compiles, a missing score file, a deleted list) keeps its values from the previous tag set and is
   marked ``failed``; tags not requested are carried over from the previous tag set;
4. build the ``BitmapIndex`` and publish the tag set (``tagset.publish_tagset``): values + index +
   manifest, swapped in atomically for API processes;
5. write the changes against the previous tag set to ``store/tag_history/`` (one Parquet file a run:
   ``cid, tag_code, previous, value, run_id, tagset_version, changed_at``), the per-tag results and
   the run's outcome; write changed lifecycle stages back to the customer rows (customer lists and
   the 360 profile show them).

Anything that fails before the publish fails the run and publishes nothing: the previous tag set stays
current. A run that finished (``succeeded`` / ``partial``) is not run again, so a job that runs twice
does the work once. One run at a time per data directory (a lock file), since each run reads the tag
set the previous one published.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import logging
import os
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from omniloop.audiences.bitmap_index import BitmapIndex
from omniloop.core.clock import Clock
from omniloop.core.db import utcnow
from omniloop.customers import lists as customer_lists
from omniloop.customers.models import Customer
from omniloop.tags import definitions as defs
from omniloop.tags.feature_store import FeatureStore, rebuild_features, refresh_features
from omniloop.tags.models import TagDefinition, TagRun, TagRunResult
from omniloop.tags.tagset import TagMeta, feature_store, publish_tagset, store_root, tag_column, tag_store
from omniloop.triggers import service as trigger_service
from omniloop.triggers.models import Trigger

log = logging.getLogger("omniloop.tags")

DONE = ("succeeded", "partial")
HISTORY_DIR = "tag_history"
SCORES_DIR = "scores"
EVENTS_DIR = "events"
WRITE_BACK_CHUNK = 5_000

Progress = Callable[[float, str], None]


class TagComputeError(Exception):
    """A tag could not be computed; the message is shown in its run log (Chinese / English)."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")


@dataclass(frozen=True)
class _Tag:
    """A definition as the run saw it (plain data: the run outlives its sessions)."""

    id: int
    code: str
    source: str
    value_type: str
    definition: dict
    definition_version: int
    values: tuple[str, ...]

    @property
    def kind(self) -> str:
        return "boolean" if self.value_type == "boolean" else "enum"

    @classmethod
    def of(cls, row: TagDefinition) -> _Tag:
        values = tuple(str(v["value"]) for v in row.values or [] if not isinstance(v.get("value"), bool))
        return cls(row.id, row.code, row.source, row.value_type, dict(row.definition), row.definition_version,
                   values)


def history_dir(home: Path) -> Path:
    return store_root(home) / HISTORY_DIR


def scores_path(home: Path, code: str) -> Path:
    return store_root(home) / SCORES_DIR / f"{code}.parquet"


def events_glob(home: Path) -> str:
    return str(store_root(home) / EVENTS_DIR / "date=*" / "*.parquet")


def _sql_path(path: Path | str) -> str:
    return defs.quote(str(path))


@contextlib.contextmanager
def _run_lock(store: FeatureStore) -> Iterator[None]:
    store.dir.mkdir(parents=True, exist_ok=True)
    with (store.dir / ".run.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---- entry points --------------------------------------------------------------------------------------


def create_run(session: Session, *, trigger: str, tag_ids: list[int] | None = None,
               requested_by_id: int | None = None, job_id: int | None = None) -> TagRun:
    run = TagRun(status="queued", trigger=trigger, tag_ids=sorted(set(tag_ids)) if tag_ids else None,
                 requested_by_id=requested_by_id, job_id=job_id, attempts=0)
    session.add(run)
    session.flush()
    return run


def run_tags(
    session_factory: sessionmaker[Session],
    home: Path,
    *,
    run_id: int | None = None,
    tag_ids: list[int] | None = None,
    trigger: str = "manual",
    as_of: date | None = None,
    now: datetime | None = None,
    timezone: str = "Asia/Shanghai",
    progress: Progress | None = None,
    raise_on_failure: bool = False,
) -> TagRun:
    """Run tags now, in this process; returns the run (detached) with its outcome.

    Without ``run_id`` a run is created (all active tags, or ``tag_ids``). ``as_of`` (the business
    date features are computed at) defaults to today in ``timezone``; ``now`` (the end of event
    windows) to the current time. A failed run is recorded and returned, or raised with
    ``raise_on_failure`` (the job does, so the job system retries it).
    """
    home = Path(home)
    report = progress or (lambda fraction, message: None)
    with session_factory() as session:
        if run_id is None:
            run_id = create_run(session, trigger=trigger, tag_ids=tag_ids).id
        run = session.get(TagRun, run_id)
        if run is None:
            raise LookupError(f"tag run {run_id} does not exist")
        if run.status in DONE:
            return run
        run.status, run.started_at, run.error = "running", utcnow(), None
        run.finished_at = run.duration_ms = None
        run.attempts = (run.attempts or 0) + 1
        requested = list(run.tag_ids) if run.tag_ids else None
        session.commit()
    started = time.monotonic()
    clock = Clock(timezone)
    as_of = as_of or clock.today()
    now = now or clock.now()
    try:
        with _run_lock(tag_store(home)):
            _execute(session_factory, home, run_id=run_id, requested=requested, as_of=as_of, now=now,
                     progress=report, started=started)
    except Exception as exc:
        from omniloop.jobs.registry import JobCancelled, JobInterrupted

        with session_factory() as session:
            run = session.get(TagRun, run_id)
            if isinstance(exc, JobInterrupted):
                run.status = "queued"  # the job goes back to the queue and runs again
            else:
                run.status = "failed"
                run.error = ("已取消 / cancelled" if isinstance(exc, JobCancelled)
                             else "".join(traceback.format_exception_only(exc)).strip()[:4000])
                run.finished_at = utcnow()
                run.duration_ms = int((time.monotonic() - started) * 1000)
            session.commit()
        log.warning("tag run %s failed: %s", run_id, exc, exc_info=not isinstance(exc, JobInterrupted))
        if raise_on_failure or isinstance(exc, JobInterrupted | JobCancelled):
            raise
    with session_factory() as session:
        return session.get(TagRun, run_id)


# ---- the pipeline --------------------------------------------------------------------------------------


def _execute(session_factory: sessionmaker[Session], home: Path, *, run_id: int, requested: list[int] | None,
             as_of: date, now: datetime, progress: Progress, started: float) -> None:
    progress(0.02, "刷新客户特征 / refreshing features")
    features = feature_store(home)
    tagsets = tag_store(home)
    with session_factory() as session:
        if features.current_version() is None:
            refreshed = rebuild_features(session, features, as_of=as_of)
        else:
            refreshed = refresh_features(session, features, as_of=as_of)
        active = [_Tag.of(row) for row in session.scalars(
            select(TagDefinition).where(TagDefinition.status == "active").order_by(TagDefinition.id))]
    feature_version = refreshed.version
    progress(0.2, f"特征版本 v{feature_version}，{refreshed.rows} 位客户 / features v{feature_version}")

    previous_version = tagsets.current_version()
    previous_path = tagsets.path(previous_version) if previous_version is not None else None
    previous_columns = set(pq.read_schema(previous_path).names) if previous_path else set()
    wanted = set(requested) if requested else None
    compute, carry = [], []
    for tag in active:
        if wanted is None or tag.id in wanted or tag_column(tag.code) not in previous_columns:
            compute.append(tag)
        else:
            carry.append(tag)

    table = pq.read_table(features.path(feature_version))
    stored_lifecycle = {code: table[code] for code in defs.LIFECYCLE_CODES if code in table.column_names}
    con = duckdb.connect(":memory:")
    try:
        con.register("features", table)
        if previous_path:
            con.execute(f"CREATE VIEW prev AS SELECT * FROM read_parquet({_sql_path(previous_path)})")
        cids = table["cid"]
        n = table.num_rows
        computed: dict[str, pa.ChunkedArray] = {}
        results: dict[str, dict[str, Any]] = {}

        def previous(tag: _Tag) -> pa.ChunkedArray:
            column = tag_column(tag.code)
            kind = pa.bool_() if tag.kind == "boolean" else pa.string()
            if column not in previous_columns:
                return pa.chunked_array([pa.nulls(n, kind)])
            data = con.sql(f'SELECT p."{column}" FROM features f LEFT JOIN prev p ON p.cid = f.cid '
                           f"ORDER BY f.cid").to_arrow_table()
            return data.column(0).cast(kind)

        # Lifecycle first: the other rules then see this run's stage and status.
        order = sorted(compute, key=lambda t: t.code not in defs.LIFECYCLE_CODES)
        lifecycle_done = False
        for i, tag in enumerate(order):
            if not lifecycle_done and tag.code not in defs.LIFECYCLE_CODES:
                lifecycle_done = True
                table = _with_lifecycle(table, computed)
                con.unregister("features")
                con.register("features", table)
            begun = time.monotonic()
            try:
                values = _compute(con, session_factory, home, tag, n=n, now=now)
                computed[tag.code] = values
                results[tag.code] = {"status": "succeeded", "error": None}
            except Exception as exc:  # one tag's failure must not fail the run
                log.warning("tag %s failed in run %s: %s", tag.code, run_id, exc)
                computed[tag.code] = previous(tag)
                results[tag.code] = {"status": "failed", "error": str(exc)[:2000]}
            results[tag.code]["duration_ms"] = int((time.monotonic() - begun) * 1000)
            progress(0.2 + 0.5 * (i + 1) / max(len(order), 1), f"{tag.code} ({i + 1}/{len(order)})")
        if not lifecycle_done:
            table = _with_lifecycle(table, computed)
        for tag in carry:
            computed[tag.code] = previous(tag)
            results[tag.code] = {"status": "carried", "error": None, "duration_ms": 0}
        tags = {t.code: t for t in active}

        progress(0.75, "构建位图索引 / building the bitmap index")
        values_table = pa.table({"cid": cids, **{tag_column(code): computed[code] for code in tags}})
        index_table = table
        for code in tags:
            index_table = index_table.append_column(tag_column(code), computed[code])
        index = BitmapIndex.build(index_table, tag_columns={code: t.kind for code, t in tags.items()})
        metas = {code: TagMeta(code=code, kind=t.kind, values=t.values, tag_id=t.id,
                               definition_version=t.definition_version) for code, t in tags.items()}
        progress(0.85, "发布标签版本 / publishing the tag set")
        version = publish_tagset(tagsets, values=values_table, index=index, tags=metas,
                                 feature_version=feature_version, run_id=run_id, as_of=as_of)

        # After the publish: history, results and the run's outcome.
        changes = _write_history(home, con, tags, computed, previous_columns, run_id=run_id, version=version,
                                 cids=cids)
    finally:
        con.close()
    for code, result in results.items():
        values = computed[code]
        result["changed"] = changes.get(code)
        result.update(_distribution(values, tags[code].kind))
    failed = sum(1 for r in results.values() if r["status"] == "failed")
    with session_factory() as session:
        for code, result in results.items():
            tag = tags[code]
            session.add(TagRunResult(run_id=run_id, tag_id=tag.id, tag_code=code, status=result["status"],
                                     coverage=result["coverage"], distribution=result["distribution"],
                                     changed=result["changed"], definition_version=tag.definition_version,
                                     duration_ms=result["duration_ms"], error=result["error"]))
        run = session.get(TagRun, run_id)
        run.status = "partial" if failed else "succeeded"
        run.as_of, run.rows, run.feature_version, run.tagset_version = as_of, n, feature_version, version
        run.tags_computed = sum(1 for r in results.values() if r["status"] == "succeeded")
        run.tags_failed = failed
        run.changed = sum(v for v in changes.values() if v)
        run.finished_at = utcnow()
        run.duration_ms = int((time.monotonic() - started) * 1000)
        session.commit()
    progress(0.95, "回写生命周期 / writing lifecycle back")
    try:
        _write_back_lifecycle(session_factory, cids, computed, stored_lifecycle)
    except Exception:  # the tag set is published; the customer rows catch up at the next run
        log.warning("lifecycle write-back failed in run %s", run_id, exc_info=True)
    progress(1.0, f"完成：标签版本 v{version} / done: tag set v{version}")


def _with_lifecycle(table: pa.Table, computed: dict[str, pa.ChunkedArray]) -> pa.Table:
    """The feature table with this run's lifecycle values in place of the stored ones."""
    for code in defs.LIFECYCLE_CODES:
        if code in computed and code in table.column_names:
            table = table.set_column(table.column_names.index(code), code, computed[code].cast(pa.string()))
    return table


def _distribution(values: pa.ChunkedArray, kind: str) -> dict[str, Any]:
    counts = {}
    for item in pc.value_counts(values).to_pylist():
        value = item["values"]
        if value is None:
            continue
        key = ("true" if value else "false") if kind == "boolean" else str(value)
        counts[key] = item["counts"]
    coverage = counts.get("true", 0) if kind == "boolean" else sum(counts.values())
    return {"coverage": coverage, "distribution": counts}


# ---- computing one tag ---------------------------------------------------------------------------------


def _compute(con: duckdb.DuckDBPyConnection, session_factory: sessionmaker[Session], home: Path, tag: _Tag, *,
             n: int, now: datetime) -> pa.ChunkedArray:
    checked = defs.check_definition(source=tag.source, value_type=tag.value_type, definition=tag.definition,
                                    code=tag.code)
    if not checked.ok:
        first = checked.problems[0]
        raise TagComputeError(f"标签口径有误：{first.message_zh}", f"Invalid definition: {first.message_en}")
    spec = checked.spec
    params: list[Any] = []
    match spec:
        case defs.RuleTag() | defs.CasesTag() | defs.FeatureBuckets():
            sql = f"SELECT {defs.rule_value_sql(spec)} AS v FROM features f ORDER BY f.cid"
        case defs.ListTag(list_id=list_id):
            with session_factory() as session:
                try:
                    members = customer_lists.list_members(session, list_id)
                except Exception as exc:
                    raise TagComputeError(f"名单 {list_id} 不存在", f"Customer list {list_id} does not exist") from exc
            name = f"list_{uuid.uuid4().hex}"
            con.register(name, pa.table({"cid": pa.array(list(members), pa.int64())}))
            sql = f"SELECT l.cid IS NOT NULL AS v FROM features f LEFT JOIN {name} l ON l.cid = f.cid ORDER BY f.cid"
        case defs.ScoreTag(threshold=threshold, buckets=buckets):
            path = scores_path(home, tag.code)
            if not path.exists():
                raise TagComputeError("尚未上传模型评分文件", "No model score file has been uploaded")
            value = (f"coalesce(s.score >= {format(threshold, 'f')}, false)" if threshold is not None
                     else defs.bucket_case("s.score", buckets))
            sql = (f"SELECT {value} AS v FROM features f LEFT JOIN read_parquet({_sql_path(path)}) s "
                   f"ON s.cid = f.cid ORDER BY f.cid")
        case defs.EventTag():
            sql, params = _event_sql(home, spec, now)
        case defs.TriggerFiredTag():
            sql = _trigger_fired_sql(con, session_factory, spec, now)
        case _:
            raise AssertionError(spec)
    data = con.sql(sql, params=params or None).to_arrow_table()
    column = data.column(0)
    if len(column) != n:
        raise TagComputeError("标签结果行数与客户数不一致", f"{len(column)} values for {n} customers")
    return column.cast(pa.bool_() if tag.kind == "boolean" else pa.string())


def _event_sql(home: Path, spec: defs.EventTag, now: datetime) -> tuple[str, list[Any]]:
    """Did X / count of X in the last ``within_days`` days before ``now``, over the exported event files."""
    since = now.astimezone(UTC) - timedelta(days=spec.within_days)
    count = "coalesce(e.n, 0)"
    value = defs.bucket_case(count, spec.buckets) if spec.buckets else f"{count} > 0"
    files = events_glob(home)
    if not glob.glob(files):  # no events exported yet: nobody did anything
        return f"SELECT {value} AS v FROM features f LEFT JOIN (SELECT NULL::BIGINT AS cid, 0 AS n) e " \
               f"ON e.cid = f.cid ORDER BY f.cid", []
    conditions = ["cid IS NOT NULL", "name = ?", "ts >= ?", "ts <= ?",
                  # the partition column prunes whole days before any file is opened
                  "CAST(date AS DATE) >= ?"]
    params: list[Any] = [spec.event, since, now.astimezone(UTC), (since - timedelta(days=1)).date()]
    if spec.event_type:
        conditions.append("type = ?")
        params.append(spec.event_type)
    if spec.filter is not None:
        condition, extra = defs.event_filter_sql(spec.filter)
        conditions.append(condition)
        params.extend(extra)
    events = (f"SELECT cid, count(*) AS n FROM read_parquet({_sql_path(files)}, hive_partitioning = true) "
              f"WHERE {' AND '.join(conditions)} GROUP BY cid")
    return f"SELECT {value} AS v FROM features f LEFT JOIN ({events}) e ON e.cid = f.cid ORDER BY f.cid", params


def _trigger_fired_sql(con: duckdb.DuckDBPyConnection, session_factory: sessionmaker[Session],
                       spec: defs.TriggerFiredTag, now: datetime) -> str:
    """Fired within ``within_days`` days before ``now`` / how often, from the operational trigger_firings
    (one grouped query; the counts go to DuckDB as an Arrow table, like an uploaded list's members)."""
    until = now.astimezone(UTC)
    with session_factory() as session:
        if session.get(Trigger, spec.trigger_id) is None:
            raise TagComputeError(f"触发器 {spec.trigger_id} 不存在", f"Trigger {spec.trigger_id} does not exist")
        counts = trigger_service.fired_customers(session, trigger_id=spec.trigger_id,
                                                 since=until - timedelta(days=spec.within_days),
                                                 until=until + timedelta(microseconds=1))
    name = f"fired_{uuid.uuid4().hex}"
    con.register(name, pa.table({"cid": pa.array(list(counts), pa.int64()),
                                 "n": pa.array(list(counts.values()), pa.int64())}))
    count = "coalesce(e.n, 0)"
    value = defs.bucket_case(count, spec.buckets) if spec.buckets else f"{count} > 0"
    return f"SELECT {value} AS v FROM features f LEFT JOIN {name} e ON e.cid = f.cid ORDER BY f.cid"


# ---- after the publish ---------------------------------------------------------------------------------


def _as_text(values: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_boolean(values.type):
        return pc.if_else(values, "true", "false")
    return values.cast(pa.string())


def _changed_mask(old: pa.ChunkedArray, new: pa.ChunkedArray) -> pa.ChunkedArray:
    differs = pc.fill_null(pc.not_equal(old, new), False)
    return pc.or_(differs, pc.xor(pc.is_null(old), pc.is_null(new)))


def _write_history(home: Path, con: duckdb.DuckDBPyConnection, tags: dict[str, _Tag],
                   computed: dict[str, pa.ChunkedArray], previous_columns: set[str], *, run_id: int,
                   version: int, cids: pa.ChunkedArray) -> dict[str, int]:
    """Changed values against the previous tag set, one Parquet file for the run; changed count a tag.

    A tag new in this tag set has no previous values: its first values are the tag set itself.
    """
    at = utcnow()
    parts, changes = [], {}
    for code in tags:
        if tag_column(code) not in previous_columns:
            continue
        old = con.sql(f'SELECT p."{tag_column(code)}" FROM features f LEFT JOIN prev p ON p.cid = f.cid '
                      f"ORDER BY f.cid").to_arrow_table().column(0).cast(computed[code].type)
        mask = _changed_mask(old, computed[code])
        changed = pc.sum(mask.cast(pa.int64())).as_py() or 0
        changes[code] = changed
        if changed:
            parts.append(pa.table({
                "cid": pc.filter(cids, mask),
                "tag_code": pa.array([code] * changed, pa.string()),
                "previous": pc.filter(_as_text(old), mask),
                "value": pc.filter(_as_text(computed[code]), mask),
            }))
    if parts:
        table = pa.concat_tables(parts)
        table = table.append_column("run_id", pa.array([run_id] * table.num_rows, pa.int64()))
        table = table.append_column("tagset_version", pa.array([version] * table.num_rows, pa.int64()))
        table = table.append_column("changed_at", pa.array([at] * table.num_rows, pa.timestamp("us", tz="UTC")))
        table = table.sort_by([("cid", "ascending")])
        folder = history_dir(home)
        folder.mkdir(parents=True, exist_ok=True)
        temp = folder / f".v{version:06d}-{uuid.uuid4().hex}.tmp"
        pq.write_table(table, temp, compression="zstd", row_group_size=65_536)
        os.replace(temp, folder / f"v{version:06d}-run{run_id}.parquet")
    return changes


def _write_back_lifecycle(session_factory: sessionmaker[Session], cids: pa.ChunkedArray,
                          computed: dict[str, pa.ChunkedArray], stored: dict[str, pa.ChunkedArray]) -> int:
    """Store changed lifecycle stages / statuses on the customer rows (the feature table holds what they
    store now). ``updated_at`` is left alone: the customer's own data did not change. Returns rows written."""
    table = Customer.__table__
    written = 0
    with session_factory() as session:
        for code, old in stored.items():
            if code not in computed:
                continue
            new = computed[code].cast(pa.string())
            mask = _changed_mask(old.cast(pa.string()), new)
            ids, values = pc.filter(cids, mask).to_pylist(), pc.filter(new, mask).to_pylist()
            statement = (update(table).where(table.c.id == bindparam("b_id"))
                         .values({code: bindparam("b_value"), "updated_at": table.c.updated_at}))
            for start in range(0, len(ids), WRITE_BACK_CHUNK):
                rows = [{"b_id": cid, "b_value": value}
                        for cid, value in zip(ids[start:start + WRITE_BACK_CHUNK],
                                              values[start:start + WRITE_BACK_CHUNK], strict=True)]
                session.connection().execute(statement, rows)
            written += len(ids)
        session.commit()
    return written


__all__ = ["DONE", "TagComputeError", "create_run", "events_glob", "history_dir", "run_tags", "scores_path"]
