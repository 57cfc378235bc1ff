"""Tag rules: parsing, type checking, error positions, SQL for three engines, and agreement with a
reference evaluator written here independently of the compiler."""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pytest
import sqlglot
from sqlalchemy import text as sql_text

from omniloop.core.errors import ValidationFailed
from omniloop.tags.features import FEATURES, Feature, Kind
from omniloop.tags.rules import (
    DIALECTS,
    MAX_DEPTH,
    MAX_LENGTH,
    And,
    Between,
    Compare,
    InList,
    IsNull,
    IsTrue,
    Not,
    Or,
    RuleError,
    check_rule,
    features_used,
    parse_rule,
    to_sql,
    to_sqlglot,
)


def only_issue(text: str, **kw):
    issues = check_rule(text, **kw)
    assert len(issues) == 1, issues
    return issues[0]


# ---- parsing ---------------------------------------------------------------------------------------------


def test_parse_example_from_the_issue():
    rule = parse_rule("aum_avg_3m >= 500000 and risk_level in ('R3','R4')")
    assert isinstance(rule.expr, And)
    money, risk = rule.expr.items
    assert money == Compare(FEATURES["aum_avg_3m"], ">=", Decimal(500000), money.span)
    assert (money.span.offset, money.span.length, money.span.line, money.span.column) == (0, 20, 1, 1)
    assert isinstance(risk, InList) and risk.values == ("R3", "R4") and not risk.negated
    assert features_used(rule) == {"aum_avg_3m", "risk_level"}
    assert to_sql(rule, "duckdb") == "COALESCE(\"aum_avg_3m_fen\" >= 50000000 AND \"risk_level\" IN ('R3', 'R4'), FALSE)"


def test_precedence_not_binds_tighter_than_and_tighter_than_or():
    rule = parse_rule("not has_credit_card and age > 30 or payroll_flag")
    assert isinstance(rule.expr, Or)
    left, right = rule.expr.items
    assert isinstance(left, And) and isinstance(left.items[0], Not) and isinstance(right, IsTrue)
    assert isinstance(left.items[0].item, IsTrue)
    null_test = parse_rule("age IS NOT NULL").expr
    assert null_test == IsNull(FEATURES["age"], True, null_test.span)


def test_chinese_keywords_case_insensitive_keywords_and_chinese_labels():
    english = parse_rule("age > 30 AND gender = 'M' Or NOT has_credit_card")
    chinese = parse_rule("年龄>30且性别='M'或非持有信用卡")
    assert to_sql(english, "duckdb") == to_sql(chinese, "duckdb")
    assert features_used(chinese) == {"age", "gender", "has_credit_card"}
    # Full-width brackets and comma, as a Chinese input method types them.
    assert to_sql(parse_rule("risk_level in （'R1'，'R2'）"), "postgres") == \
        "COALESCE(\"risk_level\" IN ('R1', 'R2'), FALSE)"
    # A keyword's letters inside a name do not split it.
    assert check_rule("android > 1")[0].kind == "unknown_feature"


def test_literals_dates_units_and_quoting():
    rule = parse_rule("first_account_date between date '2020-01-01' and '2020-12-31' and aum >= 1.5万 and aum < 2亿")
    between, low, high = rule.expr.items
    assert isinstance(between, Between) and (between.low, between.high) == (date(2020, 1, 1), date(2020, 12, 31))
    assert (low.op, low.value, high.op, high.value) == (">=", Decimal(15_000), "<", Decimal(200_000_000))
    assert to_sql(rule, "duckdb") == (
        "COALESCE((\"first_account_date\" BETWEEN CAST('2020-01-01' AS DATE) AND CAST('2020-12-31' AS DATE))"
        " AND \"aum_fen\" >= 1500000 AND \"aum_fen\" < 20000000000, FALSE)")
    assert parse_rule('gender = "F"').expr.value == "F"
    assert parse_rule("`近3月日均AUM` > 0.01").expr == Compare(FEATURES["aum_avg_3m"], ">", Decimal("0.01"),
                                                             parse_rule("`近3月日均AUM` > 0.01").expr.span)
    assert to_sql(parse_rule("aum_avg_3m > 0.01"), "duckdb") == 'COALESCE("aum_avg_3m_fen" > 1, FALSE)'
    assert to_sql(parse_rule("aum = 100.10"), "duckdb") == 'COALESCE("aum_fen" = 10010, FALSE)'
    assert to_sql(parse_rule("aum_change_3m < -0.25"), "spark") == "COALESCE(`aum_change_3m` < -0.25, FALSE)"


