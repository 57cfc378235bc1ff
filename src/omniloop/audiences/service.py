"""Saved audiences (人群), snapshots (人群快照), live estimates and exports (service layer; no HTTP).

Visibility: an audience belongs to an org and is visible on that org's path — to its subtree and to the
offices above it — so a head-office audience serves every branch while each user's counts, snapshots and
exports stay within their own scope. Only users whose subtree contains the owner org may change it.
Snapshots are visible to users whose subtree contains the org whose scope the snapshot was taken in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pyroaring import BitMap
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from omniloop.audiences.bitmap_index import BRANCH_DIMENSION, LIFECYCLE, ORG_DIMENSION
from omniloop.audiences.engine import (
    DEFAULT_BREAKDOWN,
    AudienceEngine,
    Loaded,
    visible_lists,
    visible_org_condition,
)
from omniloop.audiences.expression import (
    AudiencePredicate,
    ListPredicate,
    TagPredicate,
    dump_expression,
    parse_expression,
    walk,
)
from omniloop.audiences.models import Audience, AudienceSnapshot
from omniloop.audiences.schemas import (
    AudienceCreate,
    AudienceDeleted,
    AudienceOption,
    AudiencePage,
    AudienceRead,
    AudienceUpdate,
    BreakdownItem,
    CatalogRead,
    EstimateRead,
    ExportRead,
    FeatureOption,
    ListOption,
    NodeCountRead,
    SnapshotDetail,
    SnapshotPage,
    SnapshotRead,
    TagOption,
    ValueOption,
)
from omniloop.campaigns.models import Campaign
from omniloop.core import audit
from omniloop.core.db import utcnow
from omniloop.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from omniloop.core.pagination import PageParams, paginate
from omniloop.exports import tasks as export_tasks
from omniloop.jobs import service as jobs_service
from omniloop.jobs.models import Job
from omniloop.org.auth import Principal
from omniloop.org.models import Org, User
from omniloop.org.service import subtree_condition
from omniloop.tags.features import FEATURES, Kind
from omniloop.tags.schemas import AudienceUse, CampaignUse, TagUsage

EXPORT_JOB = "audiences.export"
EXPORTS_DIR = "exports"

# ---- labels -----------------------------------------------------------------------------------------------

BOOLEAN_LABELS = {True: ("是", "Yes"), False: ("否", "No")}
VALUE_LABELS: dict[str, dict[Any, tuple[str, str]]] = {
    "gender": {"M": ("男", "Male"), "F": ("女", "Female")},
    "segment": {"retail": ("零售客户", "Retail"), "private": ("私行客户", "Private banking"),
                "corporate": ("对公客户", "Corporate"), "small_business": ("小微客户", "Small business")},
    "risk_level": {"R1": ("R1 谨慎型", "R1 cautious"), "R2": ("R2 稳健型", "R2 conservative"),
                   "R3": ("R3 平衡型", "R3 balanced"), "R4": ("R4 进取型", "R4 growth"),
                   "R5": ("R5 激进型", "R5 aggressive")},
    "lifecycle_stage": {"acquire": ("获客期", "Acquire"), "activate": ("激活期", "Activate"),
                        "grow": ("成长期", "Grow"), "retain": ("留存期", "Retain"), "refer": ("推荐期", "Refer")},
    "lifecycle_status": {"novice": ("新手期", "Novice"), "growth": ("成长期", "Growth"),
                         "mature": ("成熟期", "Mature"), "churn_risk": ("流失预警", "Churn risk"),
                         "dormant": ("沉睡", "Dormant")},
}
UNITS: dict[str, tuple[str, str]] = {
    "age": ("岁", "years"), "product_count": ("个", "products"), "app_logins_month": ("次", "logins"),
    "app_logins_3m": ("次", "logins"), "months_since_login": ("月", "months"), "tenure_days": ("天", "days"),
}
ORG_DIMENSIONS = (BRANCH_DIMENSION, ORG_DIMENSION)
NULL_LABELS = {BRANCH_DIMENSION: ("总行直属", "Head office (direct)"), ORG_DIMENSION: ("未知机构", "Unknown org"),
               LIFECYCLE: ("未划分阶段", "No stage")}


def value_label(dimension: str, value: Any) -> tuple[str, str]:
    """(zh, en) label of one value of a feature or ``tag:<code>`` dimension."""
    if value is None:
        return NULL_LABELS.get(dimension, ("未设置", "Not set"))
    if isinstance(value, bool):
        return BOOLEAN_LABELS[value]
    known = VALUE_LABELS.get(dimension, {}).get(value)
    return known if known else (str(value), str(value))


def _org_labels(session: Session, ids: set[int]) -> dict[int, tuple[str, str]]:
    if not ids:
        return {}
    rows = session.execute(select(Org.id, Org.name, Org.name_en).where(Org.id.in_(ids)))
    return {i: (name, name_en or name) for i, name, name_en in rows}


def breakdown_items(session: Session, counts: Mapping[str, Mapping[Any, int]]) -> dict[str, list[BreakdownItem]]:
    """Breakdown counts with labels, largest first; org dimensions are labelled with org names."""
    org_ids = {k for d in ORG_DIMENSIONS for k in counts.get(d, {}) if k is not None}
    orgs = _org_labels(session, org_ids)
    result: dict[str, list[BreakdownItem]] = {}
    for dimension, values in counts.items():
        items = []
        for value, count in values.items():
            if dimension in ORG_DIMENSIONS and value is not None:
                zh, en = orgs.get(value, (f"机构 {value}", f"Org {value}"))
            else:
                zh, en = value_label(dimension.removeprefix("tag:") if dimension.startswith("tag:") else dimension,
                                     value)
            items.append(BreakdownItem(value=value, label_zh=zh, label_en=en, count=count))
        items.sort(key=lambda item: (-item.count, str(item.value)))
        result[dimension] = items
    return result



# ---- estimate and catalog ---------------------------------------------------------------------------------

def estimate(*, session: Session, principal: Principal, engine: AudienceEngine, expression: Any,
             breakdown: Sequence[str] | None = None) -> EstimateRead:
    """Live size of ``expression`` in the principal's scope, its breakdown and each node's own count."""
    query = engine.prepare(session, principal, expression)
    dimensions = engine.check_breakdown(query.loaded, DEFAULT_BREAKDOWN if breakdown is None else breakdown)
    result = query.estimate(dimensions)
    return EstimateRead(
        total=result.total, universe=result.universe,
        nodes=[NodeCountRead(id=n.id, path=n.path, op=n.op, count=n.count) for n in result.nodes],
        breakdown=breakdown_items(session, result.breakdown), tagset_version=query.loaded.version,
        feature_version=query.loaded.feature_version, elapsed_ms=round(result.elapsed_ms, 3))


def _tag_labels(session: Session, tags: Mapping[str, Any]) -> dict[str, tuple[str, str, dict[Any, tuple[str, str]]]]:
    """code → (name zh, name en, value → labels): the tag definitions' names, else what the run recorded."""
    from omniloop.tags import service as tag_service  # the tag service counts audience usage: import late

    definitions = tag_service.tag_values_by_code(session)
    result = {}
    for code, meta in tags.items():
        extra = meta.extra or {}
        definition = definitions.get(code)
        zh = (definition.name_zh if definition else None) or extra.get("name_zh") or extra.get("name") or code
        en = (definition.name_en if definition else None) or extra.get("name_en") or zh
        values = {item.get("value"): (item.get("label_zh") or str(item.get("value")),
                                      item.get("label_en") or str(item.get("value")))
                  for item in ((definition.values or []) if definition else []) if isinstance(item, dict)}
        result[code] = (zh, en, values)
    return result


