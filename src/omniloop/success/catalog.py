"""Success rules (成功标准) CRUD, visible along the org path like benefits and templates, and the editor's
test against a customer's recent events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from omniloop.audiences.engine import visible_org_condition
from omniloop.campaigns.models import Campaign
from omniloop.core import audit
from omniloop.core.errors import Conflict, NotFound
from omniloop.customers import service as customer_service
from omniloop.events.models import Event
from omniloop.org import service as org_service
from omniloop.org.auth import Principal
from omniloop.org.models import Org
from omniloop.success import service
from omniloop.success.models import SuccessRule
from omniloop.success.schemas import (
    RuleTest,
    RuleTestResult,
    SuccessRuleCreate,
    SuccessRuleRead,
    SuccessRuleUpdate,
    TestedEvent,
)
from omniloop.triggers.definitions import get_property

MAX_TEST_EVENTS = 100


def visible_statement(principal: Principal) -> Select:
    return (select(SuccessRule).join(Org, Org.id == SuccessRule.owner_org_id)
            .where(visible_org_condition(Org.path, principal)))


def list_statement(principal: Principal, *, q: str | None = None, event_name: str | None = None) -> Select:
    stmt = visible_statement(principal)
    if q and q.strip():
        stmt = stmt.where(or_(SuccessRule.name.contains(q.strip(), autoescape=True),
                              SuccessRule.event_name.contains(q.strip(), autoescape=True)))
    if event_name:
        stmt = stmt.where(SuccessRule.event_name == event_name)
    return stmt.order_by(SuccessRule.id.desc())


def get_visible(*, session: Session, principal: Principal, rule_id: int) -> SuccessRule:
    rule = session.scalar(visible_statement(principal).where(SuccessRule.id == rule_id))
    if rule is None:
        raise NotFound("成功标准不存在或不在您的管辖范围内", "Success rule not found or outside your scope",
                       code="success_rule_not_found", details={"success_rule_id": rule_id})
    return rule


def get_editable(*, session: Session, principal: Principal, rule_id: int) -> SuccessRule:
    rule = get_visible(session=session, principal=principal, rule_id=rule_id)
    org_service.assert_owned_in_subtree(session, owner_org_id=rule.owner_org_id, org_path=principal.org.path,
                                        code="success_rule_read_only", what_zh="成功标准", what_en="success rule")
    return rule


def reads(session: Session, principal: Principal, rules: Sequence[SuccessRule]) -> list[SuccessRuleRead]:
    orgs = {o.id: o for o in session.scalars(select(Org).where(Org.id.in_({r.owner_org_id for r in rules})))}
    items = []
    for r in rules:
        item = SuccessRuleRead.model_validate(r)
        org = orgs.get(r.owner_org_id)
        item.owner_org_name, item.owner_org_name_en = (org.name, org.name_en) if org else (None, None)
        item.editable = bool(org and org.path.startswith(principal.org.path))
        items.append(item)
    return items


def _filters(raw) -> list[dict]:
    return service.normalise_filters([f.model_dump() for f in raw])


def create(*, session: Session, principal: Principal, data: SuccessRuleCreate) -> SuccessRule:
    owner = org_service.owner_org_for_create(session, requested=data.owner_org_id, caller_org=principal.org)
    rule = SuccessRule(name=data.name, event_name=data.event_name, property_filter=_filters(data.property_filter),
                       window_days=data.window_days, value_property=data.value_property or None,
                       description=data.description, owner_org_id=owner, created_by_id=principal.user.id)
    session.add(rule)
    session.flush()
    audit.record(session, actor=principal.actor, action="success_rule.create", entity_type="success_rule",
                 entity_id=rule.id, after=audit.snapshot(rule))
    return rule


def update(*, session: Session, principal: Principal, rule: SuccessRule, data: SuccessRuleUpdate) -> SuccessRule:
    before = audit.snapshot(rule)
    changes = data.model_dump(exclude_unset=True)
    for key in ("name", "event_name", "window_days"):
        if changes.get(key) is not None:
            setattr(rule, key, changes[key])
    if data.property_filter is not None:
        rule.property_filter = _filters(data.property_filter)
    if "value_property" in changes:
        rule.value_property = changes["value_property"] or None
    if "description" in changes:
        rule.description = changes["description"]
    session.flush()
    audit.record(session, actor=principal.actor, action="success_rule.update", entity_type="success_rule",
                 entity_id=rule.id, before=before, after=audit.snapshot(rule))
    return rule


def delete(*, session: Session, principal: Principal, rule: SuccessRule) -> None:
    used = session.scalar(select(func.count()).select_from(Campaign).where(Campaign.success_rule_id == rule.id))
    if used:
        raise Conflict("成功标准已被活动使用，不能删除", "The success rule is used by campaigns", code="success_rule_in_use",
                       details={"campaigns": used})
    audit.record(session, actor=principal.actor, action="success_rule.delete", entity_type="success_rule",
                 entity_id=rule.id, before=audit.snapshot(rule))
    session.delete(rule)
    session.flush()


def test(session: Session, *, principal: Principal, rule: SuccessRule, data: RuleTest, now: datetime) -> RuleTestResult:
    """Which of the customer's recent events of the rule's event name would count (试算)."""
    customer = customer_service.get_readable(session=session, principal=principal, customer_no=data.customer_no)
    compiled = service.compile_rule(rule)
    since = now - timedelta(days=data.days)
    rows = session.execute(
        select(Event.id, Event.name, Event.ts, Event.properties)
        .where(Event.customer_id == customer.id, Event.name == rule.event_name, Event.ts >= since,
               Event.day >= since.date())
        .order_by(Event.ts.desc(), Event.id.desc()).limit(MAX_TEST_EVENTS)
    ).all()
    events = []
    for event_id, name, ts, properties in rows:
        matched = compiled.matches({"name": name, "properties": properties})
        value = get_property(properties, rule.value_property) if matched and rule.value_property else None
        events.append(TestedEvent(id=event_id, name=name, ts=ts, properties=properties, matched=matched, value=value))
    hits = [e.ts for e in events if e.matched]
    return RuleTestResult(customer_no=customer.customer_no, events=events, matched_count=len(hits),
                          first_match_at=min(hits) if hits else None)
