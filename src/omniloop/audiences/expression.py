"""Audience expressions (人群圈选表达式): one JSON tree of set operations over customer predicates.

The tree is what the console sends while an operator composes an audience and what a saved audience
stores. Inner nodes combine sets of customers (交并补)::

    {"op": "and" | "or", "children": [node, ...]}
    {"op": "not", "child": node}
    {"op": "minus", "base": node, "subtract": [node, ...]}

Leaves are predicates::

    {"op": "tag", "tag": "vip_level", "values": ["gold", "platinum"]}     user-defined tag values
    {"op": "feature", "feature": "risk_level", "in": ["R4", "R5"]}        enum / boolean feature values
    {"op": "range", "feature": "aum", "min": "500000", "max": null}       inclusive; money in yuan
    {"op": "list", "list_id": 7}                                          an uploaded customer list
    {"op": "audience", "audience_id": 3}                                  a saved audience

Every node may carry a client ``id`` so that per-node counts can be matched to the console's widgets.
``parse_expression`` turns JSON into the typed tree and ``validate`` checks it against a ``Catalog`` (the
known tags, lists and saved audiences); both raise ``ValidationFailed`` (code ``invalid_audience``) whose
details list every problem with its path in the tree (``children.1.values.0``) and a message in Chinese
and English. ``range_bounds`` gives a range predicate's bounds in storage units (fen, integers, floats,
dates) for the compilers, which assume a validated tree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from omniloop.core.errors import ValidationFailed
from omniloop.tags.features import FEATURES, Feature, Kind

MAX_DEPTH = 12
MAX_NODES = 200
MAX_VALUES = 1000

ERROR_CODE = "invalid_audience"
INNER_OPS = ("and", "or", "not", "minus")
PREDICATE_OPS = ("tag", "feature", "range", "list", "audience")
RANGE_KINDS = (Kind.integer, Kind.money, Kind.ratio, Kind.date)
VALUE_KINDS = (Kind.enum, Kind.boolean)


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    id: Annotated[str | None, Field(max_length=64, description="client id, echoed in per-node counts")] = None


class And(_Node):
    op: Literal["and"]
    children: list[Node]


class Or(_Node):
    op: Literal["or"]
    children: list[Node]


class Not(_Node):
    """Everyone in the universe (the user's org subtree) who is not in ``child``."""

    op: Literal["not"]
    child: Node


class Minus(_Node):
    """``base`` without anyone in any of ``subtract`` (差集)."""

    op: Literal["minus"]
    base: Node
    subtract: list[Node]


class TagPredicate(_Node):
    """The customer's value of user-defined tag ``tag`` is one of ``values``."""

    op: Literal["tag"]
    tag: str
    values: list[Any]


class FeaturePredicate(_Node):
    """The customer's enum or boolean feature is one of ``in``."""

    op: Literal["feature"]
    feature: str
    values: list[Any] = Field(alias="in")


class RangePredicate(_Node):
    """``min <= feature <= max`` (either bound may be null). Money in yuan, ratios as decimals, dates ISO."""

    op: Literal["range"]
    feature: str
    min: Any = None
    max: Any = None


class ListPredicate(_Node):
    """The customer is on uploaded list ``list_id`` (上传名单)."""

    op: Literal["list"]
    list_id: int


class AudiencePredicate(_Node):
    """The customer is in saved audience ``audience_id`` (evaluated from its expression)."""

    op: Literal["audience"]
    audience_id: int


Node = Annotated[
    And | Or | Not | Minus
    | TagPredicate | FeaturePredicate | RangePredicate | ListPredicate | AudiencePredicate,
    Field(discriminator="op"),
]
Predicate = TagPredicate | FeaturePredicate | RangePredicate | ListPredicate | AudiencePredicate
for _model in (And, Or, Not, Minus):
    _model.model_rebuild()
NODE_ADAPTER: TypeAdapter[Node] = TypeAdapter(Node)


# ---- catalog --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TagInfo:
    """What validation needs to know about a tag: its value type and allowed values (enum tags)."""

    code: str
    kind: Kind  # Kind.enum or Kind.boolean
    values: tuple[str, ...] = ()


class Catalog(Protocol):
    """Known tags, features, uploaded lists and saved audiences (the database provides the real one)."""

    def tag(self, code: str) -> TagInfo | None: ...

    def feature(self, name: str) -> Feature | None: ...

    def has_list(self, list_id: int) -> bool: ...

    def audience_expression(self, audience_id: int) -> Node | None:
        """The saved audience's expression, or None if there is no such audience."""


AudienceResolver = Callable[[int], "Node | None"]  # a saved audience's expression by id, None if unknown


@dataclass
class StaticCatalog:
    """An in-memory catalog for tests and benchmarks; features default to the feature schema."""

    tags: Mapping[str, TagInfo] = field(default_factory=dict)
    lists: frozenset[int] | set[int] = frozenset()
    audiences: Mapping[int, Node] = field(default_factory=dict)
    features: Mapping[str, Feature] = field(default_factory=lambda: FEATURES)

    def tag(self, code: str) -> TagInfo | None:
        return self.tags.get(code)

    def feature(self, name: str) -> Feature | None:
        return self.features.get(name)

    def has_list(self, list_id: int) -> bool:
        return list_id in self.lists

    def audience_expression(self, audience_id: int) -> Node | None:
        return self.audiences.get(audience_id)


# ---- errors ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    path: str
    code: str
    message_zh: str
    message_en: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message_zh": self.message_zh,
                "message_en": self.message_en}


