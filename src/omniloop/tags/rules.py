"""Tag rules (标签规则): the small declarative language a rule-sourced tag is written in.

    aum_avg_3m >= 500000 and risk_level in ('R3', 'R4')
    年龄 >= 60 且 非 has_credit_card
    first_account_date between date '2020-01-01' and '2020-12-31' or months_since_login is null

This module owns the grammar, the typed syntax tree, the type checker against the feature schema
(``omniloop.tags.features``) and the compiler to SQL. It is pure: no database, no ``eval``.

The language
------------
* ``and`` / ``or`` / ``not`` (also ``且`` / ``或`` / ``非``), parentheses; keywords in any case.
* Predicates on one feature: ``= != <> < <= > >=``, ``in (…)``, ``not in (…)``, ``between a and b``,
  ``not between a and b``, ``is null``, ``is not null``, and a boolean feature on its own
  (``has_credit_card``).
* Literals: integers and decimals (``-0.3``; ``50万`` and ``1.5亿`` are 10⁴ and 10⁸ times the number),
  ``'text'`` or ``"text"`` (a quote is doubled inside), ``true`` / ``false``, ``date '2024-01-01'``
  (a plain ``'2024-01-01'`` is read as a date when the feature is a date).
* A feature is named by its name (``aum_avg_3m``, case-insensitive), its Chinese label (``近3月日均AUM``)
  or, for a name that is no identifier, in backticks (`` `高净值客户` ``). Names may not contain the
  Chinese keywords 且 / 或 / 非 unless quoted, so ``年龄>30且性别='M'`` reads as expected.
* Money is written in yuan with at most two decimals and compared exactly in integer fen. Enums compare
  with ``<`` / ``between`` in their declared order (``risk_level >= 'R3'`` is R3, R4 or R5).

NULL semantics
--------------
A predicate on a missing (NULL) feature value is *unknown*; ``not`` of unknown is unknown; ``and`` /
``or`` follow Kleene's three-valued logic (SQL's); a customer matches only when the rule is *true*. So
``not (age > 60)`` does not select customers without an age — write ``or age is null`` for that — and
neither does ``not not (age > 60)``. The compiled SQL relies only on the three-valued logic that DuckDB,
PostgreSQL and Spark implement identically, and wraps the whole rule in ``COALESCE(…, FALSE)`` so that
a tag value is always true or false, never NULL.

Errors
------
Every problem is a ``RuleIssue`` with Chinese and English messages and its place in the text
(1-based line and column, 0-based character offset and length, counted in Unicode code points), and
a ``kind``: ``syntax``, ``too_long``, ``too_deep``, ``unknown_feature``, ``type_mismatch``,
``unknown_value``, ``bad_operator``, ``null_comparison``, ``empty_list``, ``bad_range``,
``money_precision``, ``out_of_range``, ``bad_date``. ``parse_rule`` raises them together as one ``RuleError``;
``check_rule`` returns them for the console's editor.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

import sqlglot.expressions as exp
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from omniloop.core.errors import ValidationFailed
from omniloop.tags.features import FEATURES, Feature, Kind

MAX_LENGTH = 10_000
# Deep enough for any rule a person writes; shallow enough that the recursive passes below (and
# SQLGlot's generator) stay far from Python's recursion limit.
MAX_DEPTH = 64
DIALECTS = ("duckdb", "postgres", "spark")

_WORD_END = r"(?![A-Za-z0-9_])"  # "android" is a name, not the keyword "and" followed by "roid"
_CJK = r"(?:(?![且或非])[\u3400-\u4dbf\u4e00-\u9fff])"
_GRAMMAR = rf"""
?start: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: _NOT not_expr -> negation
         | atom
?atom: _LPAR or_expr _RPAR
     | predicate
?predicate: name COMP_OP value -> compare
     | name _IN value_list -> in_list
     | name _NOT _IN value_list -> not_in_list
     | name _BETWEEN value _AND value -> between
     | name _NOT _BETWEEN value _AND value -> not_between
     | name _IS NULL -> is_null
     | name _IS _NOT NULL -> is_not_null
     | name -> bare
