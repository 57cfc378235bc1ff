"""Tag definitions (标签口径): what a definition may say for each source, how it is checked, and the SQL
it compiles to.

A definition is JSON, one shape a source and value type (money in yuan, as in rules)::

    rule / boolean   {"rule": "aum_avg_3m >= 500000 and risk_level in ('R3','R4')"}
    rule / enum      {"cases": [{"value": "vip", "label_zh": "贵宾", "label_en": "VIP", "rule": "..."}, ...],
                      "else": {"value": "mass", "label_zh": "大众", "label_en": "Mass"}}     first match wins
    rule / numeric   {"feature": "product_count", "buckets": [{"value": "p0", "label_zh": "…", "label_en": "…",
                      "min": null, "max": 1}, ...]}             min inclusive, max exclusive, null = open
    list / boolean   {"list_id": 12}                             true for the customers on the uploaded list
    model_score / numeric  {"model": "churn_v3", "buckets": [...]}   buckets over the uploaded score
    model_score / boolean  {"model": "churn_v3", "threshold": 0.8}   score >= threshold
    event / boolean  {"event": "bind_card", "event_type": "track", "within_days": 30,
                      "filter": {"property": "channel", "op": "=", "value": "app"}}     did X within N days
    event / numeric  {... the same ..., "buckets": [...]}          count of X within N days, bucketed
    event / boolean  {"trigger_id": 7, "within_days": 30}            trigger 7 fired for them within N days
    event / numeric  {"trigger_id": 7, "within_days": 30, "buckets": [...]}   count of its firings, bucketed

Every tag is an enum or a boolean in the tag set and its bitmap index: numeric buckets become enum
values (the bucket codes). Checking never raises on input: it returns every problem with a path into
the definition (and, for rules, line and column), so the console can mark them as the operator types.
Compilation produces DuckDB SQL from the checked definition only; rule text goes through the rule
parser (``tags.rules``), never ``eval``, and every literal is quoted by us.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from omniloop.tags import rules
from omniloop.tags.features import FEATURES, Kind

CATEGORIES: dict[str, tuple[str, str]] = {
    "basic": ("基础属性", "Basic"),
    "value": ("价值", "Value"),
    "behaviour": ("行为", "Behaviour"),
    "lifecycle": ("生命周期", "Lifecycle"),
    "model_score": ("模型评分", "Model score"),
    "event": ("事件", "Event"),
}
SOURCES: dict[str, tuple[str, str]] = {
    "rule": ("规则", "Rule"),
    "list": ("上传名单", "Uploaded list"),
    "model_score": ("模型评分", "Model score"),
    "event": ("事件衍生", "Event-derived"),
}
VALUE_TYPES: dict[str, tuple[str, str]] = {
    "enum": ("枚举", "Enum"),
    "boolean": ("布尔", "Boolean"),
    "numeric": ("数值分档", "Numeric buckets"),
}
ALLOWED_TYPES = {"rule": ("boolean", "enum", "numeric"), "list": ("boolean",),
                 "model_score": ("numeric", "boolean"), "event": ("boolean", "numeric")}
LIFECYCLE_CODES = ("lifecycle_stage", "lifecycle_status")
EVENT_OPS = ("=", "!=", ">", ">=", "<", "<=", "in", "exists")
CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
VALUE_PATTERN = re.compile(r"^[A-Za-z0-9_\-.]{1,64}$")
PROPERTY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,4}$")
MAX_CASES = 50
MAX_DAYS = 3660
BOOLEAN_VALUES = [{"value": True, "label_zh": "是", "label_en": "Yes"},
                  {"value": False, "label_zh": "否", "label_en": "No"}]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition; ``line`` … ``length`` locate it inside a rule's text."""

    path: str
    kind: str
    message_zh: str
    message_en: str
    line: int | None = None
    column: int | None = None
    offset: int | None = None
    length: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "message_zh": self.message_zh, "message_en": self.message_en,
                "line": self.line, "column": self.column, "offset": self.offset, "length": self.length}


# ---- the checked forms -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    value: str
    low: Decimal | None  # inclusive, in the feature's expression unit (yuan for money)
    high: Decimal | None  # exclusive


@dataclass(frozen=True)
class RuleTag:
    rule: rules.Rule


@dataclass(frozen=True)
class CasesTag:
    cases: tuple[tuple[str, rules.Rule], ...]
    otherwise: str | None