def catalog(*, session: Session, principal: Principal, engine: AudienceEngine) -> CatalogRead:
    """What the audience builder offers: features, tags of the current tag set, lists, saved audiences."""
    loaded = engine.peek()
    indexed = set(loaded.index.features) if loaded else set(FEATURES)
    features = []
    for f in FEATURES.values():
        if f.name not in indexed:
            continue
        values: list[ValueOption] = []
        if f.kind is Kind.boolean:
            values = [ValueOption(value=v, label_zh=BOOLEAN_LABELS[v][0], label_en=BOOLEAN_LABELS[v][1])
                      for v in (True, False)]
        elif f.kind is Kind.enum:
            values = [ValueOption(value=v, label_zh=zh, label_en=en)
                      for v in f.values for zh, en in (value_label(f.name, v),)]
        unit = ("元", "yuan") if f.kind is Kind.money else UNITS.get(f.name)
        features.append(FeatureOption(
            name=f.name, kind=f.kind.value, label_zh=f.label_zh, label_en=f.label_en, values=values,
            condition="values" if f.kind in (Kind.enum, Kind.boolean) else "range",
            unit_zh=unit[0] if unit else None, unit_en=unit[1] if unit else None, nullable=f.nullable))
    tags: list[TagOption] = []
    if loaded is not None:
        labels = _tag_labels(session, loaded.tags)
        for code, meta in sorted(loaded.tags.items()):
            boolean = meta.kind == Kind.boolean.value
            name_zh, name_en, value_labels = labels[code]
            values = ([ValueOption(value=v, label_zh=BOOLEAN_LABELS[v][0], label_en=BOOLEAN_LABELS[v][1])
                       for v in (True, False)] if boolean
                      else [ValueOption(value=v, label_zh=zh, label_en=en)
                            for v in meta.values for zh, en in (value_labels.get(v, (v, v)),)])
            tags.append(TagOption(code=code, kind="boolean" if boolean else "enum", name_zh=name_zh,
                                  name_en=name_en, values=values, tag_id=meta.tag_id))
    lists = visible_lists(session, principal)
    orgs = _org_labels(session, {row.org_id for row in lists})
    audiences = session.scalars(
        visible_audiences_statement(principal).where(Audience.archived.is_(False)).order_by(Audience.name))
    return CatalogRead(
        tagset_version=loaded.version if loaded else None,
        feature_version=loaded.feature_version if loaded else None,
        as_of=loaded.as_of if loaded else None,
        features=features, tags=tags,
        lists=[ListOption(id=row.id, name=row.name, size=row.size, org_id=row.org_id,
                          org_name=orgs.get(row.org_id, (None, None))[0],
                          org_name_en=orgs.get(row.org_id, (None, None))[1], created_at=row.created_at)
               for row in lists],
        audiences=[AudienceOption(id=a.id, name=a.name) for a in audiences],
        breakdowns=loaded.index.dimensions() if loaded else list(DEFAULT_BREAKDOWN))


