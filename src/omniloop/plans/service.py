"""Campaign needs and plans (活动方案管理): scope, CRUD, versions, documents and archive search. No HTTP.

Plan status changes made by the countersign go through ``mark_*`` here, so the plan table has one owner.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import Session

from omniloop.core import audit
from omniloop.core.audit import Actor
from omniloop.core.db import utcnow
from omniloop.core.errors import Conflict, NotFound, ValidationFailed
from omniloop.core.pagination import PageParams
from omniloop.org import service as org_service
from omniloop.org.auth import Principal
from omniloop.org.models import Org, User
from omniloop.plans import documents, search
from omniloop.plans.models import Plan, PlanDocument, PlanVersion
from omniloop.plans.schemas import (
    DocumentRead,
    FieldSuggestion,
    PlanCreate,
    PlanFromAlert,
    PlanRead,
    PlanUpdate,
    PlanVersionRead,
    SearchHit,
    SearchPage,
    VersionComparison,
)
from omniloop.plans.versions import FIELD_NAMES, compare

EDITABLE = ("draft", "rejected", "withdrawn")
ARCHIVED = ("approved",)  # what the archive search covers


class PlanLocked(Conflict):
    code = "plan_locked"
    message_zh = "方案正在会签或已通过，不能修改；如需修改请先撤回"
    message_en = "The plan is in countersign or approved and cannot be edited; withdraw it first"


# ---- scope ----------------------------------------------------------------------------------------------

def readable_statement(principal: Principal) -> Select:
    """Plans owned by an org in the caller's subtree: a branch sees its own, the head office sees all."""
    return select(Plan).join(Org, Org.id == Plan.owner_org_id).where(
        org_service.subtree_condition(Org.path, principal.org.path))


def list_statement(principal: Principal, *, q: str | None = None, status: str | None = None,
                   lifecycle_stage: str | None = None, business_line: str | None = None,
                   owner_org_id: int | None = None) -> Select:
    stmt = readable_statement(principal)
    if q and q.strip():
        term = q.strip()
        stmt = stmt.where(or_(Plan.title.contains(term, autoescape=True),
                              Plan.objective.contains(term, autoescape=True),
                              Plan.source_ref.contains(term, autoescape=True)))
    if status:
        stmt = stmt.where(Plan.status == status)
    if lifecycle_stage:
        stmt = stmt.where(Plan.lifecycle_stage == lifecycle_stage)
    if business_line:
        stmt = stmt.where(Plan.business_line == business_line)
    if owner_org_id is not None:
        stmt = stmt.where(Plan.owner_org_id == owner_org_id)
    return stmt.order_by(Plan.updated_at.desc(), Plan.id.desc())


def get_plan(*, session: Session, principal: Principal, plan_id: int) -> Plan:
    plan = session.scalar(readable_statement(principal).where(Plan.id == plan_id))
    if plan is None:
        raise NotFound("方案不存在或不在您的管辖范围内", "Plan not found or outside your scope",
                       code="plan_not_found", details={"plan_id": plan_id})
    return plan


def get_plan_unscoped(*, session: Session, plan_id: int) -> Plan:
    """For other domains acting on a plan already authorised (the countersign, campaigns)."""
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound("方案不存在", "Plan not found", code="plan_not_found", details={"plan_id": plan_id})
    return plan


def owner_org(session: Session, plan: Plan) -> Org:
    return org_service.get_org(session=session, org_id=plan.owner_org_id)


# ---- reading --------------------------------------------------------------------------------------------

def read_plans(session: Session, plans: Sequence[Plan]) -> list[PlanRead]:
    from omniloop.campaigns import service as campaign_service  # campaigns depend on plans, not back

    if not plans:
        return []
    orgs = {o.id: o for o in session.scalars(select(Org).where(Org.id.in_({p.owner_org_id for p in plans})))}
    owner_ids = {p.owner_id for p in plans if p.owner_id}
    names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(owner_ids))).all())
    campaigns = campaign_service.campaigns_for_plans(session, plan_ids=[p.id for p in plans])
    items = []
    for plan in plans:
        item = PlanRead.model_validate(plan)
        org = orgs.get(plan.owner_org_id)
        item.owner_org_name = org.name if org else None
        item.owner_org_name_en = org.name_en if org else None
        item.owner_name = names.get(plan.owner_id)
        if plan.id in campaigns:
            item.campaign_id, item.campaign_code = campaigns[plan.id]
        items.append(item)
    return items


def read_plan(session: Session, plan: Plan) -> PlanRead:
    return read_plans(session, [plan])[0]


# ---- versions -------------------------------------------------------------------------------------------

def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, list):
        return list(value)
    return value