@dataclass(frozen=True)
class FeatureBuckets:
    feature: str
    buckets: tuple[Bucket, ...]


@dataclass(frozen=True)
class ListTag:
    list_id: int


@dataclass(frozen=True)
class ScoreTag:
    model: str
    buckets: tuple[Bucket, ...] = ()
    threshold: Decimal | None = None


@dataclass(frozen=True)
class EventFilter:
    property: str
    op: str
    value: Any


@dataclass(frozen=True)
class EventTag:
    event: str
    event_type: str | None
    within_days: int
    filter: EventFilter | None
    buckets: tuple[Bucket, ...] = ()  # empty: did it (boolean)


@dataclass(frozen=True)
class TriggerFiredTag:
    """Trigger firings as tag values (触发器命中标签): fired within N days / how often, from trigger_firings."""

    trigger_id: int
    within_days: int
    buckets: tuple[Bucket, ...] = ()  # empty: fired at all (boolean)


Spec = RuleTag | CasesTag | FeatureBuckets | ListTag | ScoreTag | EventTag | TriggerFiredTag


@dataclass
class Checked:
    problems: list[Problem] = field(default_factory=list)
    features_used: set[str] = field(default_factory=set)
    values: list[dict[str, Any]] = field(default_factory=list)  # [{value, label_zh, label_en}]
    spec: Spec | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def kind(self) -> str:
        """The tag's kind in the tag set and index."""
        return "boolean" if isinstance(self.spec, RuleTag | ListTag) or (
            isinstance(self.spec, ScoreTag) and self.spec.threshold is not None) or (
            isinstance(self.spec, EventTag | TriggerFiredTag) and not self.spec.buckets) else "enum"


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, kind: str, zh: str, en: str) -> None:
        self.problems.append(Problem(path, kind, zh, en))


def check_code(code: str) -> list[Problem]:
    if not CODE_PATTERN.match(code or ""):
        return [Problem("code", "bad_code", "标签编码须以小写字母开头，由小写字母、数字和下划线组成（2–64 位）",
                        "The tag code starts with a lowercase letter and has 2-64 lowercase letters, digits or _")]
    return []


def check_rule_text(text: Any, path: str, *, forbid_lifecycle: bool = False,
                    used: set[str] | None = None) -> tuple[list[Problem], rules.Rule | None]:
    """Problems of one rule's text (with positions) and the parsed rule when there are none."""
    if not isinstance(text, str):
        return [Problem(path, "required", "请填写规则", "Write a rule")], None
    issues = rules.check_rule(text)
    problems = [Problem(path, i.kind, i.message_zh, i.message_en, i.line, i.column, i.offset, i.length)
                for i in issues]
    if problems:
        return problems, None
    rule = rules.parse_rule(text)
    names = rules.features_used(rule)
    if used is not None:
        used.update(names)
    if forbid_lifecycle and names & set(LIFECYCLE_CODES):
        return [Problem(path, "lifecycle_reference",
                        "生命周期规则不能引用生命周期阶段或客户状态本身",
                        "A lifecycle rule cannot refer to the lifecycle stage or status itself")], None
    return [], rule


def _number(raw: Any) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _label(raw: dict, path: str, out: _Collector, fallback: str) -> tuple[str, str]:
    zh, en = raw.get("label_zh"), raw.get("label_en")
    for key, text in (("label_zh", zh), ("label_en", en)):
        if text is not None and (not isinstance(text, str) or len(text) > 100):
            out.add(f"{path}.{key}", "bad_label", "标签值名称须为不超过 100 字的文本", "A value label is text of at most 100 characters")
    zh = zh if isinstance(zh, str) and zh.strip() else fallback
    en = en if isinstance(en, str) and en.strip() else fallback
    return zh, en


def _value_code(raw: Any, path: str, out: _Collector, seen: set[str]) -> str | None:
    if not isinstance(raw, str) or not VALUE_PATTERN.match(raw):
        out.add(path, "bad_value", "取值编码须为 1–64 位字母、数字、下划线、点或连字符",
                "A value code has 1-64 letters, digits, _, . or -")
        return None
    if raw in seen:
        out.add(path, "duplicate_value", f"取值 {raw} 重复", f"The value {raw} appears twice")
        return None
    seen.add(raw)
    return raw


