"""The template library (模板库) and blocked words (敏感词): CRUD, versions, preview on sample customers.

A template's content is immutable per version: an edit of subject/body/fields that changes them adds a
version and moves ``current_version``; campaigns and the outbox keep the version id they were given.
A version with error-level problems (unknown variables, blocked words, missing opt-out text, length over
a hard limit) is refused with 422 ``template_problems``; warnings (e.g. an SMS of two parts) are shown
and allowed. Visibility follows the org path like benefits and audiences.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omniloop.audiences.engine import visible_org_condition
from omniloop.benefits import catalog as benefit_catalog
from omniloop.content import checks, render
from omniloop.content import variables as var
from omniloop.content.models import BlockedWord, MessageTemplate, MessageTemplateVersion
from omniloop.content.schemas import (
    BlockedWordCreate,
    BlockedWordUpdate,
    MessageTemplateCreate,
    MessageTemplateRead,
    MessageTemplateUpdate,
    PreviewRequest,
    PreviewResult,
    PreviewSample,
    Problem,
    SmsInfo,
    VersionRead,
)
from omniloop.core import audit
from omniloop.core.errors import Conflict, NotFound, ValidationFailed
from omniloop.customers import service as customer_service
from omniloop.customers.models import Customer
from omniloop.org import service as org_service
from omniloop.org.auth import Principal
from omniloop.org.masking import mask_name
from omniloop.org.models import Org, User
from omniloop.org.roles import Permission


class TemplateNotFound(NotFound):
    code = "template_not_found"
    message_zh = "模板不存在或不在您的管辖范围内"
    message_en = "Template not found or outside your scope"


def visible_statement(principal: Principal) -> Select:
    return (select(MessageTemplate).join(Org, Org.id == MessageTemplate.owner_org_id)
            .where(visible_org_condition(Org.path, principal)))


def list_statement(principal: Principal, *, q: str | None = None, channel: str | None = None,
                   status: str | None = None) -> Select:
    stmt = visible_statement(principal)
    if q and q.strip():
        stmt = stmt.where(or_(MessageTemplate.name.contains(q.strip(), autoescape=True),
                              MessageTemplate.code.contains(q.strip(), autoescape=True)))
    if channel:
        stmt = stmt.where(MessageTemplate.channel == channel)
    stmt = stmt.where(MessageTemplate.status == (status or "active"))
    return stmt.order_by(MessageTemplate.updated_at.desc(), MessageTemplate.id.desc())


def get_visible(*, session: Session, principal: Principal, template_id: int) -> MessageTemplate:
    template = session.scalar(visible_statement(principal).where(MessageTemplate.id == template_id))
    if template is None:
        raise TemplateNotFound(details={"template_id": template_id})
    return template


def get_editable(*, session: Session, principal: Principal, template_id: int) -> MessageTemplate:
    template = get_visible(session=session, principal=principal, template_id=template_id)
    org_service.assert_owned_in_subtree(session, owner_org_id=template.owner_org_id, org_path=principal.org.path,
                                        code="template_read_only", what_zh="模板", what_en="template")
    return template


def current_version(session: Session, template: MessageTemplate) -> MessageTemplateVersion | None:
    return session.scalar(select(MessageTemplateVersion).where(
        MessageTemplateVersion.template_id == template.id, MessageTemplateVersion.version == template.current_version))


def _version_reads(session: Session, versions: Sequence[MessageTemplateVersion]) -> list[VersionRead]:
    users = {v.created_by_id for v in versions if v.created_by_id}
    names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(users))).all()) if users else {}
    out = []
    for v in versions:
        item = VersionRead.model_validate(v)
        item.created_by_name = names.get(v.created_by_id)
        out.append(item)
    return out


def reads(session: Session, principal: Principal, templates: Sequence[MessageTemplate]) -> list[MessageTemplateRead]:
    if not templates:
        return []
    orgs = {o.id: o for o in session.scalars(select(Org).where(Org.id.in_({t.owner_org_id for t in templates})))}
    keys = {(t.id, t.current_version) for t in templates}
    versions = {(v.template_id, v.version): v for v in session.scalars(select(MessageTemplateVersion).where(
        MessageTemplateVersion.template_id.in_({t.id for t in templates})))
        if (v.template_id, v.version) in keys}
    version_reads = dict(zip(versions, _version_reads(session, list(versions.values())), strict=True))
    items = []
    for t in templates:
        item = MessageTemplateRead.model_validate(t)
        org = orgs.get(t.owner_org_id)
        item.owner_org_name, item.owner_org_name_en = (org.name, org.name_en) if org else (None, None)
        item.current = version_reads.get((t.id, t.current_version))
        item.editable = bool(org and org.path.startswith(principal.org.path))
        items.append(item)
    return items


def _problems(items: Sequence[checks.ContentProblem]) -> list[Problem]:
    return [Problem(**p.as_dict()) for p in items]


def _checked(session: Session, *, channel: str, purpose: str, subject: str | None, body: str,
             fields: dict | None) -> list[str]:
    found = checks.check_template(channel, subject, body, fields, purpose, checks.load_blocked_words(session))
    bad = checks.errors(found)
    if bad:
        raise ValidationFailed("模板存在问题，请修改后再保存", "The template has problems; fix them before saving",
                               code="template_problems", details=[p.as_dict() for p in bad])
    return checks.used_variables(subject, body, fields)


def _add_version(session: Session, principal: Principal, template: MessageTemplate, *, version: int,
                 subject: str | None, body: str, fields: dict | None, used: list[str]) -> MessageTemplateVersion:
    row = MessageTemplateVersion(template_id=template.id, version=version, subject=subject or None, body=body,
                                 fields=fields or None, variables=used, created_by_id=principal.user.id)
    session.add(row)
    session.flush()
    return row


def create(*, session: Session, principal: Principal, data: MessageTemplateCreate) -> MessageTemplate:
    if session.scalar(select(MessageTemplate.id).where(func.lower(MessageTemplate.code) == data.code.lower())):
        raise Conflict("模板编码已存在", "The template code is already used", code="template_code_taken",
                       details={"code": data.code})
    owner = org_service.owner_org_for_create(session, requested=data.owner_org_id, caller_org=principal.org)
    used = _checked(session, channel=data.channel, purpose=data.purpose, subject=data.subject, body=data.body,
                    fields=data.fields)
    template = MessageTemplate(code=data.code, name=data.name, channel=data.channel, purpose=data.purpose,
                               current_version=1, status="active", owner_org_id=owner, created_by_id=principal.user.id)
    session.add(template)
    session.flush()
    _add_version(session, principal, template, version=1, subject=data.subject, body=data.body, fields=data.fields,
                 used=used)
    audit.record(session, actor=principal.actor, action="message_template.create", entity_type="message_template",
                 entity_id=template.id, after={**audit.snapshot(template), "body": data.body,
                                               "subject": data.subject, "fields": data.fields})
    return template


def update(*, session: Session, principal: Principal, template: MessageTemplate, data: MessageTemplateUpdate) -> MessageTemplate:
    before = audit.snapshot(template)
    changes = data.model_dump(exclude_unset=True)
    for key in ("name", "purpose", "status"):
        if changes.get(key) is not None:
            setattr(template, key, changes[key])
    current = current_version(session, template)
    content = {"subject": current.subject if current else None, "body": current.body if current else "",
               "fields": current.fields if current else None}
    new = {**content, **{k: changes[k] for k in ("subject", "body", "fields") if k in changes}}
    if new["subject"] == "":
        new["subject"] = None
    if new != content or "purpose" in changes:
        # The purpose changes the rules (a marketing SMS needs the opt-out text): re-check the content.
        used = _checked(session, channel=template.channel, purpose=template.purpose, **new)
    if new != content:
        # Concurrent edits race for the next number; the unique (template, version) makes the loser fail.
        number = (session.scalar(select(func.max(MessageTemplateVersion.version))
                                 .where(MessageTemplateVersion.template_id == template.id)) or 0) + 1
        try:
            with session.begin_nested():
                _add_version(session, principal, template, version=number, used=used, **new)
        except IntegrityError:
            raise Conflict("模板刚被他人修改，请刷新后重试", "The template was just changed; reload and retry",
                           code="template_conflict") from None
        template.current_version = number
        audit.record(session, actor=principal.actor, action="message_template.new_version",
                     entity_type="message_template", entity_id=template.id,
                     before={"version": current.version if current else None, **content},
                     after={"version": number, **new})
    session.flush()
    audit.record(session, actor=principal.actor, action="message_template.update", entity_type="message_template",
                 entity_id=template.id, before=before, after=audit.snapshot(template))
    return template


def versions(session: Session, template: MessageTemplate) -> list[VersionRead]:
    rows = session.scalars(select(MessageTemplateVersion).where(MessageTemplateVersion.template_id == template.id)
                           .order_by(MessageTemplateVersion.version.desc())).all()
    return _version_reads(session, rows)


# ---- preview ----------------------------------------------------------------------------------------------

def _sample_benefit(now: datetime):
    return SimpleNamespace(name="50元理财体验券", face_value_fen=5_000, points=2_000, valid_to=now + timedelta(days=30))


def _sample_campaign():
    return SimpleNamespace(name="示例活动", code="MKT-2026-00000")


def _sms(channel: str, body: str | None) -> SmsInfo | None:
    if channel != "sms" or body is None:
        return None
    length = checks.sms_length(body)
    return SmsInfo(encoding=length.encoding, units=length.units, segments=length.segments,
                   per_segment=length.per_segment)


def preview(session: Session, *, principal: Principal, data: PreviewRequest, now: datetime) -> PreviewResult:
    """Render a draft on sample customers of the caller's scope, with the template's problems and each
    rendering's own (a long branch name can push one customer's SMS into a second part)."""
    blocked = checks.load_blocked_words(session)
    purpose = data.purpose or "marketing"
    problems = checks.check_template(data.channel, data.subject, data.body, data.fields, purpose, blocked)
    used = checks.used_variables(data.subject, data.body, data.fields) if not any(
        p.code in ("syntax_error", "source_too_long") for p in problems) else []
    benefit = (benefit_catalog.get_visible(session=session, principal=principal, benefit_id=data.benefit_id)
               if data.benefit_id else _sample_benefit(now))
    source_broken = any(p.field is not None and p.code in (
        "syntax_error", "unsupported_syntax", "unsafe_attribute", "unknown_variable", "unknown_filter",
        "source_too_long") for p in problems)
    longest = PreviewSample(customer_no=None, customer_name=None)
    samples: list[PreviewSample] = []
    if source_broken:
        return PreviewResult(problems=_problems(problems), variables=used, longest=longest, samples=samples)
    compiled = render.CompiledTemplate.of(channel=data.channel, subject=data.subject, body=data.body,
                                          fields=data.fields)
    try:
        out = compiled.render(var.sample_context(longest=True))
        longest = PreviewSample(customer_no=None, customer_name=None, subject=out.subject, body=out.body,
                                fields=out.fields or None, sms=_sms(data.channel, out.body))
    except render.TemplateRenderError as exc:
        longest.error = exc.message_zh
    stmt = customer_service.readable_customers(principal)
    if data.customer_nos:
        stmt = stmt.where(Customer.customer_no.in_(data.customer_nos))
    customers = session.scalars(stmt.order_by(Customer.id).limit(data.sample_size)).all()
    unmask = principal.can(Permission.customers_pii)
    contexts = var.contexts(session, customers, benefit=benefit, campaign=_sample_campaign(), reveal_pii=unmask)
    for customer, context in zip(customers, contexts, strict=True):
        sample = PreviewSample(customer_no=customer.customer_no,
                               customer_name=customer.name if unmask else mask_name(customer.name))
        try:
            msg = compiled.render(context)
        except render.TemplateRenderError as exc:
            sample.error = exc.message_zh
        else:
            sample.subject, sample.body, sample.fields = msg.subject, msg.body, msg.fields or None
            sample.sms = _sms(data.channel, msg.body)
            sample.problems = _problems(checks.check_rendered(data.channel, msg.subject, msg.body, msg.fields,
                                                              purpose, blocked))
        samples.append(sample)
    return PreviewResult(problems=_problems(problems), variables=used, longest=longest, samples=samples)


# ---- blocked words ----------------------------------------------------------------------------------------

def blocked_words_statement(*, q: str | None = None, category: str | None = None) -> Select:
    stmt = select(BlockedWord)
    if q and q.strip():
        stmt = stmt.where(BlockedWord.word.contains(q.strip(), autoescape=True))
    if category:
        stmt = stmt.where(BlockedWord.category == category)
    return stmt.order_by(BlockedWord.word)


def get_blocked_word(session: Session, word_id: int) -> BlockedWord:
    row = session.get(BlockedWord, word_id)
    if row is None:
        raise NotFound("敏感词不存在", "Blocked word not found", code="blocked_word_not_found",
                       details={"blocked_word_id": word_id})
    return row


def create_blocked_word(*, session: Session, principal: Principal, data: BlockedWordCreate) -> BlockedWord:
    if session.scalar(select(BlockedWord.id).where(func.lower(BlockedWord.word) == data.word.lower())):
        raise Conflict("敏感词已存在", "The word is already in the list", code="blocked_word_exists",
                       details={"word": data.word})
    row = BlockedWord(word=data.word, category=data.category, created_by_id=principal.user.id)
    session.add(row)
    session.flush()
    audit.record(session, actor=principal.actor, action="blocked_word.create", entity_type="blocked_word",
                 entity_id=row.id, after=audit.snapshot(row))
    return row


def update_blocked_word(*, session: Session, principal: Principal, row: BlockedWord,
                        data: BlockedWordUpdate) -> BlockedWord:
    before = audit.snapshot(row)
    row.category = data.category
    session.flush()
    audit.record(session, actor=principal.actor, action="blocked_word.update", entity_type="blocked_word",
                 entity_id=row.id, before=before, after=audit.snapshot(row))
    return row


def delete_blocked_word(*, session: Session, principal: Principal, row: BlockedWord) -> None:
    audit.record(session, actor=principal.actor, action="blocked_word.delete", entity_type="blocked_word",
                 entity_id=row.id, before=audit.snapshot(row))
    session.delete(row)
    session.flush()