def fields_of(plan: Plan) -> dict[str, Any]:
    return {name: _jsonable(getattr(plan, name)) for name in FIELD_NAMES}


def _current_version(session: Session, plan: Plan) -> PlanVersion | None:
    return session.scalar(select(PlanVersion).where(PlanVersion.plan_id == plan.id,
                                                    PlanVersion.version == plan.version))


def _save_version(session: Session, plan: Plan, *, actor: Actor, note: str | None = None) -> PlanVersion:
    """Write the plan's fields into its current version, or into a new one once the plan has been submitted."""
    current = _current_version(session, plan)
    if current is not None and (current.frozen or plan.submitted_at is not None):
        # Drafting before the first submission refines version 1; after it, every save is a new version.
        plan.version += 1
        current = None
    if current is None:
        current = PlanVersion(plan_id=plan.id, version=plan.version, data={}, created_by_id=actor.user_id)
        session.add(current)
    current.data = fields_of(plan)
    if note is not None:
        current.note = note
    return current


def freeze_current_version(session: Session, plan: Plan) -> PlanVersion:
    """Freeze the version being submitted: what the approvers approve can no longer change."""
    current = _current_version(session, plan)
    if current is None:  # plans written before versions existed; cannot happen through this service
        current = PlanVersion(plan_id=plan.id, version=plan.version, data=fields_of(plan))
        session.add(current)
    current.frozen = True
    return current


def list_versions(session: Session, plan: Plan) -> list[PlanVersionRead]:
    rows = session.execute(
        select(PlanVersion, User.display_name).outerjoin(User, User.id == PlanVersion.created_by_id)
        .where(PlanVersion.plan_id == plan.id).order_by(PlanVersion.version.desc())
    ).all()
    items = []
    for version, name in rows:
        item = PlanVersionRead.model_validate(version)
        item.created_by_name = name
        items.append(item)
    return items


def get_version(session: Session, plan: Plan, version: int) -> PlanVersion:
    row = session.scalar(select(PlanVersion).where(PlanVersion.plan_id == plan.id, PlanVersion.version == version))
    if row is None:
        raise NotFound("方案版本不存在", "Plan version not found", code="plan_version_not_found",
                       details={"plan_id": plan.id, "version": version})
    return row


def compare_versions(session: Session, plan: Plan, from_version: int, to_version: int) -> VersionComparison:
    before = get_version(session, plan, from_version).data
    after = get_version(session, plan, to_version).data
    fields = compare(before, after)
    return VersionComparison(plan_id=plan.id, from_version=from_version, to_version=to_version, fields=fields,
                             changed=sum(1 for f in fields if f["changed"]))


# ---- writing --------------------------------------------------------------------------------------------

def _check_refs(session: Session, principal: Principal, values: dict[str, Any]) -> None:
    if values.get("owner_org_id") is not None:
        org_service.get_visible_org(session=session, org_id=values["owner_org_id"], root=principal.org)
    if values.get("audience_id") is not None:
        from omniloop.audiences import service as audience_service

        audience_service.get_visible(session=session, principal=principal, audience_id=values["audience_id"])


def _tokens(session: Session, plan: Plan) -> str:
    texts = [plan.title, plan.objective, plan.audience_description, plan.benefits, plan.expected_output,
             plan.source_ref]
    texts += session.scalars(select(PlanDocument.text).where(PlanDocument.plan_id == plan.id,
                                                              PlanDocument.approval_step_id.is_(None))).all()
    return " ".join(search.tokenize("\n".join(t for t in texts if t)))


def create_plan(*, session: Session, principal: Principal, data: PlanCreate,
                source: tuple[str, str] | None = None) -> Plan:
    values = data.model_dump(exclude_none=True)
    _check_refs(session, principal, values)
    values.setdefault("owner_org_id", principal.org.id)
    values.setdefault("audience_tags", [])
    values["channels"] = list(dict.fromkeys(values.get("channels", [])))
    plan = Plan(**values, owner_id=principal.user.id, status="draft", version=1)
    if source:
        plan.source_type, plan.source_ref = source
    session.add(plan)
    session.flush()
    _save_version(session, plan, actor=principal.actor, note="创建")
    plan.search_tokens = _tokens(session, plan)
    audit.record(session, actor=principal.actor, action="plan.create", entity_type="plan", entity_id=plan.id,
                 after=fields_of(plan) | {"source_type": plan.source_type, "source_ref": plan.source_ref})
    return plan


def create_from_alert(*, session: Session, principal: Principal, data: PlanFromAlert) -> Plan:
    """A need raised from an insight alert keeps the alert's reference (营销活动需求由业务监测触发)."""
    create = PlanCreate(title=data.title, objective=data.summary, lifecycle_stage=data.lifecycle_stage,
                        owner_org_id=data.owner_org_id)
    return create_plan(session=session, principal=principal, data=create, source=(data.source_type, data.source_ref))


