"""Trigger definitions (触发器定义): validation of the JSON an operator writes, and property filters.

One definition per kind::

    event       {"event": "理财购买", "event_type": "track"?, "filters": [FILTER, ...]}
    first_time  {"event": "绑卡完成", "filters": [...], "window_days": null | N}   first ever / first in N days
    breakpoint  {"event": A, "filters": [...], "then_event": B, "then_filters": [...],
                 "within_seconds": T, "match_key": "flow_id" | null}            A, then no B within T
    sequence    the same fields as breakpoint                                    A, then B within T
    key_date    {"date_kind": "birthday" | "anniversary" | "maturity" | "payroll", "days_before": N,
                 "product_types": ["wealth", ...] (maturity), "payroll_day": 1..31 | null,
                 "salary_event": "salary_credited" (payroll)}
    threshold   {"metric": "aum_fen", "direction": "up" | "down" | "both", "value_fen": X}

    FILTER      {"property": "amount", "op": OP, "value": ..., "type": "string" | "number" | "date" | "boolean"}
    OP          eq ne in contains gt gte lt lte between exists

Filters compare after coercing the property to ``type`` (a number sent as the string "12.5" compares as
12.5; a date property "2026-11-23T10:00:00+08:00" as the date 2026-11-23). A property that is missing or
cannot be coerced never matches, except for ``exists: false``. Dotted names reach into nested objects.
Validation collects every problem with its field path, so the console can mark each wrong input.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from omniloop.core.errors import ValidationFailed

KINDS = ("event", "first_time", "breakpoint", "sequence", "key_date", "threshold")
OPS = ("eq", "ne", "in", "contains", "gt", "gte", "lt", "lte", "between", "exists")
VALUE_TYPES = ("string", "number", "date", "boolean")
DATE_KINDS = ("birthday", "anniversary", "maturity", "payroll")
PRODUCT_TYPES = ("wealth", "deposit", "fund", "insurance")
DIRECTIONS = ("up", "down", "both")
THRESHOLD_METRICS = ("aum_fen",)
MAX_WITHIN_SECONDS = 90 * 86400
MAX_FILTERS = 20
MAX_IN_VALUES = 500
DEFAULT_SALARY_EVENT = "salary_credited"

KIND_LABELS = {
    "event": ("事件+属性条件", "Event with property filter"),
    "first_time": ("首次行为", "First-time behaviour"),
    "breakpoint": ("行为断点", "Breakpoint (A without B)"),
    "sequence": ("行为序列", "Sequence (A then B)"),
    "key_date": ("关键日期", "Key date"),
    "threshold": ("资产阈值", "Threshold crossing"),
}
OP_LABELS = {
    "eq": ("等于", "equals"), "ne": ("不等于", "not equal"), "in": ("属于", "one of"),
    "contains": ("包含", "contains"), "gt": ("大于", "greater than"), "gte": ("大于等于", "at least"),
    "lt": ("小于", "less than"), "lte": ("小于等于", "at most"), "between": ("介于", "between"),
    "exists": ("存在", "exists"),
}
DATE_KIND_LABELS = {
    "birthday": ("生日", "Birthday"), "anniversary": ("开户周年", "Account anniversary"),
    "maturity": ("产品到期", "Product maturity"), "payroll": ("代发工资日", "Salary day"),
}
_NAME = re.compile(r"^[^\x00-\x1f]{1,200}$")
_PROPERTY = re.compile(r"^[A-Za-z0-9_\-\u4e00-\u9fff$@]+(\.[A-Za-z0-9_\-\u4e00-\u9fff$@]+)*$")


# ---- coercion and matching (pure) ------------------------------------------------------------------------

_MISSING = object()


def _coerce(value: Any, type_: str) -> Any:
    """``value`` as ``type_``, or ``_MISSING`` when it cannot be read as one."""
    if value is None:
        return _MISSING
    if type_ == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return _MISSING
    if type_ == "number":
        if isinstance(value, bool):
            return _MISSING
        if isinstance(value, int | float):
            return float(value) if math.isfinite(value) else _MISSING
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                return _MISSING
            return number if math.isfinite(number) else _MISSING
        return _MISSING
    if type_ == "date":
        if not isinstance(value, str) or len(value) < 10:
            return _MISSING
        try:
            return date.fromisoformat(value[:10]) if len(value) == 10 else datetime.fromisoformat(value).date()
        except ValueError:
            return _MISSING
    if type_ == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return _MISSING
    return _MISSING


def get_property(properties: dict | None, path: str) -> Any:
    current: Any = properties
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


@dataclass(frozen=True)
class PropertyFilter:
    property: str
    op: str
    value: Any
    type: str

    def matches(self, properties: dict | None) -> bool:
        raw = get_property(properties, self.property)
        if self.op == "exists":
            return (raw is not None) == bool(self.value)
        if self.op == "contains" and isinstance(raw, list):
            return any(_coerce(item, self.type) == self.value for item in raw)
        value = _coerce(raw, self.type)
        if value is _MISSING:
            return False
        match self.op:
            case "eq":
                return value == self.value
            case "ne":
                return value != self.value
            case "in":
                return value in self.value
            case "contains":
                return isinstance(value, str) and str(self.value) in value
            case "gt":
                return value > self.value
            case "gte":
                return value >= self.value
            case "lt":
                return value < self.value
            case "lte":
                return value <= self.value
            case "between":
                return self.value[0] <= value <= self.value[1]
        return False


@dataclass(frozen=True)
class EventMatch:
    """An event name (and type) with property filters, all of which must hold."""

    event: str
    event_type: str | None
    filters: tuple[PropertyFilter, ...]

    def matches(self, name: str | None, type_: str | None, properties: dict | None) -> bool:
        if name != self.event or (self.event_type is not None and type_ != self.event_type):
            return False
        return all(f.matches(properties) for f in self.filters)


@dataclass(frozen=True)
class EventSpec:
    match: EventMatch


@dataclass(frozen=True)
class FirstTimeSpec:
    match: EventMatch
    window_days: int | None  # None: first ever


@dataclass(frozen=True)
class PairSpec:
    """Breakpoint (A, then no B within T) or sequence (A, then B within T); with ``match_key`` A and B
    must carry the same value of that property (e.g. the same ``flow_id``)."""

    kind: str
    first: EventMatch
    then: EventMatch
    within_seconds: int
    match_key: str | None

    def key_of(self, properties: dict | None) -> str | None:
        """The match-key value of an event: "" without a match key, None if the event lacks it."""
        if self.match_key is None:
            return ""
        value = get_property(properties, self.match_key)
        if value is None or isinstance(value, dict | list):
            return None
        return str(value)[:180]


@dataclass(frozen=True)
class KeyDateSpec:
    date_kind: str
    days_before: int
    product_types: tuple[str, ...]
    payroll_day: int | None
    salary_event: str


@dataclass(frozen=True)
class ThresholdSpec:
    metric: str
    direction: str
    value_fen: int


Spec = EventSpec | FirstTimeSpec | PairSpec | KeyDateSpec | ThresholdSpec


def event_names(spec: Spec) -> set[str]:
    """The event names that can move this trigger (empty for key dates and thresholds)."""
    match spec:
        case EventSpec(match=m) | FirstTimeSpec(match=m):
            return {m.event}
        case PairSpec(first=a, then=b):
            return {a.event, b.event}
    return set()


# ---- validation ------------------------------------------------------------------------------------------

class _Problems:
    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, field: str, code: str, zh: str, en: str) -> None:
        self.items.append({"field": field, "code": code, "message_zh": zh, "message_en": en})


def _typed_value(raw: Any, type_: str, field: str, out: _Problems) -> Any:
    value = _coerce(raw, type_)
    if value is _MISSING or (type_ == "string" and len(value) > 500):
        names = {"string": "文本", "number": "数字", "date": "日期（YYYY-MM-DD）", "boolean": "是/否"}
        out.add(field, "bad_value", f"取值必须是{names[type_]}", f"The value must be a {type_}")
        return _MISSING
    return value


def _check_filter(raw: Any, field: str, out: _Problems) -> PropertyFilter | None:
    if not isinstance(raw, dict):
        out.add(field, "bad_filter", "属性条件格式错误", "A property filter must be an object")
        return None
    prop, op, type_ = raw.get("property"), raw.get("op"), raw.get("type", "string")
    ok = True
    if not isinstance(prop, str) or len(prop) > 100 or not _PROPERTY.match(prop):
        out.add(f"{field}.property", "bad_property", "请填写属性名（字母、数字、下划线，可用 . 访问嵌套属性）",
                "Name the property (letters, digits, underscores; dots reach nested ones)")
        ok = False
    if type_ not in VALUE_TYPES:
        out.add(f"{field}.type", "bad_type", f"属性类型无效；可选 {' '.join(VALUE_TYPES)}",
                f"Invalid property type; one of {' '.join(VALUE_TYPES)}")
        return None
    if op not in OPS:
        out.add(f"{field}.op", "bad_operator", f"不支持的运算符；可选 {' '.join(OPS)}",
                f"Unsupported operator; one of {' '.join(OPS)}")
        return None
    raw_value = raw.get("value")
    value: Any = None
    if op == "exists":
        if raw_value is None:
            raw_value = True
        if not isinstance(raw_value, bool):
            out.add(f"{field}.value", "bad_value", "「存在」条件的取值必须是 true 或 false",
                    "exists takes true or false")
            return None
        value = raw_value
    elif op == "in":
        if not isinstance(raw_value, list) or not raw_value or len(raw_value) > MAX_IN_VALUES:
            out.add(f"{field}.value", "bad_value", f"「属于」条件需要 1 到 {MAX_IN_VALUES} 个取值的列表",
                    f"in takes a list of 1 to {MAX_IN_VALUES} values")
            return None
        values = [_typed_value(v, type_, f"{field}.value.{i}", out) for i, v in enumerate(raw_value)]
        if any(v is _MISSING for v in values):
            return None
        value = frozenset(values)
    elif op == "between":
        if not isinstance(raw_value, list) or len(raw_value) != 2:
            out.add(f"{field}.value", "bad_value", "「介于」条件需要 [下限, 上限] 两个取值",
                    "between takes [low, high]")
            return None
        low = _typed_value(raw_value[0], type_, f"{field}.value.0", out)
        high = _typed_value(raw_value[1], type_, f"{field}.value.1", out)
        if low is _MISSING or high is _MISSING:
            return None
        if type_ == "boolean":
            out.add(f"{field}.op", "bad_operator", "是/否属性不能用「介于」", "between does not apply to booleans")
            return None
        if low > high:
            out.add(f"{field}.value", "bad_range", "下限不能大于上限", "The low bound is above the high bound")
            return None
        value = (low, high)
    else:
        if op in ("gt", "gte", "lt", "lte") and type_ == "boolean":
            out.add(f"{field}.op", "bad_operator", "是/否属性只能用等于、不等于、存在",
                    "Booleans take eq, ne or exists")
            return None
        if op == "contains" and type_ != "string":
            out.add(f"{field}.op", "bad_operator", "「包含」只适用于文本属性", "contains applies to strings")
            return None
        value = _typed_value(raw_value, type_, f"{field}.value", out)
        if value is _MISSING:
            return None
    return PropertyFilter(prop, op, value, type_) if ok else None


def _check_match(d: dict, prefix: str, out: _Problems, *, event_field: str = "event",
                 filters_field: str = "filters", type_field: str = "event_type") -> EventMatch | None:
    event = d.get(event_field)
    ok = True
    if not isinstance(event, str) or not event.strip() or not _NAME.match(event):
        out.add(f"{prefix}{event_field}", "required", "请填写事件名称（最多 200 字）", "Name the event (≤ 200 characters)")
        ok = False
    event_type = d.get(type_field)
    if event_type is not None and event_type not in ("track", "page", "screen", "identify", "group", "alias"):
        out.add(f"{prefix}{type_field}", "bad_event_type", "事件类型无效（track、page、screen 等）",
                "Invalid event type (track, page, screen, ...)")
        ok = False
    raw_filters = d.get(filters_field) or []
    filters: list[PropertyFilter] = []
    if not isinstance(raw_filters, list) or len(raw_filters) > MAX_FILTERS:
        out.add(f"{prefix}{filters_field}", "bad_filters", f"属性条件必须是列表，最多 {MAX_FILTERS} 条",
                f"Filters must be a list of at most {MAX_FILTERS}")
        ok = False
    else:
        for i, raw in enumerate(raw_filters):
            flt = _check_filter(raw, f"{prefix}{filters_field}.{i}", out)
            if flt is None:
                ok = False
            else:
                filters.append(flt)
    return EventMatch(event.strip(), event_type, tuple(filters)) if ok else None


def _int_field(d: dict, field: str, out: _Problems, *, low: int, high: int, required: bool,
               zh: str, en: str) -> int | None:
    value = d.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        out.add(f"definition.{field}", "bad_value", f"{zh}必须是 {low} 到 {high} 之间的整数",
                f"{en} must be an integer from {low} to {high}")
        return None
    return value


def parse(kind: str, definition: Any) -> Spec:
    """The validated definition, or ``ValidationFailed`` (422) listing every problem with its field path."""
    out = _Problems()
    spec = _parse(kind, definition, out)
    if out.items or spec is None:
        raise ValidationFailed("触发器定义有误", "The trigger definition is invalid", code="invalid_definition",
                               details=out.items or [{"field": "definition", "code": "invalid"}])
    return spec


def _parse(kind: str, d: Any, out: _Problems) -> Spec | None:
    if kind not in KINDS:
        out.add("kind", "bad_kind", f"触发器类型无效；可选 {' '.join(KINDS)}", f"Invalid kind; one of {' '.join(KINDS)}")
        return None
    if not isinstance(d, dict):
        out.add("definition", "bad_definition", "定义必须是对象", "The definition must be an object")
        return None
    p = "definition."
    if kind == "event":
        m = _check_match(d, p, out)
        return EventSpec(m) if m else None
    if kind == "first_time":
        m = _check_match(d, p, out)
        window = _int_field(d, "window_days", out, low=1, high=3650, required=False, zh="回看天数", en="window_days")
        return FirstTimeSpec(m, window) if m and not out.items else None
    if kind in ("breakpoint", "sequence"):
        a = _check_match(d, p, out)
        b = _check_match(d, p, out, event_field="then_event", filters_field="then_filters",
                         type_field="then_event_type")
        within = _int_field(d, "within_seconds", out, low=1, high=MAX_WITHIN_SECONDS, required=True,
                            zh="等待时长（秒）", en="within_seconds")
        key = d.get("match_key")
        if key is not None and (not isinstance(key, str) or len(key) > 100 or not _PROPERTY.match(key)):
            out.add("definition.match_key", "bad_property", "关联属性名无效", "Invalid match key property")
            key = None
        if a and b and a == b:
            out.add("definition.then_event", "same_event", "后续事件不能与起始事件完全相同",
                    "The follow-up event must differ from the starting event")
        if a is None or b is None or within is None or out.items:
            return None
        return PairSpec(kind, a, b, within, key or None)
    if kind == "key_date":
        date_kind = d.get("date_kind")
        if date_kind not in DATE_KINDS:
            out.add("definition.date_kind", "bad_date_kind", f"日期类型无效；可选 {' '.join(DATE_KINDS)}",
                    f"Invalid date kind; one of {' '.join(DATE_KINDS)}")
        days = _int_field(d, "days_before", out, low=0, high=365, required=False, zh="提前天数", en="days_before")
        types = d.get("product_types") or ["wealth"]
        if not isinstance(types, list) or not types or any(t not in PRODUCT_TYPES for t in types):
            out.add("definition.product_types", "bad_product_types",
                    f"产品类型无效；可选 {' '.join(PRODUCT_TYPES)}", f"Invalid product types; of {' '.join(PRODUCT_TYPES)}")
            types = []
        payroll_day = _int_field(d, "payroll_day", out, low=1, high=31, required=False, zh="发薪日", en="payroll_day")
        salary_event = d.get("salary_event") or DEFAULT_SALARY_EVENT
        if not isinstance(salary_event, str) or not _NAME.match(salary_event):
            out.add("definition.salary_event", "required", "工资入账事件名称无效", "Invalid salary event name")
        if out.items:
            return None
        return KeyDateSpec(date_kind, days or 0, tuple(sorted(set(types))), payroll_day, salary_event)
    # threshold
    metric = d.get("metric", "aum_fen")
    if metric not in THRESHOLD_METRICS:
        out.add("definition.metric", "bad_metric", "指标无效；目前支持 aum_fen（AUM，分）", "Invalid metric; aum_fen")
    direction = d.get("direction", "up")
    if direction not in DIRECTIONS:
        out.add("definition.direction", "bad_direction", "方向无效；可选 up、down、both", "Direction: up, down or both")
    value = _int_field(d, "value_fen", out, low=0, high=10**15, required=True, zh="阈值（分）", en="value_fen")
    if out.items or value is None:
        return None
    return ThresholdSpec(metric, direction, value)


def to_json(spec: Spec) -> dict:
    """The normalised definition that is stored (defaults filled in, values coerced)."""

    def flt(f: PropertyFilter) -> dict:
        value: Any = f.value
        if f.op == "in":
            value = sorted(value, key=str)
        elif f.op == "between":
            value = list(value)
        if f.type == "date":
            value = [v.isoformat() for v in value] if isinstance(value, list) else value.isoformat()
        return {"property": f.property, "op": f.op, "value": value, "type": f.type}

    def match(m: EventMatch, event: str = "event", filters: str = "filters", type_: str = "event_type") -> dict:
        out: dict[str, Any] = {event: m.event, filters: [flt(f) for f in m.filters]}
        if m.event_type:
            out[type_] = m.event_type
        return out

    match spec:
        case EventSpec(match=m):
            return match(m)
        case FirstTimeSpec(match=m, window_days=w):
            return {**match(m), "window_days": w}
        case PairSpec(first=a, then=b, within_seconds=t, match_key=k):
            return {**match(a), **match(b, "then_event", "then_filters", "then_event_type"), "within_seconds": t,
                    "match_key": k}
        case KeyDateSpec():
            return {"date_kind": spec.date_kind, "days_before": spec.days_before,
                    "product_types": list(spec.product_types), "payroll_day": spec.payroll_day,
                    "salary_event": spec.salary_event}
        case ThresholdSpec():
            return {"metric": spec.metric, "direction": spec.direction, "value_fen": spec.value_fen}
    raise AssertionError(spec)
