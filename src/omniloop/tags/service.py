"""Tags (标签) service: definitions, validation, runs and schedules, score files, a customer's tags.

No HTTP here. Definitions are checked by ``tags.definitions``; values are computed by
``tags.runner`` in the worker and read back from the current tag set (``tags.tagset``).
"""

from __future__ import annotations

import glob
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from croniter import croniter
from pyroaring import BitMap
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from omniloop.audiences import service as audience_service
from omniloop.audiences.engine import AudienceEngine, Loaded
from omniloop.core import audit
from omniloop.core.audit import Actor
from omniloop.core.errors import Conflict, NotFound, ValidationFailed
from omniloop.core.pagination import PageParams, paginate
from omniloop.customers import lists as customer_lists
from omniloop.customers import service as customer_service
from omniloop.jobs import service as job_service
from omniloop.jobs.models import Job, JobSchedule
from omniloop.org.auth import Principal
from omniloop.tags import definitions as defs
from omniloop.tags import runner
from omniloop.tags.features import FEATURES
from omniloop.tags.models import TagDefinition, TagRun, TagRunResult
from omniloop.tags.schemas import (
    CampaignUse,
    CoveragePoint,
    CustomerTagChange,
    CustomerTags,
    CustomerTagValue,
    DistributionItem,
    FeatureInfo,
    FeatureRef,
    Option,
    ProblemRead,
    ScoreFileInfo,
    ScoreUploadReport,
    TagCatalog,
    TagCreate,
    TagDetail,
    TagPage,
    TagRead,
    TagRunDetail,
    TagRunLogItem,
    TagRunRead,
    TagRunResultRead,
    TagUpdate,
    TagUsage,
    ValidateRequest,
    ValidateResponse,
)
from omniloop.tags.tagset import tag_column, tag_store

RUN_JOB = "tags.run"
DAILY_SCHEDULE_KEY = "tags.daily"
DEFAULT_DAILY_CRON = "0 2 * * *"  # 02:00 Beijing time, after the nightly data loads
RUN_MAX_ATTEMPTS = 3
SCORE_HEADERS = ("score", "分数", "评分", "模型分", "probability")
HISTORY_LIMIT = 200


class InvalidTag(ValidationFailed):
    code = "invalid_tag"

    def __init__(self, problems: list[defs.Problem]) -> None:
        first = problems[0]
        super().__init__(f"标签定义有误（{first.path}）：{first.message_zh}",
                         f"Invalid tag ({first.path}): {first.message_en}",
                         details={"problems": [p.as_dict() for p in problems]})


def _schedule_key(tag_id: int) -> str:
    return f"tags.tag.{tag_id}"


# ---- catalog and validation ------------------------------------------------------------------------------


def catalog() -> TagCatalog:
    def options(table: dict[str, tuple[str, str]]) -> list[Option]:
        return [Option(value=k, label_zh=zh, label_en=en) for k, (zh, en) in table.items()]

    return TagCatalog(
        categories=options(defs.CATEGORIES), sources=options(defs.SOURCES), value_types=options(defs.VALUE_TYPES),
        allowed_value_types={k: list(v) for k, v in defs.ALLOWED_TYPES.items()},
        features=[FeatureInfo(name=f.name, kind=f.kind.value, label_zh=f.label_zh, label_en=f.label_en,
                              values=list(f.values), nullable=f.nullable) for f in FEATURES.values()],
        event_operators=list(defs.EVENT_OPS),
    )


def _feature_refs(names: set[str]) -> list[FeatureRef]:
    return [FeatureRef(name=n, label_zh=FEATURES[n].label_zh, label_en=FEATURES[n].label_en)
            for n in sorted(names) if n in FEATURES]