def test_enum_order_comparisons_expand_to_value_lists():
    assert to_sql(parse_rule("risk_level >= 'R3'"), "duckdb") == \
        "COALESCE(\"risk_level\" IN ('R3', 'R4', 'R5'), FALSE)"
    assert to_sql(parse_rule("lifecycle_stage between 'activate' and 'retain'"), "duckdb") == \
        "COALESCE(\"lifecycle_stage\" IN ('activate', 'grow', 'retain'), FALSE)"


def test_extra_names_for_tags_on_tags():
    extra = {"high_value": Feature("high_value", Kind.boolean, "高价值客户", "High value"),
             "wealth_tier": Feature("wealth_tier", Kind.enum, "财富等级", "Wealth tier", ("A", "B", "C"))}
    rule = parse_rule("high_value and `财富等级` in ('A', 'B') and age < 40", extra=extra)
    assert features_used(rule) == {"high_value", "wealth_tier", "age"}
    assert to_sql(rule, "duckdb", table="f") == \
        "COALESCE(\"f\".\"high_value\" AND \"f\".\"wealth_tier\" IN ('A', 'B') AND \"f\".\"age\" < 40, FALSE)"
    assert only_issue("high_value").kind == "unknown_feature"  # not without the extra names
    with pytest.raises(ValueError):
        parse_rule("age > 1", extra={"age": FEATURES["age"]})


# ---- errors, each with its position ------------------------------------------------------------------------


def test_rule_error_is_a_validation_error_with_all_issues():
    with pytest.raises(RuleError) as caught:
        parse_rule("aum_avg3m > 1 and risk_level = 'R9'")
    error = caught.value
    assert isinstance(error, ValidationFailed)
    assert (error.code, error.status) == ("invalid_rule", 422)
    errors = error.details["errors"]
    assert [e["kind"] for e in errors] == ["unknown_feature", "unknown_value"]
    assert set(errors[0]) == {"message_zh", "message_en", "line", "column", "offset", "length", "kind"}
    assert "第1行第1列" in error.message_zh and "line 1, column 1" in error.message_en


@pytest.mark.parametrize("text, kind, offset, length, zh, en", [
    # syntax: expected tokens in plain words
    ("age 30", "syntax", 4, 2, "应为", "expected a comparison"),
    ("age >", "syntax", 5, 0, "规则不完整", "a number"),
    ("age > 1 and", "syntax", 11, 0, "特征名", "a feature name"),
    ("(age > 1", "syntax", 8, 0, "规则不完整，此处应为：)", "ends too early; expected )"),
    ("age > 1)", "syntax", 7, 1, "')'", "the end of the rule"),
    ("age $ 3", "syntax", 4, 1, "无法识别的字符", "Unexpected character '$'"),
    ("gender = 'M", "syntax", 9, 2, "结束引号", "no closing quote"),
    ("   ", "syntax", 0, 3, "规则为空", "empty"),
    ("and age > 1", "syntax", 0, 3, "此处不应出现 'and'", "Unexpected 'and'"),
    # names
    ("aum_avg3m > 1", "unknown_feature", 0, 9, "是否想输入 aum_avg_3m", "did you mean aum_avg_3m"),
    ("zzzz > 1", "unknown_feature", 0, 4, "未知特征 'zzzz'", "Unknown feature 'zzzz'"),
    # types
    ("age > 'old'", "type_mismatch", 6, 5, "整数特征", "not a number"),
    ("age = 30.5", "type_mismatch", 6, 4, "不是整数", "not an integer"),
    ("aum >= 'rich'", "type_mismatch", 7, 6, "金额特征", "money feature"),
    ("has_credit_card = 1", "type_mismatch", 18, 1, "布尔特征", "not true or false"),
    ("gender = 1", "type_mismatch", 9, 1, "枚举特征", "not a quoted value"),
    ("first_account_date > 5", "type_mismatch", 21, 1, "日期特征", "not a date"),
    ("age", "type_mismatch", 0, 3, "不能单独作为条件", "not a condition on its own"),
    ("risk_level = 'R9'", "unknown_value", 13, 4, "可选：R1、R2、R3、R4、R5", "allowed: R1, R2, R3, R4, R5"),
    ("risk_level in ('R1', 'r2')", "unknown_value", 21, 4, "是否想输入 'R2'", "did you mean 'R2'"),
    ("has_credit_card > false", "bad_operator", 16, 1, "只能用 = 或 !=", "only with = or !="),
    ("age = null", "null_comparison", 6, 4, "is null", "is null"),
    ("aum > 1.005", "money_precision", 6, 5, "两位小数", "two decimals"),
    ("age > 99999999999999999999", "out_of_range", 6, 20, "超出", "out of range"),
    ("first_account_date = '2024-02-30'", "bad_date", 21, 12, "无效日期", "Invalid date"),
    # ranges and lists
    ("age between 60 and 18", "bad_range", 0, 21, "下限 60 大于上限 18", "lower bound 60"),
    ("risk_level between 'R4' and 'R2'", "bad_range", 0, 32, "下限", "above the upper bound"),
    ("risk_level > 'R5'", "bad_range", 0, 17, "没有满足", "No value of risk_level"),
    ("gender in ()", "empty_list", 0, 12, "列表为空", "is empty"),
])
def test_each_error_kind_with_its_position(text, kind, offset, length, zh, en):
    issue = only_issue(text)
    assert (issue.kind, issue.offset, issue.length) == (kind, offset, length), issue
    assert zh in issue.message_zh and en in issue.message_en, issue
    with pytest.raises(RuleError):
        parse_rule(text)