value_list: _LPAR (value (_COMMA value)*)? _RPAR
?value: NUMBER | STRING | TRUE | FALSE | NULL
      | DATE STRING -> date_value
name: NAME | QUOTED_NAME

_AND.2: /and{_WORD_END}/i | "且"
_OR.2: /or{_WORD_END}/i | "或"
_NOT.2: /not{_WORD_END}/i | "非"
_IN.2: /in{_WORD_END}/i
_BETWEEN.2: /between{_WORD_END}/i
_IS.2: /is{_WORD_END}/i
NULL.2: /null{_WORD_END}/i
TRUE.2: /true{_WORD_END}/i
FALSE.2: /false{_WORD_END}/i
DATE.2: /date{_WORD_END}/i
COMP_OP: ">=" | "<=" | "<>" | "!=" | "==" | "=" | "<" | ">"
NUMBER: /-?\d+(\.\d+)?[万亿]?/
STRING: /'(?:[^'\n]|'')*'/ | /"(?:[^"\n]|"")*"/ | /‘[^’\n]*’/ | /“[^”\n]*”/
NAME: /[A-Za-z_][A-Za-z0-9_]*/ | /{_CJK}(?:{_CJK}|[A-Za-z0-9_])*/
QUOTED_NAME: /`[^`\n]+`/
_LPAR: "(" | "（"
_RPAR: ")" | "）"
_COMMA: "," | "，"
%ignore /[ \t\r\n\u3000]+/
"""


@cache
def _parser() -> Lark:
    # LALR with a basic lexer: linear time, no recursion while parsing (so deep nesting cannot overflow
    # the stack here), and keywords are keywords everywhere, which gives clearer syntax errors.
    return Lark(_GRAMMAR, parser="lalr", lexer="basic", propagate_positions=True, maybe_placeholders=False)


# ---- the syntax tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    offset: int
    length: int
    line: int
    column: int


Value = int | Decimal | bool | str | date  # integer / money (yuan) and ratio / boolean / enum / date


@dataclass(frozen=True)
class Compare:
    feature: Feature
    op: str  # = != < <= > >=
    value: Value
    span: Span


@dataclass(frozen=True)
class InList:
    feature: Feature
    values: tuple[Value, ...]
    negated: bool
    span: Span


@dataclass(frozen=True)
class Between:
    feature: Feature
    low: Value
    high: Value
    negated: bool
    span: Span


@dataclass(frozen=True)
class IsNull:
    feature: Feature
    negated: bool
    span: Span


@dataclass(frozen=True)
class IsTrue:
    """A boolean feature on its own: ``has_credit_card``."""

    feature: Feature
    span: Span


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class Not:
    item: Expr
    span: Span


Expr = Compare | InList | Between | IsNull | IsTrue | And | Or | Not
Predicate = Compare | InList | Between | IsNull | IsTrue


@dataclass(frozen=True)
class Rule:
    text: str
    expr: Expr


@dataclass(frozen=True)
class RuleIssue:
    kind: str
    message_zh: str
    message_en: str
    line: int
    column: int
    offset: int
    length: int

    def as_dict(self) -> dict[str, Any]:
        return {"message_zh": self.message_zh, "message_en": self.message_en, "line": self.line,
                "column": self.column, "offset": self.offset, "length": self.length, "kind": self.kind}


class RuleError(ValidationFailed):
    code = "invalid_rule"
    message_zh = "标签规则有误"
    message_en = "Invalid tag rule"

    def __init__(self, issues: list[RuleIssue]) -> None:
        first = issues[0]
        where_zh = f"第{first.line}行第{first.column}列"
        where_en = f"line {first.line}, column {first.column}"
        super().__init__(
            f"标签规则有误（{where_zh}）：{first.message_zh}",
            f"Invalid tag rule ({where_en}): {first.message_en}",
            details={"errors": [issue.as_dict() for issue in issues]},
        )
        self.issues = issues


# ---- public API ---------------------------------------------------------------------------------------


def parse_rule(text: str, *, extra: Mapping[str, Feature] | None = None) -> Rule:
    """Parse and type-check ``text``; ``extra`` adds names a rule may use (other tags, as features)."""
    issues, rule = _analyse(text, extra)
    if issues:
        raise RuleError(issues)
    assert rule is not None
    return rule


def check_rule(text: str, *, extra: Mapping[str, Feature] | None = None) -> list[RuleIssue]:
    """Every problem found in ``text``, for the editor while the operator types; never raises on input."""
    return _analyse(text, extra)[0]


def features_used(rule: Rule) -> set[str]:
    return {node.feature.name for node in _walk(rule.expr) if not isinstance(node, And | Or | Not)}


def to_sqlglot(rule: Rule, *, table: str | None = None, total: bool = True) -> exp.Expression:
    """The rule as a boolean SQL expression over the feature table's storage columns.

    ``total`` wraps it in ``COALESCE(…, FALSE)``: true or false for every row, as a tag value must be.
    Without it the bare three-valued predicate remains, which selects the same rows in a ``WHERE``.
    ``table`` qualifies the columns.
    """
    body = _compile(rule.expr, table)
    return exp.Coalesce(this=body, expressions=[exp.false()]) if total else body


def to_sql(rule: Rule, dialect: str = "duckdb", *, table: str | None = None, total: bool = True) -> str:
    if dialect not in DIALECTS:
        raise ValueError(f"unsupported dialect {dialect!r}; one of {', '.join(DIALECTS)}")
    return to_sqlglot(rule, table=table, total=total).sql(dialect=dialect)


# ---- analysis: parse, depth check, type check ------------------------------------------------------------


def _analyse(text: str, extra: Mapping[str, Feature] | None) -> tuple[list[RuleIssue], Rule | None]:
    if len(text) > MAX_LENGTH:
        return [_issue(text, "too_long", MAX_LENGTH, len(text) - MAX_LENGTH,
                       f"规则过长：最多 {MAX_LENGTH} 个字符，当前 {len(text)} 个",
                       f"The rule is too long: at most {MAX_LENGTH} characters, this one has {len(text)}")], None
    if not text.strip():
        return [_issue(text, "syntax", 0, len(text), "规则为空", "The rule is empty")], None
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        return [_syntax_issue(text, error)], None
    deep = _too_deep(tree)
    if deep is not None:
        return [_issue(text, "too_deep", deep.meta.start_pos, deep.meta.end_pos - deep.meta.start_pos,
                       f"规则嵌套过深：最多 {MAX_DEPTH} 层", f"The rule is nested too deeply: at most {MAX_DEPTH} levels")], None
    checker = _Checker(text, _Names.build(extra))
    expr = checker.expr(tree)
    if checker.issues:
        return checker.issues, None
    return [], Rule(text, expr)


def _too_deep(tree: Tree) -> Tree | None:
    """The first node nested deeper than ``MAX_DEPTH``, found without recursion."""
    stack: list[tuple[Tree, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return node
        if node.data in ("or_expr", "and_expr", "negation"):
            stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return None


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _issue(text: str, kind: str, offset: int, length: int, message_zh: str, message_en: str) -> RuleIssue:
    line, column = _position(text, offset)
    return RuleIssue(kind, message_zh, message_en, line, column, offset, max(length, 0))


# Plain words for the parser's terminal names, in the order they are listed to the user.
_EXPECTED = {
    "NAME": ("特征名", "a feature name"),
    "QUOTED_NAME": ("特征名", "a feature name"),
    "NUMBER": ("数字", "a number"),
    "STRING": ("带引号的文本", "quoted text"),
    "DATE": ("date '…'", "date '…'"),
    "TRUE": ("true", "true"),
    "FALSE": ("false", "false"),
    "NULL": ("null", "null"),
    "COMP_OP": ("比较符（= != < <= > >=）", "a comparison (= != < <= > >=)"),
    "_IN": ("in", "in"),
    "_BETWEEN": ("between", "between"),
    "_IS": ("is", "is"),
    "_NOT": ("not / 非", "not"),
    "_AND": ("and / 且", "and"),
    "_OR": ("or / 或", "or"),
    "_LPAR": ("(", "("),
    "_RPAR": (")", ")"),
    "_COMMA": (",", ","),
    "$END": ("规则结尾", "the end of the rule"),
}


def _expected_words(names: set[str]) -> tuple[str, str]:
    words = [_EXPECTED[n] for n in _EXPECTED if n in names]
    words += [(n, n) for n in sorted(names - set(_EXPECTED))]
    unique = list(dict.fromkeys(words))
    return "、".join(zh for zh, _ in unique), ", ".join(en for _, en in unique)


def _syntax_issue(text: str, error: UnexpectedInput) -> RuleIssue:
    if isinstance(error, UnexpectedCharacters):
        offset, char = error.pos_in_stream, text[error.pos_in_stream]
        if char in "'\"‘“":
            return _issue(text, "syntax", offset, len(text) - offset, "文本缺少结束引号",
                          "The quoted text has no closing quote")
        return _issue(text, "syntax", offset, 1, f"无法识别的字符 '{char}'", f"Unexpected character '{char}'")
    assert isinstance(error, UnexpectedToken)
    token = error.token
    expected_zh, expected_en = _expected_words(set(error.expected))
    if token.type == "$END":
        return _issue(text, "syntax", len(text), 0, f"规则不完整，此处应为：{expected_zh}",
                      f"The rule ends too early; expected {expected_en}")
    return _issue(text, "syntax", token.start_pos, len(token), f"此处不应出现 '{token}'，应为：{expected_zh}",
                  f"Unexpected '{token}'; expected {expected_en}")


@dataclass(frozen=True)
class _Names:
    """Everything a rule may name: features and ``extra`` by name, lower-cased name and Chinese label."""

    exact: dict[str, Feature]
    folded: dict[str, Feature]

    @classmethod
    def build(cls, extra: Mapping[str, Feature] | None) -> _Names:
        extra = dict(extra or {})
        clash = set(extra) & set(FEATURES)
        if clash:
            raise ValueError(f"extra names shadow features: {sorted(clash)}")
        exact = {**FEATURES, **extra}
        folded: dict[str, Feature] = {}
        for feature in exact.values():
            folded.setdefault(feature.name.lower(), feature)
            folded.setdefault(feature.label_zh.lower(), feature)
        return cls(exact, folded)

    def resolve(self, name: str) -> Feature | None:
        return self.exact.get(name) or self.folded.get(name.lower())

    def suggest(self, name: str) -> list[str]:
        hits = difflib.get_close_matches(name.lower(), list(self.folded), n=3, cutoff=0.6)
        return list(dict.fromkeys(self.folded[h].name for h in hits))


_KIND_ZH = {Kind.integer: "整数", Kind.money: "金额", Kind.ratio: "比率", Kind.boolean: "布尔",
            Kind.enum: "枚举", Kind.date: "日期"}
_ORDERING = {"<", "<=", ">", ">="}
_MULTIPLIER = {"万": Decimal(10_000), "亿": Decimal(100_000_000)}
# Beyond these a literal would overflow a BIGINT column (money: once in fen) on some engine.
_LIMIT = {Kind.integer: Decimal(2**63), Kind.money: Decimal(10**16), Kind.ratio: Decimal(10**15)}


@dataclass(frozen=True)
class _Literal:
    kind: str  # number / string / boolean / null / date
    value: Any
    text: str
    span: Span


class _Checker:
    """Turns the Lark tree into the typed tree, collecting every issue instead of stopping at the first."""

    def __init__(self, text: str, names: _Names) -> None:
        self.text = text
        self.names = names
        self.issues: list[RuleIssue] = []

    def span(self, item: Tree | Token) -> Span:
        if isinstance(item, Token):
            start, end = item.start_pos, item.end_pos
        else:
            start, end = item.meta.start_pos, item.meta.end_pos
        line, column = _position(self.text, start)
        return Span(start, end - start, line, column)

    def report(self, kind: str, span: Span, message_zh: str, message_en: str) -> None:
        self.issues.append(RuleIssue(kind, message_zh, message_en, span.line, span.column, span.offset, span.length))

    # -- boolean structure --------------------------------------------------------------------------

    def expr(self, tree: Tree) -> Expr:
        span = self.span(tree)
        match tree.data:
            case "or_expr":
                return Or(tuple(self.expr(child) for child in tree.children), span)
            case "and_expr":
                return And(tuple(self.expr(child) for child in tree.children), span)
            case "negation":
                return Not(self.expr(tree.children[0]), span)
            case _:
                return self.predicate(tree, span)

    # -- predicates ---------------------------------------------------------------------------------

    def predicate(self, tree: Tree, span: Span) -> Predicate:
        name_tree, *rest = tree.children
        feature = self.feature(name_tree)
        kind = tree.data
        if kind == "bare":
            if feature is not None and feature.kind is not Kind.boolean:
                self.report("type_mismatch", span,
                            f"{feature.name} 是{_KIND_ZH[feature.kind]}特征，不能单独作为条件，请写出比较（如 {feature.name} > …）",
                            f"{feature.name} is a {feature.kind.value} feature, not a condition on its own; "
                            f"compare it (e.g. {feature.name} > …)")
            return IsTrue(feature or _UNKNOWN, span)
        if kind in ("is_null", "is_not_null"):
            return IsNull(feature or _UNKNOWN, kind == "is_not_null", span)
        if kind == "compare":
            op_token, value_tree = rest
            op = {"<>": "!=", "==": "="}.get(str(op_token), str(op_token))
            literal = self.literal(value_tree)
            value = self.value(feature, literal, op=op, op_span=self.span(op_token)) if feature else None
            if (feature is not None and feature.kind is Kind.enum and op in _ORDERING and value is not None
                    and not _enum_range(feature, op, value)):
                self.report("bad_range", span, f"{feature.name} 没有满足 {op} '{value}' 的取值",
                                f"No value of {feature.name} is {op} '{value}'")
            return Compare(feature or _UNKNOWN, op, value, span)
        if kind in ("in_list", "not_in_list"):
            (list_tree,) = rest
            literals = [self.literal(child) for child in list_tree.children]
            if not literals:
                self.report("empty_list", span, "in 后的列表为空，至少需要一个值", "The list after 'in' is empty; give at least one value")
            values = tuple(self.value(feature, lit, op="in") for lit in literals) if feature else ()
            return InList(feature or _UNKNOWN, values, kind == "not_in_list", span)
        assert kind in ("between", "not_between"), kind
        low_lit, high_lit = (self.literal(child) for child in rest)
        low = self.value(feature, low_lit, op="between") if feature else None
        high = self.value(feature, high_lit, op="between") if feature else None
        if feature is not None and low is not None and high is not None and _order(feature, low) > _order(feature, high):
            self.report("bad_range", span, f"between 的下限 {low_lit.text} 大于上限 {high_lit.text}",
                        f"The lower bound {low_lit.text} of between is above the upper bound {high_lit.text}")
        return Between(feature or _UNKNOWN, low, high, kind == "not_between", span)

    def feature(self, name_tree: Tree) -> Feature | None:
        token = name_tree.children[0]
        name = str(token)[1:-1] if token.type == "QUOTED_NAME" else str(token)
        feature = self.names.resolve(name)
        if feature is None:
            suggestions = self.names.suggest(name)
            if suggestions:
                zh = f"未知特征 '{name}'，是否想输入 {' / '.join(suggestions)}？"
                en = f"Unknown feature '{name}'; did you mean {' / '.join(suggestions)}?"
            else:
                zh, en = f"未知特征 '{name}'", f"Unknown feature '{name}'"
            self.report("unknown_feature", self.span(token), zh, en)
        return feature

    def literal(self, tree: Tree | Token) -> _Literal:
        span = self.span(tree)
        if isinstance(tree, Tree):  # date '…'
            raw = str(tree.children[1])
            return _Literal("date", _unquote(raw), self.text[span.offset:span.offset + span.length], span)
        raw = str(tree)
        match tree.type:
            case "NUMBER":
                multiplier = _MULTIPLIER.get(raw[-1], Decimal(1))
                digits = raw[:-1] if raw[-1] in _MULTIPLIER else raw
                return _Literal("number", Decimal(digits) * multiplier, raw, span)
            case "STRING":
                return _Literal("string", _unquote(raw), raw, span)
            case "TRUE" | "FALSE":
                return _Literal("boolean", tree.type == "TRUE", raw, span)
            case _:
                return _Literal("null", None, raw, span)

    # -- types --------------------------------------------------------------------------------------

    def mismatch(self, feature: Feature, literal: _Literal, expected_zh: str, expected_en: str) -> None:
        self.report("type_mismatch", literal.span,
                    f"{feature.name} 是{_KIND_ZH[feature.kind]}特征，{literal.text} 不是{expected_zh}",
                    f"{feature.name} is a {feature.kind.value} feature; {literal.text} is not {expected_en}")

    def value(self, feature: Feature, literal: _Literal, *, op: str, op_span: Span | None = None) -> Value | None:
        """``literal`` as a value of ``feature``'s kind, or None after reporting why it is not one."""
        if literal.kind == "null":
            self.report("null_comparison", literal.span,
                        f"不能用比较判断空值，请写 {feature.name} is null 或 is not null",
                        f"Nothing equals null; write {feature.name} is null or is not null")
            return None
        kind = feature.kind
        if kind is Kind.boolean and op in _ORDERING | {"between"}:
            self.report("bad_operator", op_span or literal.span, f"布尔特征 {feature.name} 只能用 = 或 != 比较",
                        f"The boolean feature {feature.name} compares only with = or !=")
            return None
        if kind in (Kind.integer, Kind.money, Kind.ratio):
            if literal.kind != "number":
                self.mismatch(feature, literal, "数字", "a number")
                return None
            number: Decimal = literal.value
            if abs(number) >= _LIMIT[kind]:
                self.report("out_of_range", literal.span, f"数值 {literal.text} 超出 {feature.name} 的范围",
                            f"{literal.text} is out of range for {feature.name}")
                return None
            if kind is Kind.integer:
                if number != number.to_integral_value():
                    self.mismatch(feature, literal, "整数", "an integer")
                    return None
                return int(number)
            if kind is Kind.money and number.as_tuple().exponent < -2 and number != number.quantize(Decimal("0.01")):
                self.report("money_precision", literal.span, f"金额最多两位小数（到分）：{literal.text}",
                            f"Money has at most two decimals (fen): {literal.text}")
                return None
            return number
        if kind is Kind.boolean:
            if literal.kind != "boolean":
                self.mismatch(feature, literal, "true 或 false", "true or false")
                return None
            return literal.value
        if kind is Kind.enum:
            if literal.kind != "string":
                self.mismatch(feature, literal, "带引号的取值", "a quoted value")
                return None
            if literal.value not in feature.values:
                allowed = ", ".join(feature.values)
                near = [v for v in feature.values if v.lower() == literal.value.lower()] or \
                    difflib.get_close_matches(literal.value, feature.values, n=1)
                hint_zh = f"，是否想输入 '{near[0]}'？" if near else ""
                hint_en = f"; did you mean '{near[0]}'?" if near else ""
                self.report("unknown_value", literal.span,
                            f"{feature.name} 没有取值 {literal.text}，可选：{'、'.join(feature.values)}{hint_zh}",
                            f"{feature.name} has no value {literal.text}; allowed: {allowed}{hint_en}")
                return None
            return literal.value
        assert kind is Kind.date
        if literal.kind not in ("string", "date"):
            self.mismatch(feature, literal, "日期", "a date")
            return None
        try:
            if len(literal.value) != 10:
                raise ValueError(literal.value)
            return date.fromisoformat(literal.value)
        except ValueError:
            self.report("bad_date", literal.span, f"无效日期 {literal.text}，格式为 'YYYY-MM-DD'",
                        f"Invalid date {literal.text}; write 'YYYY-MM-DD'")
            return None


# Stands in for an unknown name so the rest of the rule is still checked; never compiled.
_UNKNOWN = Feature("?", Kind.integer, "?", "?")


def _unquote(raw: str) -> str:
    quote = raw[0]
    body = raw[1:-1]
    return body.replace(quote * 2, quote) if quote in "'\"" else body


def _order(feature: Feature, value: Value) -> Any:
    return feature.values.index(value) if feature.kind is Kind.enum else value


def _enum_range(feature: Feature, op: str, value: Value) -> tuple[str, ...]:
    """The enum values ``op value`` selects, in declared order."""
    at = feature.values.index(value)
    indexes = {"<": range(at), "<=": range(at + 1), ">": range(at + 1, len(feature.values)),
               ">=": range(at, len(feature.values))}[op]
    return tuple(feature.values[i] for i in indexes)


def _walk(expr: Expr) -> Iterator[Expr]:
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, And | Or):
            stack.extend(node.items)
        elif isinstance(node, Not):
            stack.append(node.item)


# ---- compilation ------------------------------------------------------------------------------------------


def _sql_value(feature: Feature, value: Value) -> exp.Expression:
    match feature.kind:
        case Kind.money:
            fen = value * 100  # at most two decimals, checked when parsed: exact
            return exp.Literal.number(int(fen))
        case Kind.integer:
            return exp.Literal.number(value)
        case Kind.ratio:
            return exp.Literal.number(format(value, "f"))
        case Kind.boolean:
            return exp.true() if value else exp.false()
        case Kind.enum:
            return exp.Literal.string(value)
        case Kind.date:
            return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
    raise AssertionError(feature.kind)


_COMPARISONS = {"=": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}


def _paren(node: exp.Expression) -> exp.Expression:
    # BETWEEN's own AND reads ambiguously next to a logical AND, so it gets parentheses too.
    return exp.Paren(this=node) if isinstance(node, exp.Connector | exp.Between) else node


def _compile(expr: Expr, table: str | None) -> exp.Expression:
    match expr:
        case And(items=items):
            return exp.and_(*(_paren(_compile(item, table)) for item in items), wrap=False)
        case Or(items=items):
            return exp.or_(*(_paren(_compile(item, table)) for item in items), wrap=False)
        case Not(item=item):
            return exp.Not(this=exp.Paren(this=_compile(item, table)))
    feature = expr.feature
    column = exp.column(feature.column, table=table, quoted=True)
    match expr:
        case IsTrue():
            return column
        case IsNull(negated=negated):
            test = exp.Is(this=column, expression=exp.Null())
            return exp.Not(this=test) if negated else test
        case Compare(op=op, value=value) if feature.kind is Kind.enum and op in _ORDERING:
            return _in(column, feature, _enum_range(feature, op, value), negated=False)
        case Compare(op=op, value=value):
            return _COMPARISONS[op](this=column, expression=_sql_value(feature, value))
        case InList(values=values, negated=negated):
            return _in(column, feature, values, negated=negated)
        case Between(low=low, high=high, negated=negated) if feature.kind is Kind.enum:
            lo, hi = feature.values.index(low), feature.values.index(high)
            return _in(column, feature, feature.values[lo:hi + 1], negated=negated)
        case Between(low=low, high=high, negated=negated):
            test = exp.Between(this=column, low=_sql_value(feature, low), high=_sql_value(feature, high))
            return exp.Not(this=exp.Paren(this=test)) if negated else test
    raise AssertionError(expr)


def _in(column: exp.Expression, feature: Feature, values: tuple[Value, ...], *, negated: bool) -> exp.Expression:
    test = exp.In(this=column, expressions=[_sql_value(feature, v) for v in dict.fromkeys(values)])
    return exp.Not(this=exp.Paren(this=test)) if negated else test


__all__ = [
    "DIALECTS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "And",
    "Between",
    "Compare",
    "Expr",
    "InList",
    "IsNull",
    "IsTrue",
    "Not",
    "Or",
    "Rule",
    "RuleError",
    "RuleIssue",
    "Span",
    "check_rule",
    "features_used",
    "parse_rule",
    "to_sql",
    "to_sqlglot",
]