def _buckets(raw: Any, path: str, out: _Collector, values: list[dict], *, kind: Kind | None = None
             ) -> tuple[Bucket, ...]:
    """Buckets as [min, max) ranges that must not overlap; a value outside every bucket has no tag value."""
    if not isinstance(raw, list) or not raw:
        out.add(path, "required", "请至少设置一个分档", "Give at least one bucket")
        return ()
    if len(raw) > MAX_CASES:
        out.add(path, "too_many", f"分档最多 {MAX_CASES} 个", f"At most {MAX_CASES} buckets")
        return ()
    seen: set[str] = set()
    buckets = []
    for i, item in enumerate(raw):
        at = f"{path}[{i}]"
        if not isinstance(item, dict):
            out.add(at, "bad_bucket", "分档格式有误", "A bucket is an object")
            continue
        code = _value_code(item.get("value"), f"{at}.value", out, seen)
        bounds = []
        for key in ("min", "max"):
            raw_bound = item.get(key)
            if raw_bound is None:
                bounds.append(None)
                continue
            number = _number(raw_bound)
            if number is None or abs(number) >= Decimal(10) ** 15:
                out.add(f"{at}.{key}", "bad_number", "分档边界须为数字", "A bucket bound is a number")
                bounds.append(None)
                continue
            if kind is Kind.integer and number != number.to_integral_value():
                out.add(f"{at}.{key}", "bad_number", "整数特征的分档边界须为整数", "Bounds of an integer feature are integers")
            if kind is Kind.money and number != number.quantize(Decimal("0.01")):
                out.add(f"{at}.{key}", "money_precision", "金额最多两位小数（到分）", "Money has at most two decimals (fen)")
            bounds.append(number)
        low, high = bounds
        if low is not None and high is not None and low >= high:
            out.add(at, "bad_range", "分档下限须小于上限", "A bucket's min must be below its max")
        if code is not None:
            zh, en = _label(item, at, out, code)
            values.append({"value": code, "label_zh": zh, "label_en": en})
            buckets.append(Bucket(code, low, high))
    # Overlaps, in order of the lower bound.
    ordered = sorted(buckets, key=lambda b: (b.low is not None, b.low or 0))
    for before, after in zip(ordered, ordered[1:], strict=False):
        if before.high is None or (after.low is None) or after.low < before.high:
            out.add(path, "overlapping_buckets", f"分档 {before.value} 与 {after.value} 重叠",
                    f"Buckets {before.value} and {after.value} overlap")
    return tuple(buckets)


def check_definition(
    *,
    source: str,
    value_type: str,
    definition: Any,
    code: str | None = None,
    list_exists: Callable[[int], bool] | None = None,
    trigger_exists: Callable[[int], bool] | None = None,
) -> Checked:
    """Every problem of a definition; ``spec`` and ``values`` when there are none.

    ``code`` in ``LIFECYCLE_CODES`` forbids references to the lifecycle features; ``list_exists`` and
    ``trigger_exists`` check a list or trigger against the database (left out: not checked).
    """
    result = Checked()
    out = _Collector()
    if source not in SOURCES:
        out.add("source", "bad_source", "未知的标签来源", f"Unknown source; one of {', '.join(SOURCES)}")
    elif value_type not in ALLOWED_TYPES[source]:
        allowed = ", ".join(ALLOWED_TYPES[source])
        out.add("value_type", "bad_value_type", f"该来源的取值类型只能是：{allowed}",
                f"This source takes value type {allowed}")
    if not isinstance(definition, dict):
        out.add("definition", "required", "请填写标签口径", "The definition is an object")
    if out.problems:
        result.problems = out.problems
        return result
    lifecycle = code in LIFECYCLE_CODES
    values: list[dict] = []
    spec: Spec | None = None
    d = definition
    if source == "rule" and value_type == "boolean":
        problems, rule = check_rule_text(d.get("rule"), "definition.rule", forbid_lifecycle=lifecycle,
                                         used=result.features_used)
        out.problems.extend(problems)
        values = [dict(v) for v in BOOLEAN_VALUES]
        spec = RuleTag(rule) if rule else None
    elif source == "rule" and value_type == "enum":
        spec = _check_cases(d, out, values, lifecycle, result.features_used)
    elif source == "rule":
        spec = _check_feature_buckets(d, out, values, lifecycle, result.features_used)
    elif source == "list":
        list_id = d.get("list_id")
        if isinstance(list_id, bool) or not isinstance(list_id, int) or list_id < 1:
            out.add("definition.list_id", "required", "请选择上传名单", "Choose an uploaded customer list")
        elif list_exists is not None and not list_exists(list_id):
            out.add("definition.list_id", "unknown_list", "名单不存在", "No such customer list")
        else:
            spec = ListTag(list_id)
        values = [dict(v) for v in BOOLEAN_VALUES]
    elif source == "model_score":
        spec = _check_score(d, value_type, out, values)
    elif "trigger_id" in d:
        spec = _check_trigger_fired(d, value_type, out, values, trigger_exists)
    else:
        spec = _check_event(d, value_type, out, values)
    if lifecycle:
        _check_lifecycle_values(code, value_type, values, out)
    result.problems = out.problems
    if not out.problems:
        result.spec, result.values = spec, values
    else:
        result.values = values
    return result