def test_line_and_column_on_later_lines_and_after_chinese_text():
    issue = only_issue("年龄 > 30\n  且 aum_avg3m > 1")
    assert (issue.line, issue.column, issue.offset, issue.length) == (2, 5, 12, 9)
    issue = only_issue("age > 1 and\n\n   gender = 'X'")
    assert (issue.kind, issue.line, issue.column) == ("unknown_value", 3, 13)


def test_check_rule_returns_every_issue_it_finds():
    issues = check_rule("agee > 1 and gender = 'X' and aum between 9 and 1 or risk_level in ()")
    assert [i.kind for i in issues] == ["unknown_feature", "unknown_value", "bad_range", "empty_list"]
    assert check_rule("age > 1") == []


def test_too_long_input_is_rejected_without_parsing():
    text = "age > 1 or " * 1000 + "age > 2"
    issue = only_issue(text)
    assert (issue.kind, issue.offset, issue.length) == ("too_long", MAX_LENGTH, len(text) - MAX_LENGTH)


@pytest.mark.parametrize("text", [
    "not " * 2400 + "has_credit_card",
    "(" * 2900 + "age > 1" + " and has_credit_card)" * 200 + ")" * 2700,
    "(has_credit_card or " * 450 + "age > 1" + ")" * 450,
])
def test_deep_nesting_is_an_issue_not_a_recursion_error(text):
    assert len(text) <= MAX_LENGTH
    issue = only_issue(text)
    assert issue.kind == "too_deep" and "64" in issue.message_en


def test_nesting_up_to_the_limit_compiles_for_every_dialect():
    depth = MAX_DEPTH // 2 - 1  # each level is an "or" inside an "and"
    text = "(has_credit_card or (age > 1 and " * depth + "payroll_flag" + "))" * depth
    rule = parse_rule(text)
    assert {len(to_sql(rule, dialect)) for dialect in DIALECTS} == {len(to_sql(rule, "duckdb"))}
    con = duckdb.connect()
    con.execute("create table f as select true as has_credit_card, 5 as age, false as payroll_flag")
    assert con.execute(f"select {to_sql(rule, 'duckdb')} from f").fetchone() == (True,)
    assert to_sql(parse_rule("(((((age > 1)))))"), "duckdb") == 'COALESCE("age" > 1, FALSE)'


def test_unknown_dialect_is_refused():
    with pytest.raises(ValueError):
        to_sql(parse_rule("age > 1"), "oracle")


# ---- SQL for three engines ------------------------------------------------------------------------------------

