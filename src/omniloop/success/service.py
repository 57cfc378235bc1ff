"""Success rules (成功标准, D7): does an event count as a response, and who responded after a contact.

A rule is an event name, property filters that must all hold, and a window in days after the contact.
The property filter semantics (types, coercion, a missing property never matches) are the triggers'
(``triggers.definitions.PropertyFilter``), so "the same filter" means the same thing in a trigger and in
a success rule. Operators: eq, neq (ne), gt, gte, lt, lte, in, contains.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.core.errors import ValidationFailed
from omniloop.events.models import Event
from omniloop.success.models import SuccessRule
from omniloop.triggers import definitions as trigger_defs

OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "in", "contains")
OP_LABELS = {op: trigger_defs.OP_LABELS["ne" if op == "neq" else op] for op in OPS}
MAX_FILTERS = 20
MAX_WINDOW_DAYS = 365
_CHUNK = 1_000


def _infer_type(value: Any) -> str:
    sample = value[0] if isinstance(value, list) and value else value
    if isinstance(sample, bool):
        return "boolean"
    if isinstance(sample, int | float):
        return "number"
    return "string"


def parse_filters(raw: Any, *, field: str = "property_filter") -> tuple[trigger_defs.PropertyFilter, ...]:
    """Validated filters, or ValidationFailed (422, code invalid_property_filter) with every problem's path."""
    if raw is None:
        return ()
    problems = trigger_defs._Problems()
    if not isinstance(raw, list) or len(raw) > MAX_FILTERS:
        raise ValidationFailed("属性条件必须是不超过 20 条的列表", "Property filters must be a list of at most 20",
                               code="invalid_property_filter", details=[{"field": field, "code": "bad_filter"}])
    parsed = []
    for i, item in enumerate(raw):
        where = f"{field}.{i}"
        if isinstance(item, dict):
            op = item.get("op")
            if op not in OPS:
                problems.add(f"{where}.op", "bad_operator", f"不支持的运算符；可选 {' '.join(OPS)}",
                             f"Unsupported operator; one of {' '.join(OPS)}")
                continue
            item = {**item, "op": "ne" if op == "neq" else op,
                    "type": item.get("type") or _infer_type(item.get("value"))}
        flt = trigger_defs._check_filter(item, where, problems)
        if flt is not None:
            parsed.append(flt)
    if problems.items:
        raise ValidationFailed("成功标准的属性条件有误", "The success rule's property filter is invalid",
                               code="invalid_property_filter", details=problems.items)
    return tuple(parsed)


def normalise_filters(raw: Any) -> list[dict]:
    """The stored form: [{property, op, value, type}] with op spelled as in ``OPS``."""
    out = []
    for flt in parse_filters(raw):
        value = sorted(flt.value) if isinstance(flt.value, frozenset) else flt.value
        out.append({"property": flt.property, "op": "neq" if flt.op == "ne" else flt.op, "value": value,
                    "type": flt.type})
    return out


@dataclass(frozen=True)
class CompiledRule:
    event_name: str
    filters: tuple[trigger_defs.PropertyFilter, ...]
    window: timedelta
    value_property: str | None

    def matches(self, event: dict) -> bool:
        name = event.get("name", event.get("event"))
        return name == self.event_name and all(f.matches(event.get("properties")) for f in self.filters)


def compile_rule(rule: SuccessRule) -> CompiledRule:
    return CompiledRule(rule.event_name, parse_filters(rule.property_filter), timedelta(days=rule.window_days),
                        rule.value_property)


def matches(rule: SuccessRule | CompiledRule, event: dict) -> bool:
    """Does ``event`` ({"name" (or "event"), "properties"}) count as a response under ``rule``?"""
    compiled = rule if isinstance(rule, CompiledRule) else compile_rule(rule)
    return compiled.matches(event)


@dataclass(frozen=True)
class Response:
    at: datetime
    value: Any  # the event's ``value_property`` (e.g. amount_fen), None without one


def response_details(session: Session, *, rule: SuccessRule | CompiledRule,
                     contacts: Sequence[tuple[int, datetime]]) -> dict[int, Response]:
    """customer id → the first matching event at or after one of their contacts and within the window."""
    compiled = rule if isinstance(rule, CompiledRule) else compile_rule(rule)
    by_customer: dict[int, list[datetime]] = defaultdict(list)
    for customer_id, at in contacts:
        by_customer[customer_id].append(at)
    found: dict[int, Response] = {}
    ids = sorted(by_customer)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        first = min(min(by_customer[c]) for c in chunk)
        last = max(max(by_customer[c]) for c in chunk) + compiled.window
        rows = session.execute(
            select(Event.customer_id, Event.ts, Event.properties)
            .where(Event.name == compiled.event_name, Event.customer_id.in_(chunk), Event.ts >= first,
                   Event.ts <= last, Event.day >= first.astimezone(UTC).date(),
                   Event.day <= last.astimezone(UTC).date())  # day: partition pruning
            .order_by(Event.ts, Event.id)
        ).all()
        for customer_id, ts, properties in rows:
            if customer_id in found:
                continue
            if not any(at <= ts <= at + compiled.window for at in by_customer[customer_id]):
                continue
            if all(f.matches(properties) for f in compiled.filters):
                value = (trigger_defs.get_property(properties, compiled.value_property)
                         if compiled.value_property else None)
                found[customer_id] = Response(ts, value)
    return found


def responses(session: Session, *, rule: SuccessRule | CompiledRule,
              contacts: Sequence[tuple[int, datetime]]) -> dict[int, datetime]:
    """customer id → when they responded (the first matching event within the window after a contact)."""
    return {c: r.at for c, r in response_details(session, rule=rule, contacts=contacts).items()}