def validate(session: Session, request: ValidateRequest, *, principal: Principal | None = None) -> ValidateResponse:
    """Check a rule or a whole definition as the operator types; reads only."""
    lifecycle = request.code in defs.LIFECYCLE_CODES
    if request.definition is None and request.source is None:
        used: set[str] = set()
        problems, rule = defs.check_rule_text(request.rule or "", "rule", forbid_lifecycle=lifecycle, used=used)
        sql = defs.rule_value_sql(defs.RuleTag(rule)) if rule is not None else None
        return ValidateResponse(valid=not problems, problems=[ProblemRead(**p.as_dict()) for p in problems],
                                features_used=_feature_refs(used), sql=sql)
    checked = _check(session, source=request.source or "", value_type=request.value_type or "",
                     definition=request.definition, code=request.code, principal=principal)
    sql = None
    if isinstance(checked.spec, defs.RuleTag | defs.CasesTag | defs.FeatureBuckets):
        sql = defs.rule_value_sql(checked.spec)
    return ValidateResponse(valid=checked.ok, problems=[ProblemRead(**p.as_dict()) for p in checked.problems],
                            features_used=_feature_refs(checked.features_used), values=checked.values, sql=sql)


def _check(session: Session, *, source: str, value_type: str, definition: Any, code: str | None,
           principal: Principal | None) -> defs.Checked:
    def list_exists(list_id: int) -> bool:
        if principal is None:
            return bool(customer_lists.existing_list_ids(session, [list_id]))
        try:
            customer_lists.get_readable_list(session, principal, list_id)
        except NotFound:
            return False
        return True

    def trigger_exists(trigger_id: int) -> bool:
        from omniloop.triggers.models import Trigger

        return session.get(Trigger, trigger_id) is not None

    return defs.check_definition(source=source, value_type=value_type, definition=definition, code=code,
                                 list_exists=list_exists, trigger_exists=trigger_exists)


def _check_schedule(schedule: str | None) -> list[defs.Problem]:
    if schedule and not croniter.is_valid(schedule):
        return [defs.Problem("schedule", "bad_cron", "定时表达式（cron）无效，如 0 2 * * * 表示每天 2 点",
                             "Invalid cron expression; e.g. 0 2 * * * runs daily at 02:00")]
    return []


# ---- definitions -----------------------------------------------------------------------------------------


def get_tag(session: Session, tag_id: int) -> TagDefinition:
    tag = session.get(TagDefinition, tag_id)
    if tag is None:
        raise NotFound("标签不存在", "Tag not found", code="tag_not_found")
    return tag


def tags_statement(*, category: str | None = None, source: str | None = None, status: str | None = None,
                   q: str | None = None) -> Select:
    stmt = select(TagDefinition)
    if category:
        stmt = stmt.where(TagDefinition.category == category)
    if source:
        stmt = stmt.where(TagDefinition.source == source)
    if status:
        stmt = stmt.where(TagDefinition.status == status)
    if q and q.strip():
        text = q.strip()
        stmt = stmt.where(or_(TagDefinition.code.contains(text, autoescape=True),
                              TagDefinition.name_zh.contains(text, autoescape=True),
                              TagDefinition.name_en.contains(text, autoescape=True)))
    return stmt.order_by(TagDefinition.category, TagDefinition.id)


def _latest_results(session: Session, tag_ids: list[int]) -> dict[int, tuple[TagRunResult, TagRun]]:
    if not tag_ids:
        return {}
    latest = (select(func.max(TagRunResult.id)).where(TagRunResult.tag_id.in_(tag_ids))
              .group_by(TagRunResult.tag_id).scalar_subquery())
    rows = session.execute(select(TagRunResult, TagRun).join(TagRun, TagRun.id == TagRunResult.run_id)
                           .where(TagRunResult.id.in_(latest))).all()
    return {result.tag_id: (result, run) for result, run in rows}


def _read(tag: TagDefinition, latest: tuple[TagRunResult, TagRun] | None, usage: audience_service.ExpressionUsage,
          model: type[TagRead] = TagRead, scoped: ScopedStats | None = None, **extra: Any) -> TagRead:
    category_zh, category_en = defs.CATEGORIES.get(tag.category, (tag.category, tag.category))
    source_zh, source_en = defs.SOURCES.get(tag.source, (tag.source, tag.source))
    result, run = latest or (None, None)
    return model(
        id=tag.id, code=tag.code, name_zh=tag.name_zh, name_en=tag.name_en, description=tag.description,
        category=tag.category, category_label_zh=category_zh, category_label_en=category_en, source=tag.source,
        source_label_zh=source_zh, source_label_en=source_en, value_type=tag.value_type,
        definition=tag.definition, values=tag.values or [], status=tag.status, system=tag.system,
        schedule=tag.schedule, owner_org_id=tag.owner_org_id, definition_version=tag.definition_version,
        created_by_id=tag.created_by_id, updated_by_id=tag.updated_by_id, created_at=tag.created_at,
        updated_at=tag.updated_at,
        coverage=scoped.coverage(tag) if scoped is not None else result.coverage if result else None,
        last_run_id=run.id if run else None, last_run_status=result.status if result else None,
        last_run_at=(run.finished_at or run.started_at) if run else None,
        usage=usage.tag_counts.get(tag.code, 0), campaign_usage=usage.campaign_tag_counts.get(tag.code, 0),
        scope=scoped.kind if scoped is not None else "bank", **extra)