RENDERED = {
    "duckdb": ("COALESCE((NOT (\"age\" > 60) OR \"age\" IS NULL) AND NOT (\"risk_level\" IN ('R4', 'R5')) "
               "AND NOT (\"first_account_date\" BETWEEN CAST('2020-01-01' AS DATE) AND CAST('2020-12-31' AS DATE)) "
               "AND \"has_credit_card\" = TRUE, FALSE)"),
    "postgres": ("COALESCE((NOT (\"age\" > 60) OR \"age\" IS NULL) AND NOT (\"risk_level\" IN ('R4', 'R5')) "
                 "AND NOT (\"first_account_date\" BETWEEN CAST('2020-01-01' AS DATE) AND CAST('2020-12-31' AS DATE)) "
                 "AND \"has_credit_card\" = TRUE, FALSE)"),
    "spark": ("COALESCE((NOT (`age` > 60) OR `age` IS NULL) AND NOT (`risk_level` IN ('R4', 'R5')) "
              "AND NOT (`first_account_date` BETWEEN CAST('2020-01-01' AS DATE) AND CAST('2020-12-31' AS DATE)) "
              "AND `has_credit_card` = TRUE, FALSE)"),
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_sql_for_each_dialect(dialect):
    rule = parse_rule("(not (age > 60) or age is null) and risk_level not in ('R4', 'R5') "
                      "and first_account_date not between '2020-01-01' and '2020-12-31' and has_credit_card = true")
    assert to_sql(rule, dialect) == RENDERED[dialect]
    # The text is what that dialect's own SQLGlot reader and writer produce: it reads back unchanged.
    assert sqlglot.parse_one(RENDERED[dialect], read=dialect).sql(dialect) == RENDERED[dialect]
    assert to_sql(rule, dialect, total=False) == RENDERED[dialect][len("COALESCE("):-len(", FALSE)")]
    assert isinstance(to_sqlglot(rule), sqlglot.exp.Coalesce)
    assert to_sqlglot(rule, total=False).sql(dialect) == to_sql(rule, dialect, total=False)


def test_null_semantics_on_duckdb():
    con = duckdb.connect()
    con.execute("create table f as select * from (values (1, 70), (2, 30), (3, NULL)) t(cid, age)")

    def select(rule_text: str) -> set[int]:
        rule = parse_rule(rule_text)
        where = {row[0] for row in con.execute(f"select cid from f where {to_sql(rule, 'duckdb', total=False)}").fetchall()}
        value = {row[0] for row in con.execute(f"select cid, {to_sql(rule, 'duckdb')} as v from f").fetchall()
                 if row[1] is True}
        nulls = con.execute(f"select count(*) from f where ({to_sql(rule, 'duckdb')}) is null").fetchone()[0]
        assert where == value and nulls == 0
        return where

    assert select("age > 60") == {1}
    assert select("not (age > 60)") == {2}  # no age: not selected
    assert select("not not (age > 60)") == {1}
    assert select("not (age > 60) or age is null") == {2, 3}
    assert select("age not in (70)") == {2}
    assert select("age not between 60 and 80") == {2}
    assert select("not (age > 60 and age < 10)") == {1, 2}


# ---- agreement with an independent reference evaluator -------------------------------------------------------

# The features the random rules use, one or more of each kind.
AGREEMENT_FEATURES = ["age", "months_since_login", "aum", "aum_avg_3m", "aum_change_3m", "has_credit_card",
                      "payroll_flag", "risk_level", "lifecycle_stage", "gender", "first_account_date"]


def random_rows(rng: random.Random, n: int) -> list[dict[str, Any]]:
    rows = []
    for cid in range(n):
        row: dict[str, Any] = {"cid": cid}
        for name in AGREEMENT_FEATURES:
            f = FEATURES[name]
            if rng.random() < 0.15:  # every column gets NULLs, nullable in the schema or not
                row[f.column] = None
                continue
            row[f.column] = {
                Kind.integer: lambda: rng.randint(0, 90),
                Kind.money: lambda: rng.choice([0, 100, 5_000_000, rng.randint(0, 100_000_000)]),
                Kind.ratio: lambda: round(rng.uniform(-1, 1), 2),
                Kind.boolean: lambda: rng.random() < 0.5,
                Kind.enum: lambda f=f: rng.choice(f.values),
                Kind.date: lambda: date(2015, 1, 1) + timedelta(days=rng.randint(0, 3650)),
            }[f.kind]()
        rows.append(row)
    return rows


@dataclass
class Gen:
    """A random rule as text plus a reference evaluator built alongside it (Kleene three-valued logic)."""

    rng: random.Random

    def kw(self, word: str) -> str:
        chinese = {"and": "且", "or": "或", "not": "非"}
        if word in chinese and self.rng.random() < 0.2:
            return chinese[word]
        return self.rng.choice([word, word.upper(), word.capitalize()])

    def literal(self, f: Feature) -> tuple[str, Any]:
        """(text, comparable value) for a literal of f's kind."""
        r = self.rng
        if f.kind is Kind.integer:
            v = r.randint(0, 90)
            return str(v), v
        if f.kind is Kind.money:
            fen = r.choice([0, 100, 5_000_000, r.randint(0, 100_000_000)])
            return str(Decimal(fen) / 100), fen
        if f.kind is Kind.ratio:
            v = round(r.uniform(-1, 1), 2)
            return f"{v:.2f}", v
        if f.kind is Kind.boolean:
            v = r.random() < 0.5
            return ("true" if v else "false"), v
        if f.kind is Kind.enum:
            v = r.choice(f.values)
            return f"'{v}'", f.values.index(v)
        v = date(2015, 1, 1) + timedelta(days=r.randint(0, 3650))
        return (f"date '{v}'" if r.random() < 0.5 else f"'{v}'"), v

    @staticmethod
    def key(f: Feature, raw: Any) -> Any:
        """Row value in the same comparable domain as literal()'s second element."""
        if raw is None:
            return None
        return f.values.index(raw) if f.kind is Kind.enum else raw

    def predicate(self):
        r = self.rng
        f = FEATURES[r.choice(AGREEMENT_FEATURES)]
        col = f.column
        choice = r.random()
        if f.kind is Kind.boolean and choice < 0.3:
            return f.name, lambda row: row[col]
        if choice < 0.15:
            negated = r.random() < 0.5
            text = f"{f.name} {self.kw('is')} {self.kw('not') + ' ' if negated else ''}{self.kw('null')}"
            return text, lambda row: (row[col] is not None) if negated else (row[col] is None)
        if choice < 0.35:
            items = [self.literal(f) for _ in range(r.randint(1, 3))]
            negated = r.random() < 0.4
            text = f"{f.name} {self.kw('not') + ' ' if negated else ''}{self.kw('in')} ({', '.join(t for t, _ in items)})"
            values = {v for _, v in items}

            def in_list(row):
                v = self.key(f, row[col])
                return None if v is None else ((v in values) != negated)
            return text, in_list
        if choice < 0.5 and f.kind is not Kind.boolean:
            (lt, lv), (ht, hv) = sorted([self.literal(f), self.literal(f)], key=lambda item: item[1])
            negated = r.random() < 0.4
            text = f"{f.name} {self.kw('not') + ' ' if negated else ''}{self.kw('between')} {lt} {self.kw('and')} {ht}"

            def between(row):
                v = self.key(f, row[col])
                return None if v is None else ((lv <= v <= hv) != negated)
            return text, between
        ops = ["=", "!=", "<>"] if f.kind is Kind.boolean else ["=", "!=", "<>", "<", "<=", ">", ">="]
        op = r.choice(ops)
        lit_text, lit = self.literal(f)
        if f.kind is Kind.enum and op in ("<", ">") and lit == (0 if op == "<" else len(f.values) - 1):
            op = op + "="  # "< first value" selects nothing and is rightly refused; keep the rule valid
        compare = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<>": lambda a, b: a != b,
                   "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
                   ">=": lambda a, b: a >= b}[op]

        def comparison(row):
            v = self.key(f, row[col])
            return None if v is None else compare(v, lit)
        return f"{f.name} {op} {lit_text}", comparison

    def expr(self, depth: int = 0):
        r = self.rng
        if depth >= 3 or r.random() < 0.3:
            return self.predicate()
        kind = r.choice(["and", "or", "not"])
        if kind == "not":
            text, ev = self.expr(depth + 1)
            return f"{self.kw('not')} ({text})", lambda row: None if ev(row) is None else not ev(row)
        parts = [self.expr(depth + 1) for _ in range(r.randint(2, 3))]
        text = f" {self.kw(kind)} ".join(f"({t})" for t, _ in parts)
        if kind == "and":
            def ev(row):
                values = [e(row) for _, e in parts]
                return False if False in values else (None if None in values else True)
        else:
            def ev(row):
                values = [e(row) for _, e in parts]
                return True if True in values else (None if None in values else False)
        return text, ev