def update_plan(*, session: Session, principal: Principal, plan: Plan, data: PlanUpdate) -> Plan:
    if plan.status not in EDITABLE:
        raise PlanLocked(details={"status": plan.status})
    changes = data.model_dump(exclude_unset=True)
    note = changes.pop("note", None)
    if changes.get("title", "") is None or changes.get("owner_org_id", 0) is None:
        changes = {k: v for k, v in changes.items() if not (k in ("title", "owner_org_id") and v is None)}
    for key in ("audience_tags", "channels"):
        if key in changes:
            changes[key] = list(dict.fromkeys(changes[key] or []))
    start = changes.get("start_date", plan.start_date)
    end = changes.get("end_date", plan.end_date)
    if start and end and end < start:
        raise ValidationFailed("结束日期不能早于开始日期", "The end date cannot be before the start date",
                               details=[{"loc": ["body", "end_date"], "msg": "before start_date"}])
    _check_refs(session, principal, changes)
    before = fields_of(plan)
    for key, value in changes.items():
        setattr(plan, key, value)
    after = fields_of(plan)
    if after == before and note is None:
        return plan
    version_before = plan.version
    _save_version(session, plan, actor=principal.actor, note=note)
    plan.search_tokens = _tokens(session, plan)
    plan.updated_at = utcnow()
    session.flush()
    audit.record(session, actor=principal.actor, action="plan.update", entity_type="plan", entity_id=plan.id,
                 before=before | {"version": version_before}, after=after | {"version": plan.version})
    return plan


def delete_plan(*, session: Session, principal: Principal, plan: Plan) -> None:
    """Only a draft that was never submitted may be deleted; anything else is history."""
    if plan.status != "draft" or plan.submitted_at is not None:
        raise Conflict("已提交过会签的方案不能删除", "A plan that has been submitted cannot be deleted",
                       code="plan_not_deletable", details={"status": plan.status})
    before = fields_of(plan)
    for row in session.scalars(select(PlanDocument).where(PlanDocument.plan_id == plan.id)):
        session.delete(row)
    for row in session.scalars(select(PlanVersion).where(PlanVersion.plan_id == plan.id)):
        session.delete(row)
    session.flush()
    session.delete(plan)
    audit.record(session, actor=principal.actor, action="plan.delete", entity_type="plan", entity_id=plan.id,
                 before=before)


def _mark(session: Session, plan: Plan, status: str, *, actor: Actor, **extra: Any) -> None:
    before = {"status": plan.status, "version": plan.version, "approved_version": plan.approved_version}
    plan.status = status
    for key, value in extra.items():
        setattr(plan, key, value)
    plan.updated_at = utcnow()
    audit.record(session, actor=actor, action=f"plan.{status}", entity_type="plan", entity_id=plan.id,
                 before=before, after={"status": plan.status, "version": plan.version,
                                       "approved_version": plan.approved_version})


def mark_in_review(session: Session, plan: Plan, *, actor: Actor) -> None:
    """Conditional on the status the caller saw, so two simultaneous submissions start one countersign."""
    before = {"status": plan.status, "version": plan.version}
    now = utcnow()
    result = session.execute(update(Plan).where(Plan.id == plan.id, Plan.status.in_(EDITABLE))
                             .values(status="in_review", submitted_at=now, updated_at=now)
                             .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        session.rollback()
        raise Conflict("方案当前状态不能提交会签", "The plan cannot be submitted in its current status",
                       code="plan_not_submittable", details={"status": plan.status})
    session.refresh(plan)
    freeze_current_version(session, plan)
    audit.record(session, actor=actor, action="plan.in_review", entity_type="plan", entity_id=plan.id,
                 before=before, after={"status": plan.status, "version": plan.version})


def mark_approved(session: Session, plan: Plan, *, version: int, actor: Actor) -> None:
    _mark(session, plan, "approved", actor=actor, approved_version=version, approved_at=utcnow())


def mark_rejected(session: Session, plan: Plan, *, actor: Actor) -> None:
    _mark(session, plan, "rejected", actor=actor)


def mark_withdrawn(session: Session, plan: Plan, *, actor: Actor) -> None:
    _mark(session, plan, "withdrawn", actor=actor)


# ---- documents ------------------------------------------------------------------------------------------

def _store_original(home: Path, sha256: str, file_type: str, data: bytes) -> Path:
    folder = home / "documents"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sha256}.{file_type}"
    if not path.exists():  # content-addressed: the same bytes are stored once
        tmp = folder / f".{sha256}.{os.getpid()}.tmp"
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def document_path(home: Path, document: PlanDocument) -> Path:
    return home / "documents" / f"{document.sha256}.{document.file_type}"