def list_tags(session: Session, *, page: PageParams, category: str | None = None, source: str | None = None,
              status: str | None = None, q: str | None = None, principal: Principal | None = None,
              engine: AudienceEngine | None = None) -> TagPage:
    rows, total = paginate(session, tags_statement(category=category, source=source, status=status, q=q), page)
    latest = _latest_results(session, [t.id for t in rows])
    usage = audience_service.ExpressionUsage.load(session)
    scoped = scoped_stats(session, principal=principal, engine=engine)
    return TagPage(items=[_read(t, latest.get(t.id), usage, scoped=scoped) for t in rows], total=total,
                   page=page.page, page_size=page.page_size)


# ---- statistics in the caller's scope ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScopedStats:
    """Tag counts within one user's scope, from the current tag set's bitmap index.

    The run records bank-wide coverage and distributions; a branch manager or RM must see only their own
    customers, so their counts are the tag's value bitmaps intersected with their scope bitmap (the rows
    of their org subtree, or an RM's assigned customers) — the same scope the audience engine applies.
    One ``intersection_cardinality`` per value: milliseconds even at ten million customers.
    """

    kind: str  # "org" or "assigned"
    loaded: Loaded | None  # None: no tag set published yet
    rows: BitMap

    @property
    def total(self) -> int:
        return len(self.rows)

    def counts(self, tag: TagDefinition) -> dict[Any, int] | None:
        """value → customers in scope (None: no value); None when the tag is not in the current tag set."""
        if self.loaded is None:
            return None
        index = self.loaded.index
        if tag.code in index.tags:
            return index.count_by(f"tag:{tag.code}", self.rows)
        if tag.code in defs.LIFECYCLE_CODES and tag.code in index.dimensions():
            return index.count_by(tag.code, self.rows)  # computed into the feature column of that name
        return None

    def coverage(self, tag: TagDefinition) -> int | None:
        counts = self.counts(tag)
        if counts is None:
            return None
        if tag.value_type == "boolean":
            return counts.get(True, 0)
        return sum(n for value, n in counts.items() if value is not None)


def is_bank_wide(principal: Principal | None) -> bool:
    """Head office (the root org, not limited to assigned customers) sees the whole bank's numbers."""
    return principal is None or (principal.org.parent_id is None and not principal.role.assigned_customers_only)


def scoped_stats(session: Session, *, principal: Principal | None, engine: AudienceEngine | None
                 ) -> ScopedStats | None:
    """The caller's scope over the current tag set, or None when they see bank-wide numbers."""
    if is_bank_wide(principal) or engine is None:
        return None
    assert principal is not None
    kind = "assigned" if principal.role.assigned_customers_only else "org"
    loaded = engine.peek()
    if loaded is None:  # nothing published yet: nothing to count, in any scope
        return ScopedStats(kind, None, BitMap())
    return ScopedStats(kind, loaded, engine.scope(session, principal, loaded))


def _label(tag: TagDefinition, value: Any) -> tuple[str, str]:
    for item in tag.values or []:
        if item.get("value") == value or str(item.get("value")).lower() == str(value).lower():
            return item.get("label_zh") or str(value), item.get("label_en") or str(value)
    return str(value), str(value)