def generated_rules(seed: int, count: int):
    gen = Gen(random.Random(seed))
    return [gen.expr() for _ in range(count)]


@pytest.fixture(scope="module")
def agreement_rows():
    return random_rows(random.Random(20240601), 300)


def _columns():
    return ["cid"] + [FEATURES[n].column for n in AGREEMENT_FEATURES]


_DUCKDB_TYPES = {Kind.integer: "BIGINT", Kind.money: "BIGINT", Kind.ratio: "DOUBLE", Kind.boolean: "BOOLEAN",
                 Kind.enum: "VARCHAR", Kind.date: "DATE"}
_POSTGRES_TYPES = {**_DUCKDB_TYPES, Kind.ratio: "DOUBLE PRECISION", Kind.enum: "TEXT"}


def _ddl(types: dict[Kind, str]) -> str:
    return ", ".join(["cid BIGINT"] + [f"{FEATURES[n].column} {types[FEATURES[n].kind]}" for n in AGREEMENT_FEATURES])


def _check_agreement(rows, evaluate, dialect: str, *, count: int = 50) -> None:
    """``evaluate(sql_predicates)`` returns, for each, the cids it selects on the engine under test."""
    rules = generated_rules(7, count)
    compiled = [to_sql(parse_rule(text), dialect) for text, _ in rules]
    selected = evaluate(compiled)
    nontrivial = 0
    for (text, reference), sql, got in zip(rules, compiled, selected, strict=True):
        expected = {row["cid"] for row in rows if reference(row) is True}
        assert got == expected, f"{dialect}: {text}\n{sql}"
        nontrivial += 0 < len(expected) < len(rows)
    # The comparison means something only if most rules select some rows but not all.
    assert nontrivial >= count * 0.6, nontrivial