# ---- saved audiences --------------------------------------------------------------------------------------

def visible_audiences_statement(principal: Principal) -> Select:
    return (select(Audience).join(Org, Org.id == Audience.org_id)
            .where(visible_org_condition(Org.path, principal)))


def audiences_statement(principal: Principal, *, q: str | None = None, archived: bool = False) -> Select:
    stmt = visible_audiences_statement(principal).where(Audience.archived.is_(archived))
    if q and q.strip():
        stmt = stmt.where(Audience.name.contains(q.strip(), autoescape=True))
    return stmt.order_by(Audience.updated_at.desc(), Audience.id.desc())


def get_visible(*, session: Session, principal: Principal, audience_id: int) -> Audience:
    audience = session.scalar(visible_audiences_statement(principal).where(Audience.id == audience_id))
    if audience is None:
        raise NotFound("人群不存在或不在您的管辖范围内", "Audience not found or outside your scope",
                       code="audience_not_found", details={"audience_id": audience_id})
    return audience


def _owner_path(session: Session, audience: Audience) -> str:
    return session.scalar(select(Org.path).where(Org.id == audience.org_id)) or ""


def can_edit(session: Session, principal: Principal, audience: Audience) -> bool:
    return _owner_path(session, audience).startswith(principal.org.path)


def _require_editable(session: Session, principal: Principal, audience: Audience) -> None:
    if not can_edit(session, principal, audience):
        raise Forbidden("该人群由上级机构维护，您只能使用，不能修改", "This audience belongs to a higher office; "
                        "you may use it but not change it", code="audience_not_editable")