def _distribution(tag: TagDefinition, counts: dict[Any, int], total: int | None) -> list[DistributionItem]:
    values = [v["value"] for v in tag.values or []]
    if tag.value_type == "boolean":
        values = [True, False]
    ordered = values + [v for v in counts if v not in values and v is not None]
    items, covered = [], 0
    for value in ordered:
        n = int(counts.get(value, 0))
        covered += n
        zh, en = _label(tag, value)
        items.append(DistributionItem(value=value, label_zh=zh, label_en=en, customers=n,
                                      share=round(n / total, 6) if total else 0.0))
    if total is not None and total > covered:
        items.append(DistributionItem(value=None, label_zh="无值", label_en="No value", customers=total - covered,
                                      share=round((total - covered) / total, 6)))
    return items


def tag_detail(session: Session, *, tag: TagDefinition, home: Path, principal: Principal | None = None,
               engine: AudienceEngine | None = None) -> TagDetail:
    """The tag with its distribution, coverage history and run log.

    Head office sees the run's bank-wide numbers and their history; anyone else sees the current tag set
    counted within their scope (``ScopedStats``), and the run log without the bank-wide counts.
    """
    latest = _latest_results(session, [tag.id]).get(tag.id)
    usage = audience_service.ExpressionUsage.load(session)
    scoped = scoped_stats(session, principal=principal, engine=engine)
    history = session.execute(
        select(TagRunResult, TagRun).join(TagRun, TagRun.id == TagRunResult.run_id)
        .where(TagRunResult.tag_id == tag.id).order_by(TagRunResult.id.desc()).limit(90)).all()
    distribution: list[DistributionItem] = []
    total = None
    if scoped is not None:
        counts = scoped.counts(tag)
        if counts is not None:
            total = scoped.total
            distribution = _distribution(tag, {k: v for k, v in counts.items() if k is not None}, total)
    elif latest is not None:
        result, run = latest
        total = run.rows
        counts = dict(result.distribution or {})
        if tag.value_type == "boolean":
            counts = {True: counts.get("true", 0), False: counts.get("false", 0)}
        distribution = _distribution(tag, counts, total)
    if scoped is None:
        coverage = [CoveragePoint(run_id=run.id, at=run.finished_at or run.created_at, coverage=result.coverage,
                                  status=result.status) for result, run in reversed(history)]
    else:  # older tag sets are pruned: the scope's history is the current point only
        current = next(((r, run) for r, run in history if scoped.loaded is not None
                        and run.tagset_version == scoped.loaded.version), None)
        coverage = [CoveragePoint(run_id=run.id, at=run.finished_at or run.created_at, coverage=scoped.coverage(tag),
                                  status=result.status) for result, run in ([current] if current else [])]
    runs = [TagRunLogItem(run_id=run.id, status=result.status, run_status=run.status, trigger=run.trigger,
                          started_at=run.started_at, finished_at=run.finished_at, duration_ms=result.duration_ms,
                          coverage=result.coverage if scoped is None else None,
                          changed=result.changed if scoped is None else None,
                          definition_version=result.definition_version, error=result.error)
            for result, run in history[:20]]
    score_file = None
    if tag.source == "model_score":
        path = runner.scores_path(home, tag.code)
        if path.exists():
            score_file = ScoreFileInfo(rows=pq.read_metadata(path).num_rows,
                                       uploaded_at=datetime.fromtimestamp(path.stat().st_mtime, UTC))
    version = tag_store(home).current_version()
    scope_org = principal.org if scoped is not None and principal is not None else None
    detail = _read(tag, latest, usage, TagDetail, scoped=scoped, tagset_version=version, total_customers=total,
                   distribution=distribution, coverage_history=coverage, runs=runs, score_file=score_file,
                   scope_org_id=scope_org.id if scope_org else None, scope_org_name=scope_org.name if scope_org else None,
                   scope_org_name_en=scope_org.name_en if scope_org else None,
                   used_by=TagUsage(audiences=usage.audiences_using_tag(tag.code),
                                    campaigns=usage.campaigns_using_tag(tag.code)))
    assert isinstance(detail, TagDetail)
    return detail


def create_tag(session: Session, *, principal: Principal, data: TagCreate, system: bool = False) -> TagDefinition:
    return create_tag_as(session, actor=principal.actor, org_id=principal.org.id, data=data, system=system,
                         principal=principal)