def test_compiled_duckdb_sql_agrees_with_reference_evaluator(agreement_rows):
    con = duckdb.connect()
    con.execute(f"create table features ({_ddl(_DUCKDB_TYPES)})")
    columns = _columns()
    con.executemany(f"insert into features values ({', '.join('?' * len(columns))})",
                    [[row[c] for c in columns] for row in agreement_rows])

    def evaluate(predicates: list[str]) -> list[set[int]]:
        return [{cid for (cid,) in con.execute(f"select cid from features where {p}").fetchall()} for p in predicates]
    _check_agreement(agreement_rows, evaluate, "duckdb")


@pytest.mark.postgres_only
def test_compiled_postgres_sql_agrees_with_reference_evaluator(db, agreement_rows):
    columns = _columns()
    db.execute(sql_text(f"create temporary table rule_features ({_ddl(_POSTGRES_TYPES)})"))
    db.execute(sql_text(f"insert into rule_features values ({', '.join(':' + c for c in columns)})"),
               [{c: row[c] for c in columns} for row in agreement_rows])

    def evaluate(predicates: list[str]) -> list[set[int]]:
        return [{cid for (cid,) in db.execute(sql_text(f"select cid from rule_features where {p}"))}
                for p in predicates]
    try:
        _check_agreement(agreement_rows, evaluate, "postgres")
    finally:
        db.rollback()


@pytest.mark.slow  # a local Spark session takes ~30 s to start on a small machine
def test_compiled_spark_sql_agrees_with_reference_evaluator(agreement_rows):
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime")
    from pyspark.sql import SparkSession
    from pyspark.sql import types as T

    spark_types = {Kind.integer: T.LongType(), Kind.money: T.LongType(), Kind.ratio: T.DoubleType(),
                   Kind.boolean: T.BooleanType(), Kind.enum: T.StringType(), Kind.date: T.DateType()}
    schema = T.StructType([T.StructField("cid", T.LongType())] + [
        T.StructField(FEATURES[n].column, spark_types[FEATURES[n].kind]) for n in AGREEMENT_FEATURES])
    spark = (SparkSession.builder.master("local[1]").appName("omniloop-rules-test")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1").getOrCreate())
    try:
        columns = _columns()
        frame = spark.createDataFrame([tuple(row[c] for c in columns) for row in agreement_rows], schema)
        frame.createOrReplaceTempView("features")

        def evaluate(predicates: list[str]) -> list[set[int]]:
            # One query for all rules: Spark's per-query overhead is paid once. As values (not in a WHERE)
            # the compiled rules must be true or false, never NULL.
            selects = ", ".join(f"{p} AS r{i}" for i, p in enumerate(predicates))
            result = spark.sql(f"SELECT cid, {selects} FROM features").collect()
            assert all(row[f"r{i}"] is not None for row in result for i in range(len(predicates)))
            return [{row["cid"] for row in result if row[f"r{i}"]} for i in range(len(predicates))]
        _check_agreement(agreement_rows, evaluate, "spark")
    finally:
        spark.stop()


def test_generated_rules_use_every_construct():
    texts = " ".join(text.lower() for text, _ in generated_rules(7, 50))
    for construct in (" and ", " or ", "not (", " in (", "not in", " between ", "is null", "is not null",
                      "且", "或", "非", "date '", " >= ", " <> "):
        assert construct in texts, construct