def audience_error(problems: list[Problem]) -> ValidationFailed:
    """The error every audience problem is reported with (HTTP 422, code ``invalid_audience``)."""
    return ValidationFailed("人群条件不合法", "Invalid audience expression", code=ERROR_CODE,
                            details=[p.as_dict() for p in problems])


def join_path(*parts: str | int) -> str:
    return ".".join(str(p) for p in parts if p != "")


# ---- parsing --------------------------------------------------------------------------------------------

def _raw_depth_problem(data: Any) -> Problem | None:
    """Refuse absurdly deep JSON before Pydantic recurses into it."""
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if not isinstance(value, dict):
            continue
        if depth > MAX_DEPTH:
            return _too_deep(path)
        for key in ("child", "base"):
            if key in value:
                stack.append((value[key], join_path(path, key), depth + 1))
        for key in ("children", "subtract"):
            if isinstance(value.get(key), list):
                stack.extend((item, join_path(path, key, i), depth + 1) for i, item in enumerate(value[key]))
    return None


def _too_deep(path: str) -> Problem:
    return Problem(path, "too_deep", f"条件嵌套超过 {MAX_DEPTH} 层", f"Nested deeper than {MAX_DEPTH} levels")


def _clean_loc(loc: tuple[str | int, ...]) -> str:
    """Pydantic puts the union tag (``and``, ``tag`` ...) into error paths; drop it where a node starts."""
    parts: list[str | int] = []
    expect_node = True
    list_field = False
    for item in loc:
        if expect_node and isinstance(item, str) and item in INNER_OPS + PREDICATE_OPS:
            expect_node = False
            continue
        parts.append(item)
        if list_field and isinstance(item, int):
            expect_node, list_field = True, False
        elif item in ("child", "base"):
            expect_node = True
        elif item in ("children", "subtract"):
            expect_node, list_field = False, True
        else:
            expect_node = False
    return join_path(*parts)


def parse_expression(data: Any) -> Node:
    """JSON (already decoded) → the typed tree; structural errors become ``ValidationFailed``."""
    if (problem := _raw_depth_problem(data)) is not None:
        raise audience_error([problem])
    try:
        return NODE_ADAPTER.validate_python(data)
    except PydanticValidationError as exc:
        problems = [
            Problem(_clean_loc(tuple(err["loc"])), "invalid_node", f"结构不合法：{err['msg']}", err["msg"])
            for err in exc.errors()
        ]
        raise audience_error(problems) from None


def dump_expression(node: Node) -> dict[str, Any]:
    return NODE_ADAPTER.dump_python(node, by_alias=True, exclude_none=True, mode="json")


# ---- walking --------------------------------------------------------------------------------------------

def children_of(node: Node) -> list[tuple[str, Node]]:
    """(relative path, child) pairs of an inner node; none for a predicate."""
    match node:
        case And() | Or():
            return [(f"children.{i}", c) for i, c in enumerate(node.children)]
        case Not():
            return [("child", node.child)]
        case Minus():
            return [("base", node.base)] + [(f"subtract.{i}", c) for i, c in enumerate(node.subtract)]
    return []


def walk(node: Node, path: str = "") -> Iterator[tuple[str, int, Node]]:
    """Every node in pre-order as (path, depth starting at 1, node)."""
    stack = [(path, 1, node)]
    while stack:
        p, depth, n = stack.pop()
        yield p, depth, n
        stack.extend((join_path(p, rel), depth + 1, c) for rel, c in reversed(children_of(n)))


def audience_refs(node: Node) -> list[tuple[str, int]]:
    return [(p, n.audience_id) for p, _, n in walk(node) if isinstance(n, AudiencePredicate)]


# ---- bounds in storage units ----------------------------------------------------------------------------