def create_tag_as(session: Session, *, actor: Actor, org_id: int, data: TagCreate, system: bool = False,
                  principal: Principal | None = None) -> TagDefinition:
    """Create a tag owned by ``org_id`` (the demo and deployments seed tags this way, as the system)."""
    problems = defs.check_code(data.code) + _check_schedule(data.schedule)
    if data.code in defs.LIFECYCLE_CODES and not system:
        problems.append(defs.Problem("code", "reserved_code", "该编码为生命周期系统标签保留",
                                     "This code is reserved for the lifecycle system tags"))
    checked = _check(session, source=data.source, value_type=data.value_type, definition=data.definition,
                     code=data.code, principal=principal)
    problems += checked.problems
    if problems:
        raise InvalidTag(problems)
    if session.scalar(select(TagDefinition.id).where(TagDefinition.code == data.code)) is not None:
        raise Conflict("标签编码已存在", "A tag with this code exists", code="tag_code_taken",
                       details={"code": data.code})
    tag = TagDefinition(code=data.code, name_zh=data.name_zh.strip(), name_en=data.name_en.strip(),
                        description=data.description, category=data.category, source=data.source,
                        value_type=data.value_type, definition=data.definition, values=checked.values,
                        status="active", system=system, schedule=data.schedule or None,
                        owner_org_id=org_id, definition_version=1, created_by_id=actor.user_id,
                        updated_by_id=actor.user_id)
    session.add(tag)
    session.flush()
    audit.record(session, actor=actor, action="tag.create", entity_type="tag", entity_id=tag.id,
                 after=audit.snapshot(tag))
    sync_schedule(session, tag)
    return tag


def update_tag(session: Session, *, principal: Principal, tag: TagDefinition, data: TagUpdate) -> TagDefinition:
    fields = data.model_fields_set
    before = audit.snapshot(tag)
    problems: list[defs.Problem] = []
    if tag.system:
        if "value_type" in fields and data.value_type != tag.value_type:
            problems.append(defs.Problem("value_type", "system_tag", "系统标签不能修改取值类型",
                                         "A system tag's value type cannot change"))
        if "category" in fields and data.category != tag.category:
            problems.append(defs.Problem("category", "system_tag", "系统标签不能修改分类",
                                         "A system tag's category cannot change"))
        if data.status == "archived":
            raise Conflict("系统标签不能归档", "System tags cannot be archived", code="system_tag")
    if data.status == "archived" and tag.status != "archived":
        _refuse_if_in_use(session, tag)
    for name in ("name_zh", "name_en", "category", "value_type", "definition", "status"):
        if name in fields and getattr(data, name) is None:
            problems.append(defs.Problem(name, "required", "该字段不能为空", "This field cannot be empty"))
    if "schedule" in fields:
        problems += _check_schedule(data.schedule)
    value_type = data.value_type if "value_type" in fields and data.value_type else tag.value_type
    definition = data.definition if "definition" in fields and data.definition is not None else tag.definition
    changes_definition = value_type != tag.value_type or definition != tag.definition
    checked = None
    if changes_definition:
        checked = _check(session, source=tag.source, value_type=value_type, definition=definition, code=tag.code,
                         principal=principal)
        problems += checked.problems
    if problems:
        raise InvalidTag(problems)
    for name in ("name_zh", "name_en", "description", "category", "status"):
        if name in fields and (getattr(data, name) is not None or name == "description"):
            value = getattr(data, name)
            setattr(tag, name, value.strip() if isinstance(value, str) and name.startswith("name") else value)
    if "schedule" in fields:
        tag.schedule = data.schedule or None
    if checked is not None:
        tag.value_type, tag.definition, tag.values = value_type, definition, checked.values
        tag.definition_version += 1
    tag.updated_by_id = principal.user.id
    session.flush()
    audit.record(session, actor=principal.actor, action="tag.update", entity_type="tag", entity_id=tag.id,
                 before=before, after=audit.snapshot(tag))
    sync_schedule(session, tag)
    return tag


class TagInUse(Conflict):
    code = "tag_in_use"

    def __init__(self, campaigns: list[CampaignUse]) -> None:
        names = "、".join(f"{c.code} {c.name}" for c in campaigns[:3]) + ("等" if len(campaigns) > 3 else "")
        super().__init__(f"标签正被未结束的营销活动使用（{names}），活动结束或改用其他人群后才能归档",
                         f"The tag is used by {len(campaigns)} campaign(s) that have not finished "
                         f"({', '.join(c.code for c in campaigns[:3])}); archive it once they finish or no "
                         "longer use it",
                         details={"campaigns": [c.model_dump() for c in campaigns]})