def read_audiences(session: Session, principal: Principal, audiences: Sequence[Audience]) -> list[AudienceRead]:
    if not audiences:
        return []
    org_rows = session.execute(select(Org.id, Org.name, Org.name_en, Org.path)
                               .where(Org.id.in_({a.org_id for a in audiences}))).all()
    orgs = {i: (name, name_en, path) for i, name, name_en, path in org_rows}
    user_ids = {u for a in audiences for u in (a.created_by_id, a.updated_by_id) if u}
    users = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids))).all()) \
        if user_ids else {}
    snapshot_counts = dict(session.execute(
        select(AudienceSnapshot.audience_id, func.count()).where(
            AudienceSnapshot.audience_id.in_([a.id for a in audiences])).group_by(AudienceSnapshot.audience_id)).all())
    result = []
    for a in audiences:
        name, name_en, path = orgs.get(a.org_id, (None, None, ""))
        result.append(AudienceRead(
            id=a.id, name=a.name, description=a.description, expression=a.expression, org_id=a.org_id,
            org_name=name, org_name_en=name_en, created_by_id=a.created_by_id,
            created_by_name=users.get(a.created_by_id), updated_by_name=users.get(a.updated_by_id),
            # The size counts the owner org's customers: shown only to users whose subtree holds that org.
            archived=a.archived, last_total=a.last_total if path.startswith(principal.org.path) else None,
            last_estimated_at=a.last_estimated_at,
            snapshot_count=snapshot_counts.get(a.id, 0), editable=path.startswith(principal.org.path),
            created_at=a.created_at, updated_at=a.updated_at))
    return result


def list_audiences(*, session: Session, principal: Principal, page: PageParams, q: str | None = None,
                   archived: bool = False) -> AudiencePage:
    rows, total = paginate(session, audiences_statement(principal, q=q, archived=archived), page)
    return AudiencePage(items=read_audiences(session, principal, rows), total=total, page=page.page,
                        page_size=page.page_size)


def _clean_name(name: str) -> str:
    if not name.strip():
        raise ValidationFailed("请输入人群名称", "The name is empty", code="invalid_name", details={"field": "name"})
    return name.strip()


def _duplicate_name(session: Session, *, name: str, org_id: int, exclude: int | None = None) -> None:
    stmt = select(Audience.id).where(Audience.org_id == org_id, Audience.name == name,
                                     Audience.archived.is_(False))
    if exclude is not None:
        stmt = stmt.where(Audience.id != exclude)
    if session.scalar(stmt) is not None:
        raise Conflict("本机构已有同名人群", "Your org already has an audience with this name",
                       code="audience_name_taken", details={"field": "name"})


def create_audience(*, session: Session, principal: Principal, engine: AudienceEngine,
                    data: AudienceCreate) -> Audience:
    """Validate and save; ``last_total`` is the size in the saver's scope now."""
    name = _clean_name(data.name)
    _duplicate_name(session, name=name, org_id=principal.org.id)
    query = engine.prepare(session, principal, data.expression)  # the saver's org is the owner org
    total = query.estimate(()).total
    now = utcnow()
    audience = Audience(name=name, description=data.description, expression=dump_expression(query.expr),
                        org_id=principal.org.id, created_by_id=principal.user.id, updated_by_id=principal.user.id,
                        archived=False, last_total=total, last_estimated_at=now, created_at=now, updated_at=now)
    session.add(audience)
    session.flush()
    audit.record(session, actor=principal.actor, action="audience.create", entity_type="audience",
                 entity_id=audience.id, after=audit.snapshot(audience))
    return audience


def update_audience(*, session: Session, principal: Principal, engine: AudienceEngine, audience: Audience,
                    data: AudienceUpdate) -> Audience:
    _require_editable(session, principal, audience)
    if audience.archived:
        raise Conflict("人群已归档，不能修改", "The audience is archived and cannot be changed",
                       code="audience_archived")
    before = audit.snapshot(audience)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") is not None:
        name = _clean_name(changes["name"])
        _duplicate_name(session, name=name, org_id=audience.org_id, exclude=audience.id)
        audience.name = name
    if "description" in changes:
        audience.description = changes["description"]
    expression = changes.get("expression")
    # Validated and counted in the owner org's scope, whoever edits: last_total is that org's size.
    owner = Principal(user=principal.user, org=session.get(Org, audience.org_id), token_hash=principal.token_hash)
    query = engine.prepare(session, owner, expression if expression is not None else audience.expression,
                           audience_id=audience.id)
    if expression is not None:
        audience.expression = dump_expression(query.expr)
    audience.last_total = query.estimate(()).total
    audience.last_estimated_at = utcnow()
    audience.updated_by_id = principal.user.id
    audience.updated_at = utcnow()
    session.flush()
    audit.record(session, actor=principal.actor, action="audience.update", entity_type="audience",
                 entity_id=audience.id, before=before, after=audit.snapshot(audience))
    return audience