class BoundError(ValueError):
    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.message_zh, self.message_en = message_zh, message_en


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise BoundError("应为数值", "must be a number")
    try:
        # A float goes through its shortest repr, so 0.1 means 0.1 and not 0.1000000000000000055...
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise BoundError("不是有效的数值", "is not a valid number") from None
    if not number.is_finite():
        raise BoundError("不是有效的数值", "is not a valid number")
    return number


def storage_bound(feature: Feature, value: Any) -> int | float | date | None:
    """A range bound as the feature table stores it: fen for money, int, float for ratios, date."""
    if value is None:
        return None
    if feature.kind is Kind.date:
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise BoundError("应为日期（YYYY-MM-DD）", "must be a date (YYYY-MM-DD)")
    number = _decimal(value)
    if feature.kind is Kind.ratio:
        if not math.isfinite(float(number)):
            raise BoundError("超出可表示的范围", "is out of range")
        return float(number)
    if feature.kind is Kind.money:
        fen = number * 100
        if fen != fen.to_integral_value():
            raise BoundError("最多两位小数（单位：元）", "may have at most two decimals (yuan)")
        return int(fen)
    if number != number.to_integral_value():
        raise BoundError("应为整数", "must be a whole number")
    return int(number)


def range_bounds(node: RangePredicate, feature: Feature | None = None) -> tuple[Any, Any]:
    """(min, max) of a validated range predicate in storage units."""
    feature = feature or FEATURES[node.feature]
    return storage_bound(feature, node.min), storage_bound(feature, node.max)


def value_matches(kind: Kind, value: Any) -> bool:
    return isinstance(value, bool) if kind is Kind.boolean else isinstance(value, str)


# ---- validation -----------------------------------------------------------------------------------------

_BOUND_ZH = {"min": "下限", "max": "上限"}
_KIND_ZH = {Kind.enum: "枚举", Kind.boolean: "布尔", Kind.integer: "整数", Kind.money: "金额",
            Kind.ratio: "比率", Kind.date: "日期"}


def _known_feature(catalog: Catalog, name: str, path: str, problems: list[Problem]) -> Feature | None:
    """The feature called ``name``, or None after recording an ``unknown_feature`` problem."""
    feature = catalog.feature(name)
    if feature is None:
        problems.append(Problem(join_path(path, "feature"), "unknown_feature", f"特征“{name}”不存在",
                                f"Unknown feature {name!r}"))
    return feature


def _check_values(path: str, key: str, values: list[Any], kind: Kind, allowed: tuple[str, ...], what_zh: str,
                  what_en: str, problems: list[Problem]) -> None:
    if not values:
        problems.append(Problem(join_path(path, key), "empty_values", "取值列表不能为空",
                                "The value list is empty"))
        return
    if len(values) > MAX_VALUES:
        problems.append(Problem(join_path(path, key), "too_many_values", f"取值不能超过 {MAX_VALUES} 个",
                                f"At most {MAX_VALUES} values"))
        return
    for i, value in enumerate(values):
        vpath = join_path(path, key, i)
        if not value_matches(kind, value):
            boolean = kind is Kind.boolean
            expected_zh, expected_en = ("true/false", "true or false") if boolean else ("文本", "a string")
            problems.append(Problem(vpath, "wrong_value_type", f"{what_zh}的取值应为{expected_zh}",
                                    f"Values of {what_en} must be {expected_en}"))
        elif kind is Kind.enum and allowed and value not in allowed:
            problems.append(Problem(vpath, "unknown_value", f"{what_zh}没有取值“{value}”",
                                    f"{what_en} has no value {value!r}"))