def _refuse_if_in_use(session: Session, tag: TagDefinition) -> None:
    """A tag feeding a campaign that has not finished cannot leave the tag set under it."""
    usage = audience_service.ExpressionUsage.load(session)
    blocking = [c for c in usage.campaigns_using_tag(tag.code) if not c.finished]
    if blocking:
        raise TagInUse(blocking)


def archive_tag(session: Session, *, principal: Principal, tag: TagDefinition) -> TagDefinition:
    if tag.system:
        raise Conflict("系统标签不能删除或归档", "System tags cannot be deleted or archived", code="system_tag")
    if tag.status == "archived":
        return tag
    _refuse_if_in_use(session, tag)
    before = audit.snapshot(tag)
    tag.status = "archived"
    tag.updated_by_id = principal.user.id
    session.flush()
    audit.record(session, actor=principal.actor, action="tag.archive", entity_type="tag", entity_id=tag.id,
                 before=before, after=audit.snapshot(tag))
    sync_schedule(session, tag)
    return tag


# ---- schedules and runs --------------------------------------------------------------------------------


def sync_schedule(session: Session, tag: TagDefinition) -> None:
    """A tag's own cron schedule: a ``tags.run`` of that tag; disabled when cleared or archived."""
    key = _schedule_key(tag.id)
    if tag.schedule and tag.status == "active":
        job_service.upsert_schedule(session, key=key, job_name=RUN_JOB, cron=tag.schedule,
                                    args={"tag_ids": [tag.id], "trigger": "schedule"})
        return
    existing = session.scalar(select(JobSchedule).where(JobSchedule.key == key))
    if existing is not None and existing.enabled:
        job_service.upsert_schedule(session, key=key, job_name=RUN_JOB, cron=existing.cron, args=existing.args,
                                    timezone=existing.timezone, enabled=False)


def ensure_daily_schedule(session: Session, *, cron: str = DEFAULT_DAILY_CRON) -> JobSchedule:
    """The daily run of every active tag (每日跑批)."""
    return job_service.upsert_schedule(session, key=DAILY_SCHEDULE_KEY, job_name=RUN_JOB, cron=cron,
                                       args={"trigger": "schedule"})


def request_run(session: Session, *, actor: Actor, user_id: int | None, tag_ids: list[int] | None = None,
                trigger: str = "manual") -> TagRun:
    """Queue a run of all active tags (or of ``tag_ids``) as a ``tags.run`` job."""
    if tag_ids:
        wanted = set(tag_ids)
        active = set(session.scalars(select(TagDefinition.id).where(TagDefinition.id.in_(wanted),
                                                                    TagDefinition.status == "active")))
        missing = sorted(wanted - active)
        if missing:
            raise ValidationFailed("标签不存在或已归档", "Unknown or archived tags",
                                   details={"field": "tag_ids", "tag_ids": missing})
    run = runner.create_run(session, trigger=trigger, tag_ids=tag_ids, requested_by_id=user_id)
    job = job_service.enqueue(session, name=RUN_JOB, args={"run_id": run.id}, idempotency_key=f"tags.run:{run.id}",
                              max_attempts=RUN_MAX_ATTEMPTS, created_by=user_id)
    run.job_id = job.id
    session.flush()
    audit.record(session, actor=actor, action="tag_run.request", entity_type="tag_run", entity_id=run.id,
                 after={"tag_ids": run.tag_ids, "job_id": job.id, "trigger": trigger})
    return run


def _run_read(run: TagRun, job: Job | None, model: type[TagRunRead] = TagRunRead, **extra: Any) -> TagRunRead:
    data = {c: getattr(run, c) for c in TagRunRead.model_fields if hasattr(run, c)}
    data["attempts"] = run.attempts or 0
    if job is not None and run.status in ("queued", "running"):
        data["progress"], data["progress_message"] = job.progress, job.progress_message
    return model(**data, **extra)