def _referenced_by_others(session: Session, audience_id: int) -> bool:
    return any(audience_id in _refs(data).audiences
               for (data,) in session.execute(select(Audience.expression).where(Audience.id != audience_id)))


def delete_audience(*, session: Session, principal: Principal, audience: Audience) -> AudienceDeleted:
    """Delete an audience; one with snapshots or referenced by another audience is archived instead."""
    _require_editable(session, principal, audience)
    has_snapshots = session.scalar(
        select(func.count()).select_from(AudienceSnapshot).where(AudienceSnapshot.audience_id == audience.id)) > 0
    before = audit.snapshot(audience)
    if has_snapshots or _referenced_by_others(session, audience.id):
        audience.archived = True
        audience.updated_by_id = principal.user.id
        audience.updated_at = utcnow()
        session.flush()
        audit.record(session, actor=principal.actor, action="audience.archive", entity_type="audience",
                     entity_id=audience.id, before=before, after=audit.snapshot(audience))
        return AudienceDeleted(id=audience.id, deleted=False, archived=True)
    session.delete(audience)
    session.flush()
    audit.record(session, actor=principal.actor, action="audience.delete", entity_type="audience",
                 entity_id=before["id"], before=before)
    return AudienceDeleted(id=before["id"], deleted=True, archived=False)


def restore_audience(*, session: Session, principal: Principal, audience: Audience) -> Audience:
    _require_editable(session, principal, audience)
    if audience.archived:
        _duplicate_name(session, name=audience.name, org_id=audience.org_id, exclude=audience.id)
        before = audit.snapshot(audience)
        audience.archived = False
        audience.updated_by_id = principal.user.id
        audience.updated_at = utcnow()
        session.flush()
        audit.record(session, actor=principal.actor, action="audience.restore", entity_type="audience",
                     entity_id=audience.id, before=before, after=audit.snapshot(audience))
    return audience


FINISHED_CAMPAIGN_STATUSES = ("stopped", "completed")


@dataclass(frozen=True)
class _Refs:
    """What one stored expression names directly: tag codes, uploaded lists, saved audiences."""

    tags: frozenset[str] = frozenset()
    lists: frozenset[int] = frozenset()
    audiences: frozenset[int] = frozenset()


def _refs(data: Any) -> _Refs:
    if not data:
        return _Refs()
    try:
        nodes = [n for _, _, n in walk(parse_expression(data))]
    except Exception:  # an unreadable stored expression references nothing we can follow
        return _Refs()
    return _Refs(frozenset(n.tag for n in nodes if isinstance(n, TagPredicate)),
                 frozenset(n.list_id for n in nodes if isinstance(n, ListPredicate)),
                 frozenset(n.audience_id for n in nodes if isinstance(n, AudiencePredicate)))