def _check_predicate(path: str, node: Node, catalog: Catalog, problems: list[Problem]) -> None:
    match node:
        case TagPredicate():
            info = catalog.tag(node.tag)
            if info is None:
                problems.append(Problem(join_path(path, "tag"), "unknown_tag", f"标签“{node.tag}”不存在",
                                        f"Unknown tag {node.tag!r}"))
                return
            _check_values(path, "values", node.values, info.kind, info.values, f"标签“{node.tag}”",
                          f"tag {node.tag!r}", problems)
        case FeaturePredicate():
            feature = _known_feature(catalog, node.feature, path, problems)
            if feature is None:
                return
            if feature.kind not in VALUE_KINDS:
                problems.append(Problem(join_path(path, "feature"), "wrong_feature_kind",
                                        f"{feature.label_zh}是{_KIND_ZH[feature.kind]}特征，请用区间条件",
                                        f"{feature.label_en} ({feature.kind}) takes a range, not values"))
                return
            _check_values(path, "in", node.values, feature.kind, feature.values, feature.label_zh,
                          feature.label_en, problems)
        case RangePredicate():
            feature = _known_feature(catalog, node.feature, path, problems)
            if feature is None:
                return
            if feature.kind not in RANGE_KINDS:
                problems.append(Problem(join_path(path, "feature"), "wrong_feature_kind",
                                        f"{feature.label_zh}是{_KIND_ZH[feature.kind]}特征，不能用区间条件",
                                        f"{feature.label_en} ({feature.kind}) takes values, not a range"))
                return
            if node.min is None and node.max is None:
                problems.append(Problem(path, "unbounded_range", "区间至少需要下限或上限之一",
                                        "A range needs a min or a max"))
                return
            bounds = {}
            for name in ("min", "max"):
                try:
                    bounds[name] = storage_bound(feature, getattr(node, name))
                except BoundError as exc:
                    problems.append(Problem(join_path(path, name), "invalid_bound",
                                            f"{feature.label_zh}的{_BOUND_ZH[name]}{exc.message_zh}",
                                            f"{feature.label_en}: {name} {exc.message_en}"))
            lo, hi = bounds.get("min"), bounds.get("max")
            if lo is not None and hi is not None and lo > hi:
                problems.append(Problem(path, "inverted_range", "下限大于上限", "min is greater than max"))
        case ListPredicate():
            if not catalog.has_list(node.list_id):
                problems.append(Problem(join_path(path, "list_id"), "unknown_list",
                                        f"名单 {node.list_id} 不存在",
                                        f"Unknown customer list {node.list_id}"))
        case AudiencePredicate():
            pass  # references are checked together, for cycles


def _check_references(root: Node, catalog: Catalog, self_id: int | None, problems: list[Problem]) -> None:
    """Every referenced saved audience exists, transitively, and no chain of references loops."""
    sound: set[int] = set()  # audiences whose references were all followed without a problem

    def visit(audience_id: int, chain: tuple[int, ...], path: str) -> bool:
        if audience_id in chain:
            loop = " → ".join(str(a) for a in chain[chain.index(audience_id):] + (audience_id,))
            problems.append(Problem(path, "audience_cycle", f"人群引用形成循环：{loop}",
                                    f"Saved audiences reference each other in a cycle: {loop}"))
            return False
        if audience_id in sound:
            return True
        expression = catalog.audience_expression(audience_id)
        if expression is None:
            via = [a for a in chain if a != self_id]
            via_zh = f"（经由人群 {' → '.join(map(str, via))}）" if via else ""
            via_en = f" (via audience {' → '.join(map(str, via))})" if via else ""
            problems.append(Problem(path, "unknown_audience", f"人群 {audience_id} 不存在{via_zh}",
                                    f"Unknown saved audience {audience_id}{via_en}"))
            return False
        ok = True
        for _, ref in audience_refs(expression):  # every reference, not only up to the first problem
            ok = visit(ref, chain + (audience_id,), path) and ok
        if ok:
            sound.add(audience_id)
        return ok

    start = (self_id,) if self_id is not None else ()
    for path, ref in audience_refs(root):
        visit(ref, start, join_path(path, "audience_id"))


def validate(expr: Node, catalog: Catalog, *, audience_id: int | None = None) -> None:
    """Check ``expr`` against ``catalog``; raise ``ValidationFailed`` listing every problem.

    ``audience_id`` is the saved audience being edited, if any, so that a reference back to it is a cycle.
    """
    problems: list[Problem] = []
    count = 0
    for path, depth, node in walk(expr):
        count += 1
        if depth > MAX_DEPTH:
            if depth == MAX_DEPTH + 1:  # once per branch, where the limit is crossed
                problems.append(_too_deep(path))
            continue
        match node:
            case And() | Or() if not node.children:
                problems.append(Problem(join_path(path, "children"), "empty_children",
                                        "组合条件至少需要一个子条件",
                                        f"'{node.op}' needs at least one condition"))
            case Minus() if not node.subtract:
                problems.append(Problem(join_path(path, "subtract"), "empty_children",
                                        "差集至少需要一个被减条件",
                                        "'minus' needs at least one condition to subtract"))
            case _:
                _check_predicate(path, node, catalog, problems)
    if count > MAX_NODES:
        problems.insert(0, Problem("", "too_many_nodes", f"条件节点不能超过 {MAX_NODES} 个",
                                   f"At most {MAX_NODES} conditions"))
    _check_references(expr, catalog, audience_id, problems)
    # One report per place and kind: a shared saved audience may be reached along several references.
    seen: set[tuple[str, str]] = set()
    unique = [p for p in problems if (p.path, p.code) not in seen and not seen.add((p.path, p.code))]
    if unique:
        raise audience_error(unique)


def parse_and_validate(data: Any, catalog: Catalog, *, audience_id: int | None = None) -> Node:
    node = parse_expression(data)
    validate(node, catalog, audience_id=audience_id)
    return node