def _check_lifecycle_values(code: str, value_type: str, values: list[dict], out: _Collector) -> None:
    """The lifecycle tags replace the lifecycle features, so they take exactly the features' values."""
    allowed = FEATURES[code].values
    if value_type != "enum":
        out.add("value_type", "bad_value_type", "生命周期标签须为枚举", "A lifecycle tag is an enum")
        return
    for value in values:
        if value["value"] not in allowed:
            out.add("definition", "unknown_value",
                    f"生命周期取值 {value['value']} 无效，可选：{'、'.join(allowed)}",
                    f"Lifecycle value {value['value']} is not one of {', '.join(allowed)}")


def _check_cases(d: dict, out: _Collector, values: list[dict], lifecycle: bool, used: set[str]) -> CasesTag | None:
    cases = d.get("cases")
    if not isinstance(cases, list) or not cases:
        out.add("definition.cases", "required", "请至少设置一个取值及其规则", "Give at least one value with its rule")
        return None
    if len(cases) > MAX_CASES:
        out.add("definition.cases", "too_many", f"取值最多 {MAX_CASES} 个", f"At most {MAX_CASES} values")
        return None
    seen: set[str] = set()
    compiled = []
    for i, case in enumerate(cases):
        at = f"definition.cases[{i}]"
        if not isinstance(case, dict):
            out.add(at, "bad_case", "取值格式有误", "A value is an object")
            continue
        code = _value_code(case.get("value"), f"{at}.value", out, seen)
        problems, rule = check_rule_text(case.get("rule"), f"{at}.rule", forbid_lifecycle=lifecycle, used=used)
        out.problems.extend(problems)
        if code is not None:
            zh, en = _label(case, at, out, code)
            values.append({"value": code, "label_zh": zh, "label_en": en})
            if rule is not None:
                compiled.append((code, rule))
    otherwise = None
    other = d.get("else")
    if other is not None:
        if not isinstance(other, dict):
            out.add("definition.else", "bad_case", "其他取值格式有误", "The else value is an object")
        else:
            otherwise = _value_code(other.get("value"), "definition.else.value", out, seen)
            if otherwise is not None:
                zh, en = _label(other, "definition.else", out, otherwise)
                values.append({"value": otherwise, "label_zh": zh, "label_en": en})
    return CasesTag(tuple(compiled), otherwise)


def _check_feature_buckets(d: dict, out: _Collector, values: list[dict], lifecycle: bool,
                           used: set[str]) -> FeatureBuckets | None:
    name = d.get("feature")
    feature = FEATURES.get(name) if isinstance(name, str) else None
    if feature is None or feature.kind not in (Kind.integer, Kind.money, Kind.ratio):
        numeric = ", ".join(n for n, f in FEATURES.items() if f.kind in (Kind.integer, Kind.money, Kind.ratio))
        out.add("definition.feature", "unknown_feature", "请选择一个数值特征进行分档",
                f"Choose a numeric feature to bucket: {numeric}")
        _buckets(d.get("buckets"), "definition.buckets", out, values)
        return None
    if lifecycle and name in LIFECYCLE_CODES:
        out.add("definition.feature", "lifecycle_reference", "生命周期规则不能引用自身", "A lifecycle rule cannot refer to itself")
    used.add(name)
    buckets = _buckets(d.get("buckets"), "definition.buckets", out, values, kind=feature.kind)
    return FeatureBuckets(name, buckets)