@dataclass
class ExpressionUsage:
    """Every saved audience's references, followed through the saved audiences it references.

    Read once per request (a bank has hundreds of audiences, not millions); campaigns are read with it
    because a campaign uses a tag or list through its audience or its own filters.
    """

    audiences: dict[int, tuple[Audience, _Refs]]
    campaigns: list[tuple[Campaign, _Refs]]
    _closure: dict[int, _Refs] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session) -> ExpressionUsage:
        audiences = {a.id: (a, _refs(a.expression)) for a in session.scalars(select(Audience))}
        campaigns = [(c, _refs(c.filters)) for c in session.scalars(select(Campaign).order_by(Campaign.id))]
        return cls(audiences, campaigns)

    def closure(self, audience_id: int | None, chain: frozenset[int] = frozenset()) -> _Refs:
        """What the audience uses, directly or through the audiences it references (cycles cut)."""
        if audience_id is None or audience_id not in self.audiences or audience_id in chain:
            return _Refs()
        if audience_id in self._closure:
            return self._closure[audience_id]
        own = self.audiences[audience_id][1]
        tags, lists = set(own.tags), set(own.lists)
        for ref in own.audiences:
            inner = self.closure(ref, chain | {audience_id})
            tags |= inner.tags
            lists |= inner.lists
        found = _Refs(frozenset(tags), frozenset(lists), own.audiences)
        self._closure[audience_id] = found
        return found

    @cached_property
    def tag_counts(self) -> dict[str, int]:
        """Live (not archived) audiences using each tag code."""
        usage: Counter[str] = Counter()
        for audience_id, (audience, _) in self.audiences.items():
            if not audience.archived:
                usage.update(self.closure(audience_id).tags)
        return dict(usage)

    @cached_property
    def campaign_tag_counts(self) -> dict[str, int]:
        """Campaigns using each tag code through their audience or their filters."""
        usage: Counter[str] = Counter()
        for campaign, filters in self.campaigns:
            usage.update(self.closure(campaign.audience_id).tags | filters.tags)
        return dict(usage)

    def audiences_using_tag(self, code: str) -> list[AudienceUse]:
        return [AudienceUse(id=a.id, name=a.name, archived=a.archived, direct=code in refs.tags)
                for audience_id, (a, refs) in sorted(self.audiences.items())
                if code in self.closure(audience_id).tags]

    def campaigns_using_tag(self, code: str) -> list[CampaignUse]:
        result = []
        for campaign, filters in self.campaigns:
            by_audience = code in self.closure(campaign.audience_id).tags
            by_filters = code in filters.tags
            if not (by_audience or by_filters):
                continue
            audience = self.audiences.get(campaign.audience_id or 0)
            result.append(CampaignUse(
                id=campaign.id, code=campaign.code, name=campaign.name, status=campaign.status,
                finished=campaign.status in FINISHED_CAMPAIGN_STATUSES, audience_id=campaign.audience_id,
                audience_name=audience[0].name if audience else None,
                via="both" if by_audience and by_filters else "audience" if by_audience else "filters"))
        return result

    def list_users(self, list_id: int) -> tuple[list[Audience], list[Campaign]]:
        """Audiences (archived too: they can be restored) and campaigns using uploaded list ``list_id``."""
        audiences = [a for audience_id, (a, refs) in sorted(self.audiences.items()) if list_id in refs.lists]
        campaigns = [c for c, filters in self.campaigns
                     if list_id in filters.lists or list_id in (c.suppression_list_ids or [])
                     or list_id in self.closure(c.audience_id).lists]
        return audiences, campaigns


def tag_usage(session: Session) -> dict[str, int]:
    """How many live saved audiences use each tag code (for the tag list's usage column)."""
    return ExpressionUsage.load(session).tag_counts


def tag_users(session: Session, code: str) -> TagUsage:
    """The audiences using tag ``code`` and the campaigns built on them or filtering by it."""
    usage = ExpressionUsage.load(session)
    return TagUsage(audiences=usage.audiences_using_tag(code), campaigns=usage.campaigns_using_tag(code))


# ---- snapshots --------------------------------------------------------------------------------------------

def _inline(data: Any, resolve, chain: tuple[int, ...] = ()) -> Any:
    """The expression with saved audiences replaced by their expressions (what a snapshot froze)."""
    if isinstance(data, list):
        return [_inline(item, resolve, chain) for item in data]
    if not isinstance(data, dict):
        return data
    if data.get("op") == "audience" and isinstance(data.get("audience_id"), int) \
            and data["audience_id"] not in chain:
        inner = resolve(data["audience_id"])
        if inner is not None:
            inlined = _inline(inner, resolve, chain + (data["audience_id"],))
            return {**inlined, "id": data.get("id", inlined.get("id")), "from_audience": data["audience_id"]}
    return {key: _inline(value, resolve, chain) for key, value in data.items()}


