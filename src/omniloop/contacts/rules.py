"""Contact-policy rules (接触策略规则): validation and CRUD of ``contact_rules``; every change audited."""

from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.contacts.models import ContactRule
from omniloop.contacts.reasons import window_code
from omniloop.contacts.schemas import ContactRuleCreate, ContactRuleRead, ContactRuleUpdate
from omniloop.core import audit
from omniloop.core.audit import Actor
from omniloop.core.errors import NotFound, ValidationFailed

FIELDS = ("name", "channel", "campaign_type", "window_hours", "max_contacts", "min_interval_hours", "quiet_start",
          "quiet_end", "timezone", "enabled", "description")


class InvalidRule(ValidationFailed):
    code = "invalid_contact_rule"
    message_zh = "接触规则不完整或有误"
    message_en = "The contact rule is incomplete or invalid"


def _snapshot(rule: ContactRule) -> dict:
    # core.audit.snapshot leaves time-of-day values as they are; JSON needs text.
    return {k: v.isoformat() if isinstance(v, time) else v for k, v in audit.snapshot(rule).items()}


def problems(rule: ContactRule) -> list[dict]:
    """Every problem of a rule as {field, code}; empty when valid."""
    out = []
    if rule.kind == "cap":
        if not rule.window_hours:
            out.append({"field": "window_hours", "code": "required"})
        if rule.max_contacts is None:
            out.append({"field": "max_contacts", "code": "required"})
    elif rule.kind == "min_interval":
        if not rule.min_interval_hours:
            out.append({"field": "min_interval_hours", "code": "required"})
    elif rule.kind == "quiet_hours":
        if rule.quiet_start is None:
            out.append({"field": "quiet_start", "code": "required"})
        if rule.quiet_end is None:
            out.append({"field": "quiet_end", "code": "required"})
        if rule.quiet_start is not None and rule.quiet_start == rule.quiet_end:
            out.append({"field": "quiet_end", "code": "same_as_start"})
    try:
        ZoneInfo(rule.timezone or "")
    except (ZoneInfoNotFoundError, ValueError):
        out.append({"field": "timezone", "code": "unknown_timezone"})
    return out


def summary(rule: ContactRule) -> tuple[str, str]:
    """One line in Chinese and English, e.g. 短信 滚动7天内最多2次."""
    ch_zh = rule.channel or "全渠道"
    ch_en = rule.channel or "all channels"
    ty_zh = f"（{rule.campaign_type}类活动）" if rule.campaign_type else ""
    ty_en = f" ({rule.campaign_type} campaigns)" if rule.campaign_type else ""
    if rule.kind == "cap":
        w = window_code(rule.window_hours or 0)
        zh_w = {"day": "滚动24小时", "week": "滚动7天", "month": "滚动30天"}.get(w, f"滚动{rule.window_hours}小时")
        en_w = {"day": "rolling 24 h", "week": "rolling 7 days", "month": "rolling 30 days"}.get(
            w, f"rolling {rule.window_hours} h")
        return (f"{ch_zh}{ty_zh} {zh_w}内最多{rule.max_contacts}次",
                f"{ch_en}{ty_en}: at most {rule.max_contacts} in any {en_w}")
    if rule.kind == "min_interval":
        return (f"{ch_zh}{ty_zh} 两次接触至少间隔{rule.min_interval_hours}小时",
                f"{ch_en}{ty_en}: at least {rule.min_interval_hours} h between contacts")
    start = rule.quiet_start.strftime("%H:%M") if rule.quiet_start else "?"
    end = rule.quiet_end.strftime("%H:%M") if rule.quiet_end else "?"
    return (f"{ch_zh} {start}–{end}（{rule.timezone}）免打扰，顺延至结束时发送",
            f"{ch_en}: quiet {start}–{end} ({rule.timezone}), deferred to the end")


def read(rule: ContactRule) -> ContactRuleRead:
    out = ContactRuleRead.model_validate(rule)
    out.summary_zh, out.summary_en = summary(rule)
    return out


def list_rules(session: Session) -> list[ContactRule]:
    return list(session.scalars(select(ContactRule).order_by(ContactRule.kind, ContactRule.id)))


def get_rule(session: Session, rule_id: int) -> ContactRule:
    rule = session.get(ContactRule, rule_id)
    if rule is None:
        raise NotFound("接触规则不存在", "Contact rule not found", code="contact_rule_not_found")
    return rule


def _check(rule: ContactRule) -> None:
    found = problems(rule)
    if found:
        raise InvalidRule(details=found)
    # Fields that do not belong to the kind are cleared, so a rule never carries a stale limit.
    if rule.kind != "cap":
        rule.window_hours = rule.max_contacts = None
    if rule.kind != "min_interval":
        rule.min_interval_hours = None
    if rule.kind != "quiet_hours":
        rule.quiet_start = rule.quiet_end = None


def create_rule(session: Session, *, actor: Actor, data: ContactRuleCreate) -> ContactRule:
    rule = ContactRule(kind=data.kind, updated_by_id=actor.user_id, **data.model_dump(include=set(FIELDS)))
    _check(rule)
    session.add(rule)
    session.flush()
    audit.record(session, actor=actor, action="create", entity_type="contact_rule", entity_id=rule.id,
                 after=_snapshot(rule))
    return rule


def update_rule(session: Session, *, actor: Actor, rule: ContactRule, data: ContactRuleUpdate) -> ContactRule:
    before = _snapshot(rule)
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is None and key in ("name", "timezone", "enabled"):
            continue
        setattr(rule, key, value)
    rule.updated_by_id = actor.user_id
    _check(rule)
    session.flush()
    audit.record(session, actor=actor, action="update", entity_type="contact_rule", entity_id=rule.id,
                 before=before, after=_snapshot(rule))
    return rule


def delete_rule(session: Session, *, actor: Actor, rule: ContactRule) -> None:
    audit.record(session, actor=actor, action="delete", entity_type="contact_rule", entity_id=rule.id,
                 before=_snapshot(rule))
    session.delete(rule)
    session.flush()