def list_runs(session: Session, *, page: PageParams, status: str | None = None) -> tuple[list[TagRunRead], int]:
    stmt = select(TagRun)
    if status:
        stmt = stmt.where(TagRun.status == status)
    rows, total = paginate(session, stmt.order_by(TagRun.id.desc()), page)
    jobs = {j.id: j for j in session.scalars(select(Job).where(Job.id.in_({r.job_id for r in rows if r.job_id})))}
    return [_run_read(r, jobs.get(r.job_id)) for r in rows], total


def get_run(session: Session, run_id: int) -> TagRunDetail:
    run = session.get(TagRun, run_id)
    if run is None:
        raise NotFound("跑批记录不存在", "Tag run not found", code="tag_run_not_found")
    job = session.get(Job, run.job_id) if run.job_id else None
    rows = session.execute(select(TagRunResult, TagDefinition).join(TagDefinition, TagDefinition.id == TagRunResult.tag_id)
                           .where(TagRunResult.run_id == run.id).order_by(TagRunResult.id)).all()
    results = [TagRunResultRead(tag_id=r.tag_id, tag_code=r.tag_code, tag_name_zh=t.name_zh, tag_name_en=t.name_en,
                                status=r.status, coverage=r.coverage, distribution=r.distribution, changed=r.changed,
                                definition_version=r.definition_version, duration_ms=r.duration_ms, error=r.error)
               for r, t in rows]
    detail = _run_read(run, job, TagRunDetail, results=results)
    assert isinstance(detail, TagRunDetail)
    return detail


# ---- model scores ----------------------------------------------------------------------------------------


def upload_scores(session: Session, *, principal: Principal, home: Path, tag: TagDefinition, path: Path,
                  file_name: str) -> ScoreUploadReport:
    """Store a model's scores (customer number + score) for a model-score tag; the next run buckets them."""
    if tag.source != "model_score":
        raise ValidationFailed("只有模型评分标签可以上传评分文件", "Only model-score tags take a score file",
                               code="not_a_score_tag")
    columns, chunks = customer_lists.read_upload(path, file_name)
    number_column = customer_lists.pick_column(columns, customer_lists.NUMBER_HEADERS)
    score_column = customer_lists.pick_column(columns, SCORE_HEADERS, default=1)
    if number_column is None or score_column is None or number_column == score_column:
        raise ValidationFailed("评分文件需要客户号列和分数列", "A score file needs a customer number and a score column",
                               code="score_columns", details={"columns": columns})
    report = ScoreUploadReport(file_name=file_name, number_column=number_column, score_column=score_column)
    scores: dict[str, float] = {}
    for table in chunks:
        for number, raw in zip(table[number_column].to_pylist(), table[score_column].to_pylist(), strict=True):
            if number is None:
                continue
            report.rows += 1
            try:
                score = float(raw)
            except (TypeError, ValueError):
                score = float("nan")
            if score != score or score in (float("inf"), float("-inf")):
                report.invalid_scores += 1
                continue
            if number in scores:
                report.duplicates += 1
            scores[number] = score
    found = customer_lists.resolve_numbers(session, principal, scores)
    unknown = sorted(set(scores) - set(found))
    report.matched, report.unknown_count = len(found), len(unknown)
    report.unknown = unknown[:customer_lists.MAX_UNKNOWN_LISTED]
    if not found:
        raise ValidationFailed("评分文件中没有可识别的客户", "No known customers in the score file",
                               code="score_no_matches", details=report.model_dump())
    pairs = sorted((cid, scores[number]) for number, cid in found.items())
    table = pa.table({"cid": pa.array([p[0] for p in pairs], pa.int64()),
                      "score": pa.array([p[1] for p in pairs], pa.float64())})
    target = runner.scores_path(home, tag.code)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    pq.write_table(table, temp, compression="zstd")
    os.replace(temp, target)  # a run reading the previous file keeps its handle; the next one reads this
    audit.record(session, actor=principal.actor, action="tag.scores_upload", entity_type="tag", entity_id=tag.id,
                 after={"file_name": file_name, "matched": report.matched, "unknown_count": report.unknown_count})
    return report


# ---- a customer's tags (customer 360) ------------------------------------------------------------------