def add_document(*, session: Session, principal: Principal, plan: Plan, filename: str, data: bytes,
                 home: Path, max_bytes: int, approval_step_id: int | None = None) -> PlanDocument:
    """Parse, then store the original and its text. A file that cannot be parsed stores nothing."""
    filename = "".join(ch for ch in filename if ch.isprintable())[:255] or "document"  # NUL breaks PostgreSQL
    file_type, text = documents.parse(data, filename=filename, max_bytes=max_bytes)
    sha256 = hashlib.sha256(data).hexdigest()
    extracted = [s.as_dict() for s in documents.extract_fields(text)]
    _store_original(home, sha256, file_type, data)
    document = PlanDocument(
        plan_id=plan.id, plan_version=plan.version, approval_step_id=approval_step_id, filename=filename,
        file_type=file_type, size_bytes=len(data), sha256=sha256, text=text, extracted={"suggestions": extracted},
        uploaded_by_id=principal.user.id,
    )
    session.add(document)
    session.flush()
    if approval_step_id is None:
        plan.search_tokens = _tokens(session, plan)
    audit.record(session, actor=principal.actor, action="plan.document.upload", entity_type="plan_document",
                 entity_id=document.id, after={"plan_id": plan.id, "filename": document.filename,
                                               "file_type": file_type, "size_bytes": len(data), "sha256": sha256})
    return document


def read_document(document: PlanDocument) -> DocumentRead:
    item = DocumentRead.model_validate(document)
    item.text_chars = len(document.text)
    item.text_preview = document.text[:300]
    return item


def suggestions(plan: Plan, document: PlanDocument) -> list[FieldSuggestion]:
    """The document's proposed fields next to the plan's current values (nothing is overwritten)."""
    current = fields_of(plan)
    items = []
    for proposal in document.extracted.get("suggestions", []):
        value = current.get(proposal["field"])
        items.append(FieldSuggestion(**proposal, current=value, differs=value != proposal["value"]))
    return items


def list_documents(session: Session, plan: Plan) -> list[PlanDocument]:
    return list(session.scalars(select(PlanDocument).where(PlanDocument.plan_id == plan.id)
                                .order_by(PlanDocument.id.desc())))


def get_document(*, session: Session, principal: Principal, document_id: int) -> PlanDocument:
    document = session.get(PlanDocument, document_id)
    if document is None:
        raise NotFound("文档不存在", "Document not found", code="document_not_found",
                       details={"document_id": document_id})
    try:
        get_plan(session=session, principal=principal, plan_id=document.plan_id)
    except NotFound:
        raise NotFound("文档不存在", "Document not found", code="document_not_found",
                       details={"document_id": document_id}) from None
    return document


# ---- archive search -------------------------------------------------------------------------------------

def search_archive(*, session: Session, principal: Principal, q: str, page: PageParams) -> SearchPage:
    """Approved plans in the caller's scope ranked by BM25 over their fields and documents (jieba tokens)."""
    candidates = session.execute(
        readable_statement(principal).with_only_columns(Plan.id, Plan.search_tokens)
        .where(Plan.status.in_(ARCHIVED)).order_by(Plan.id)
    ).all()
    hits = search.rank(q, [(tokens or "").split() for _, tokens in candidates])
    terms = list(dict.fromkeys(search.tokenize(q)))
    window = hits[page.offset: page.offset + page.page_size]
    ids = [candidates[h.index][0] for h in window]
    plans = {p.id: p for p in session.scalars(select(Plan).where(Plan.id.in_(ids)))}
    reads = {r.id: r for r in read_plans(session, list(plans.values()))}
    doc_text: dict[int, list[str]] = {}
    for plan_id, text in session.execute(select(PlanDocument.plan_id, PlanDocument.text)
                                         .where(PlanDocument.plan_id.in_(ids),
                                                PlanDocument.approval_step_id.is_(None))):
        doc_text.setdefault(plan_id, []).append(text)
    items = []
    for hit in window:
        plan = plans[candidates[hit.index][0]]
        body = "\n".join(t for t in [plan.title, plan.objective, plan.audience_description, plan.benefits,
                                     plan.expected_output, *doc_text.get(plan.id, [])] if t)
        items.append(SearchHit(plan=reads[plan.id], score=round(hit.score, 4), terms=hit.terms,
                               highlights=search.snippets(body, hit.terms)))
    return SearchPage(items=items, total=len(hits), page=page.page, page_size=page.page_size, terms=terms)