def create_snapshot(*, session: Session, principal: Principal, engine: AudienceEngine, audience: Audience,
                    purpose: str | None = None) -> AudienceSnapshot:
    """Freeze the audience's members within the creator's scope now (immutable from here on)."""
    if audience.archived:
        raise Conflict("人群已归档，不能生成快照", "The audience is archived; no new snapshots",
                       code="audience_archived")
    query = engine.prepare(session, principal, audience.expression, audience_id=audience.id)
    members = query.members()

    def resolve(audience_id: int) -> Any:
        return session.scalar(select(Audience.expression).where(Audience.id == audience_id))

    snapshot = AudienceSnapshot(
        audience_id=audience.id, expression=_inline(audience.expression, resolve), members=members.serialize(),
        size=len(members), tagset_version=query.loaded.version, feature_version=query.loaded.feature_version,
        scope_org_id=principal.org.id, purpose=(purpose or "").strip() or None, created_by_id=principal.user.id,
        created_at=utcnow())
    session.add(snapshot)
    session.flush()
    audit.record(session, actor=principal.actor, action="audience.snapshot", entity_type="audience_snapshot",
                 entity_id=snapshot.id, after={
                     "audience_id": audience.id, "size": snapshot.size, "tagset_version": snapshot.tagset_version,
                     "feature_version": snapshot.feature_version, "scope_org_id": snapshot.scope_org_id,
                     "purpose": snapshot.purpose, "rm_scope": principal.role.assigned_customers_only})
    return snapshot


def _snapshots_statement(principal: Principal) -> Select:
    """Snapshots taken in the caller's subtree (their counts never reach outside it)."""
    return (select(AudienceSnapshot).join(Org, Org.id == AudienceSnapshot.scope_org_id)
            .where(subtree_condition(Org.path, principal.org.path)))


def read_snapshots(session: Session, snapshots: Sequence[AudienceSnapshot]) -> list[SnapshotRead]:
    if not snapshots:
        return []
    orgs = _org_labels(session, {s.scope_org_id for s in snapshots})
    user_ids = {s.created_by_id for s in snapshots if s.created_by_id}
    users = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids))).all()) \
        if user_ids else {}
    names = dict(session.execute(select(Audience.id, Audience.name)
                                 .where(Audience.id.in_({s.audience_id for s in snapshots}))).all())
    return [SnapshotRead(
        id=s.id, audience_id=s.audience_id, audience_name=names.get(s.audience_id), size=s.size,
        tagset_version=s.tagset_version, feature_version=s.feature_version, scope_org_id=s.scope_org_id,
        scope_org_name=orgs.get(s.scope_org_id, (None, None))[0],
        scope_org_name_en=orgs.get(s.scope_org_id, (None, None))[1], purpose=s.purpose,
        created_by_name=users.get(s.created_by_id), created_at=s.created_at) for s in snapshots]


def list_snapshots(*, session: Session, principal: Principal, audience: Audience, page: PageParams) -> SnapshotPage:
    stmt = (_snapshots_statement(principal).where(AudienceSnapshot.audience_id == audience.id)
            .order_by(AudienceSnapshot.created_at.desc(), AudienceSnapshot.id.desc()))
    rows, total = paginate(session, stmt, page)
    return SnapshotPage(items=read_snapshots(session, rows), total=total, page=page.page, page_size=page.page_size)


def get_snapshot(*, session: Session, principal: Principal, snapshot_id: int) -> AudienceSnapshot:
    snapshot = session.scalar(_snapshots_statement(principal).where(AudienceSnapshot.id == snapshot_id))
    if snapshot is None or session.scalar(
            visible_audiences_statement(principal).where(Audience.id == snapshot.audience_id)) is None:
        raise NotFound("人群快照不存在或不在您的管辖范围内", "Snapshot not found or outside your scope",
                       code="snapshot_not_found", details={"snapshot_id": snapshot_id})
    return snapshot


def snapshot_members(snapshot: AudienceSnapshot) -> BitMap:
    return BitMap.deserialize(snapshot.members)