def _value_out(tag: TagDefinition | None, code: str, value: Any) -> CustomerTagValue:
    zh, en = _label(tag, value) if tag is not None and value is not None else (None, None)
    return CustomerTagValue(tag_id=tag.id if tag else None, code=code, name_zh=tag.name_zh if tag else code,
                            name_en=tag.name_en if tag else code, category=tag.category if tag else "",
                            value=value, label_zh=zh, label_en=en)


def customer_tags(session: Session, *, principal: Principal, home: Path, customer_no: str) -> CustomerTags:
    customer = customer_service.get_readable(session=session, principal=principal, customer_no=customer_no)
    by_code = {t.code: t for t in session.scalars(select(TagDefinition))}
    store = tag_store(home)
    version = store.current_version()
    empty = CustomerTags(customer_no=customer.customer_no, tagset_version=None, computed_at=None,
                         lifecycle_stage=None, lifecycle_status=None, tags=[], history=[])
    if version is None:
        return empty
    manifest = store.manifest(version)
    con = duckdb.connect(":memory:")
    try:
        rows = con.sql("SELECT * FROM read_parquet(?) WHERE cid = ?",
                       params=[str(store.path(version)), customer.id]).to_arrow_table().to_pylist()
        files = sorted(glob.glob(str(runner.history_dir(home) / "*.parquet")))
        changes = con.sql(
            "SELECT * FROM read_parquet(?, union_by_name = true) WHERE cid = ? ORDER BY changed_at DESC, tag_code LIMIT ?",
            params=[files, customer.id, HISTORY_LIMIT]).to_arrow_table().to_pylist() if files else []
    finally:
        con.close()
    values = rows[0] if rows else {}
    tags, lifecycle = [], {}
    for code in manifest.get("tags") or {}:
        out = _value_out(by_code.get(code), code, values.get(tag_column(code)))
        if code in defs.LIFECYCLE_CODES:
            lifecycle[code] = out
        if by_code.get(code) is not None and by_code[code].status != "active":
            continue
        tags.append(out)
    history = []
    for change in changes:
        tag = by_code.get(change["tag_code"])
        boolean = tag is not None and tag.value_type == "boolean"

        def parse(text: str | None, boolean: bool = boolean) -> Any:
            return (text == "true") if boolean and text is not None else text

        previous_zh, previous_en = _label(tag, parse(change["previous"])) if tag and change["previous"] else (None, None)
        value_zh, value_en = _label(tag, parse(change["value"])) if tag and change["value"] else (None, None)
        history.append(CustomerTagChange(
            at=change["changed_at"], run_id=change["run_id"], tagset_version=change["tagset_version"], code=change["tag_code"],
            name_zh=tag.name_zh if tag else change["tag_code"], name_en=tag.name_en if tag else change["tag_code"],
            previous=change["previous"], previous_label_zh=previous_zh, previous_label_en=previous_en,
            value=change["value"], value_label_zh=value_zh, value_label_en=value_en))
    return CustomerTags(customer_no=customer.customer_no, tagset_version=version,
                        computed_at=datetime.fromisoformat(manifest["created_at"]),
                        lifecycle_stage=lifecycle.get("lifecycle_stage"),
                        lifecycle_status=lifecycle.get("lifecycle_status"), tags=tags, history=history)


def tags_using_lists(session: Session, list_ids: set[int]) -> dict[int, list[TagDefinition]]:
    """List-sourced tags (archived too: they can be restored) by the uploaded list they read."""
    found: dict[int, list[TagDefinition]] = {}
    for tag in session.scalars(select(TagDefinition).where(TagDefinition.source == "list").order_by(TagDefinition.id)):
        list_id = (tag.definition or {}).get("list_id")
        if list_id in list_ids:
            found.setdefault(list_id, []).append(tag)
    return found


def tag_values_by_code(session: Session) -> dict[str, TagDefinition]:
    return {t.code: t for t in session.scalars(select(TagDefinition))}


__all__ = [
    "DAILY_SCHEDULE_KEY", "RUN_JOB", "InvalidTag", "ScopedStats", "TagInUse", "archive_tag", "catalog", "create_tag", "customer_tags",
    "ensure_daily_schedule", "get_run", "get_tag", "list_runs", "list_tags", "request_run", "scoped_stats", "sync_schedule",
    "tag_detail", "update_tag", "upload_scores", "validate",
]