def _check_score(d: dict, value_type: str, out: _Collector, values: list[dict]) -> ScoreTag | None:
    model = d.get("model")
    if model is not None and (not isinstance(model, str) or len(model) > 100):
        out.add("definition.model", "bad_model", "模型名称须为不超过 100 字的文本", "The model name is text of at most 100 characters")
        model = None
    if value_type == "boolean":
        threshold = _number(d.get("threshold"))
        if threshold is None:
            out.add("definition.threshold", "required", "请设置评分阈值", "Give a score threshold")
        values.extend(dict(v) for v in BOOLEAN_VALUES)
        return ScoreTag(model or "", threshold=threshold) if threshold is not None else None
    buckets = _buckets(d.get("buckets"), "definition.buckets", out, values, kind=Kind.ratio)
    return ScoreTag(model or "", buckets=buckets)


def _check_event(d: dict, value_type: str, out: _Collector, values: list[dict]) -> EventTag | None:
    event = d.get("event")
    if not isinstance(event, str) or not event.strip() or len(event) > 200:
        out.add("definition.event", "required", "请填写事件名称", "Name the event")
        event = None
    event_type = d.get("event_type")
    if event_type is not None and (not isinstance(event_type, str) or not re.match(r"^[a-z_]{1,20}$", event_type)):
        out.add("definition.event_type", "bad_event_type", "事件类型无效（如 track、page、screen）",
                "Invalid event type (e.g. track, page, screen)")
        event_type = None
    days = d.get("within_days")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        out.add("definition.within_days", "bad_days", f"统计天数须为 1–{MAX_DAYS} 的整数",
                f"within_days is a whole number from 1 to {MAX_DAYS}")
        days = None
    flt = None
    raw = d.get("filter")
    if raw is not None:
        flt = _check_event_filter(raw, out)
    buckets: tuple[Bucket, ...] = ()
    if value_type == "numeric":
        buckets = _buckets(d.get("buckets"), "definition.buckets", out, values, kind=Kind.integer)
    else:
        values.extend(dict(v) for v in BOOLEAN_VALUES)
    if event is None or days is None:
        return None
    return EventTag(event, event_type, days, flt, buckets)


def _check_days(d: dict, out: _Collector) -> int | None:
    days = d.get("within_days")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        out.add("definition.within_days", "bad_days", f"统计天数须为 1–{MAX_DAYS} 的整数",
                f"within_days is a whole number from 1 to {MAX_DAYS}")
        return None
    return days


def _check_trigger_fired(d: dict, value_type: str, out: _Collector, values: list[dict],
                         trigger_exists: Callable[[int], bool] | None) -> TriggerFiredTag | None:
    trigger_id = d.get("trigger_id")
    if isinstance(trigger_id, bool) or not isinstance(trigger_id, int) or not 1 <= trigger_id < 2**63:
        out.add("definition.trigger_id", "required", "请选择触发器", "Choose a trigger")
        trigger_id = None
    elif trigger_exists is not None and not trigger_exists(trigger_id):
        out.add("definition.trigger_id", "unknown_trigger", "触发器不存在", "No such trigger")
        trigger_id = None
    if d.get("event") is not None or d.get("filter") is not None or d.get("event_type") is not None:
        out.add("definition.event", "trigger_or_event", "按触发器命中统计时不能再填写事件和属性筛选",
                "Count either a trigger's firings or an event, not both")
    days = _check_days(d, out)
    buckets: tuple[Bucket, ...] = ()
    if value_type == "numeric":
        buckets = _buckets(d.get("buckets"), "definition.buckets", out, values, kind=Kind.integer)
    else:
        values.extend(dict(v) for v in BOOLEAN_VALUES)
    if trigger_id is None or days is None:
        return None
    return TriggerFiredTag(trigger_id, days, buckets)