def snapshot_detail(*, session: Session, engine: AudienceEngine, snapshot: AudienceSnapshot) -> SnapshotDetail:
    """The snapshot with its breakdown by branch and lifecycle stage (from the current tag set's placement)."""
    base = read_snapshots(session, [snapshot])[0]
    loaded: Loaded | None = engine.peek()
    counts: dict[str, dict[Any, int]] = {}
    if loaded is not None:
        rows = loaded.index.rows_of(snapshot_members(snapshot))
        for dimension in (BRANCH_DIMENSION, LIFECYCLE):
            if dimension in loaded.index.dimensions():
                counts[dimension] = loaded.index.count_by(dimension, rows)
        missing = len(snapshot_members(snapshot)) - len(rows)
        if missing:  # customers gone since the snapshot: still members, no longer placed
            counts.setdefault(BRANCH_DIMENSION, {})
            counts[BRANCH_DIMENSION]["__gone__"] = missing
    items = breakdown_items(session, {d: {k: v for k, v in c.items() if k != "__gone__"} for d, c in counts.items()})
    if counts.get(BRANCH_DIMENSION, {}).get("__gone__"):
        items[BRANCH_DIMENSION].append(BreakdownItem(value="gone", label_zh="已不存在的客户",
                                                     label_en="Customers no longer on file",
                                                     count=counts[BRANCH_DIMENSION]["__gone__"]))
    return SnapshotDetail(**base.model_dump(), breakdown=items,
                          breakdown_tagset_version=loaded.version if loaded else None)


# ---- exports ----------------------------------------------------------------------------------------------

def request_export(*, session: Session, principal: Principal, fmt: str, audience: Audience | None = None,
                   snapshot: AudienceSnapshot | None = None) -> Job:
    """Queue an ``audiences.export`` job for the caller; the job re-checks their scope when it runs."""
    args: dict[str, Any] = {"user_id": principal.user.id, "format": fmt}
    if snapshot is not None:
        args["snapshot_id"] = snapshot.id
        entity_type, entity_id = "audience_snapshot", snapshot.id
    else:
        assert audience is not None
        args["audience_id"] = audience.id
        entity_type, entity_id = "audience", audience.id
    job = jobs_service.enqueue(session, name=EXPORT_JOB, args=args, created_by=principal.user.id, max_attempts=3)
    export_tasks.declare_schedules(session)  # export files expire: make sure something removes them
    audit.record(session, actor=principal.actor, action="audience.export", entity_type=entity_type,
                 entity_id=entity_id, after={"job_id": job.id, "format": fmt})
    return job


def get_export_job(*, session: Session, principal: Principal, job_id: int) -> Job:
    """An export job the caller requested (others' exports are reported as missing)."""
    job = session.get(Job, job_id)
    if job is None or job.name != EXPORT_JOB or job.created_by != principal.user.id:
        raise NotFound("导出任务不存在", "Export not found", code="export_not_found", details={"job_id": job_id})
    return job


def export_read(job: Job) -> ExportRead:
    args, result = job.args or {}, job.result or {}
    return ExportRead(
        job_id=job.id, status=job.status, progress=job.progress, progress_message=job.progress_message,
        format=args.get("format", "csv"), audience_id=args.get("audience_id"), snapshot_id=args.get("snapshot_id"),
        rows=result.get("rows"), masked=result.get("masked"), file_name=result.get("download_name"),
        error=(job.error or "").strip().splitlines()[-1][:500] if job.error else None,
        created_at=job.created_at, finished_at=job.finished_at)


def export_path(home: Path, job: Job) -> Path:
    """Where the finished export of ``job`` is (raises 409 while it is not ready, 410 once removed)."""
    if job.status != "succeeded" or not (job.result or {}).get("file"):
        raise Conflict("导出尚未完成", "The export is not finished yet", code="export_not_ready",
                       details={"status": job.status})
    path = Path(home) / EXPORTS_DIR / Path(job.result["file"]).name
    if not path.is_file():
        raise Conflict("导出文件已被清理，请重新导出", "The export file was removed; export again",
                       code="export_gone", status=410)
    return path


__all__ = ["EXPORT_JOB", "EXPORTS_DIR", "breakdown_items", "catalog", "create_audience", "create_snapshot",
           "delete_audience", "estimate", "get_snapshot", "get_visible", "list_audiences", "list_snapshots",
           "request_export", "snapshot_detail", "tag_usage", "tag_users", "update_audience", "value_label",
           "ExpressionUsage", "FINISHED_CAMPAIGN_STATUSES"]