def _check_event_filter(raw: Any, out: _Collector) -> EventFilter | None:
    if not isinstance(raw, dict):
        out.add("definition.filter", "bad_filter", "属性筛选格式有误", "The property filter is an object")
        return None
    prop, op, value = raw.get("property"), raw.get("op", "="), raw.get("value")
    ok = True
    if not isinstance(prop, str) or not PROPERTY_PATTERN.match(prop):
        out.add("definition.filter.property", "bad_property", "属性名只能包含字母、数字、下划线（可用 . 表示嵌套）",
                "A property name has letters, digits and _ (nested with .)")
        ok = False
    if op not in EVENT_OPS:
        out.add("definition.filter.op", "bad_operator", f"不支持的运算符；可选 {' '.join(EVENT_OPS)}",
                f"Unsupported operator; one of {' '.join(EVENT_OPS)}")
        ok = False
    elif op == "in":
        if (not isinstance(value, list) or not value or len(value) > 100
                or not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value)):
            out.add("definition.filter.value", "bad_value", "in 需要 1–100 个文本或数字取值",
                    "in takes 1-100 text or number values")
            ok = False
    elif op in (">", ">=", "<", "<="):
        if _number(value) is None:
            out.add("definition.filter.value", "bad_value", "比较大小需要数字", "A comparison takes a number")
            ok = False
    elif op in ("=", "!="):
        if not isinstance(value, str | int | float | bool) or (isinstance(value, str) and len(value) > 500):
            out.add("definition.filter.value", "bad_value", "请填写比较的值", "Give the value to compare with")
            ok = False
    return EventFilter(prop, op, value) if ok else None


# ---- compiling to DuckDB SQL -------------------------------------------------------------------------------


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _sql_number(value: Decimal) -> str:
    return format(value, "f")


def bucket_case(column: str, buckets: tuple[Bucket, ...], *, scale: int = 1) -> str:
    """``CASE`` giving each value of ``column`` its bucket's code (NULL outside every bucket)."""
    whens = []
    for b in buckets:
        tests = []
        if b.low is not None:
            tests.append(f"{column} >= {_sql_number(b.low * scale)}")
        if b.high is not None:
            tests.append(f"{column} < {_sql_number(b.high * scale)}")
        test = " AND ".join(tests) or f"{column} IS NOT NULL"
        whens.append(f"WHEN {test} THEN {quote(b.value)}")
    return "CASE " + " ".join(whens) + " ELSE NULL END"


def rule_value_sql(spec: RuleTag | CasesTag | FeatureBuckets, table: str = "f") -> str:
    """The value of a rule-sourced tag as a DuckDB expression over the feature table aliased ``table``."""
    match spec:
        case RuleTag(rule=rule):
            return rules.to_sql(rule, "duckdb", table=table)
        case CasesTag(cases=cases, otherwise=otherwise):
            whens = " ".join(f"WHEN {rules.to_sql(rule, 'duckdb', table=table)} THEN {quote(value)}"
                             for value, rule in cases)
            other = quote(otherwise) if otherwise is not None else "NULL"
            return f"CASE {whens} ELSE {other} END" if cases else other
        case FeatureBuckets(feature=name, buckets=buckets):
            feature = FEATURES[name]
            scale = 100 if feature.kind is Kind.money else 1
            return bucket_case(f'{table}."{feature.column}"', buckets, scale=scale)
    raise AssertionError(spec)


def event_filter_sql(flt: EventFilter) -> tuple[str, list[Any]]:
    """A WHERE condition on the JSON ``properties`` column and its parameters."""
    path = "$." + ".".join(f'"{part}"' for part in flt.property.split("."))
    extracted = f"json_extract_string(properties, {quote(path)})"
    match flt.op:
        case "exists":
            return f"{extracted} IS NOT NULL", []
        case "in":
            marks = ", ".join("?" for _ in flt.value)
            return f"{extracted} IN ({marks})", [_json_text(v) for v in flt.value]
        case ">" | ">=" | "<" | "<=":
            return f"TRY_CAST({extracted} AS DOUBLE) {flt.op} ?", [float(_number(flt.value))]
        case _:
            return f"{extracted} {'=' if flt.op == '=' else '<>'} ?", [_json_text(flt.value)]


def _json_text(value: Any) -> str:
    """How json_extract_string renders a JSON scalar: true/false for booleans, digits for numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


__all__ = [
    "ALLOWED_TYPES", "BOOLEAN_VALUES", "CATEGORIES", "LIFECYCLE_CODES", "SOURCES", "VALUE_TYPES", "Bucket",
    "CasesTag", "Checked", "EventFilter", "EventTag", "FeatureBuckets", "ListTag", "Problem", "RuleTag", "ScoreTag",
    "Spec", "TriggerFiredTag", "bucket_case", "check_code", "check_definition", "check_rule_text", "event_filter_sql", "quote",
    "rule_value_sql",
]
