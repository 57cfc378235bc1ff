"""The customer feature schema (客户特征): what tag rules and audience ranges may refer to.

One row a customer in the feature table. Every feature has a kind that the rule type-checker and the
audience compiler understand. Money features are written in yuan by users (``aum >= 500000``) and stored
as integer fen in a column of the same name with ``_fen`` appended, so comparisons stay exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    integer = "integer"
    money = "money"  # yuan in expressions, integer fen in storage
    ratio = "ratio"  # float, e.g. -0.5 = fell by half
    boolean = "boolean"
    enum = "enum"
    date = "date"


@dataclass(frozen=True)
class Feature:
    name: str
    kind: Kind
    label_zh: str
    label_en: str
    values: tuple[str, ...] = ()  # for enums
    nullable: bool = False

    @property
    def column(self) -> str:
        """The storage column in the feature table."""
        return f"{self.name}_fen" if self.kind is Kind.money else self.name


_F = Feature
FEATURES: dict[str, Feature] = {f.name: f for f in (
    _F("age", Kind.integer, "年龄", "Age", nullable=True),
    _F("gender", Kind.enum, "性别", "Gender", ("M", "F"), nullable=True),
    _F("segment", Kind.enum, "客户类型", "Segment", ("retail", "private", "corporate", "small_business")),
    _F("risk_level", Kind.enum, "风险等级", "KYC risk level", ("R1", "R2", "R3", "R4", "R5"), nullable=True),
    _F("aum", Kind.money, "当前AUM", "AUM"),
    _F("aum_avg_3m", Kind.money, "近3月日均AUM", "Average AUM, last 3 months"),
    _F("aum_max_12m", Kind.money, "近12月最高AUM", "Highest AUM, last 12 months"),
    _F("aum_change_3m", Kind.ratio, "近3月AUM变化率", "AUM change over 3 months", nullable=True),
    _F("deposit", Kind.money, "存款余额", "Deposits"),
    _F("wealth", Kind.money, "理财余额", "Wealth products"),
    _F("fund", Kind.money, "基金余额", "Funds"),
    _F("insurance", Kind.money, "保险余额", "Insurance"),
    _F("loan", Kind.money, "贷款余额", "Loans"),
    _F("has_credit_card", Kind.boolean, "持有信用卡", "Holds a credit card"),
    _F("credit_card_activated", Kind.boolean, "信用卡已激活", "Credit card activated"),
    _F("payroll_flag", Kind.boolean, "代发工资客户", "Payroll customer"),
    _F("product_count", Kind.integer, "持有产品数", "Products held"),
    _F("app_logins_month", Kind.integer, "本月手机银行登录次数", "App logins this month"),
    _F("app_logins_3m", Kind.integer, "近3月手机银行登录次数", "App logins, last 3 months"),
    _F("months_since_login", Kind.integer, "距上次登录月数", "Months since last app login", nullable=True),
    _F("tenure_days", Kind.integer, "开户天数", "Days since first account", nullable=True),
    _F("first_account_date", Kind.date, "首次开户日期", "First account date", nullable=True),
    _F("lifecycle_stage", Kind.enum, "生命周期阶段", "Lifecycle stage",
       ("acquire", "activate", "grow", "retain", "refer"), nullable=True),
    _F("lifecycle_status", Kind.enum, "客户状态", "Customer status",
       ("novice", "growth", "mature", "churn_risk", "dormant"), nullable=True),
)}

# Columns every feature row has besides the features: identity and org placement (for scoping and
# breakdowns), not selectable in rules.
KEY_COLUMNS = ("cid", "customer_no", "org_id", "branch_id", "rm_id")


def feature(name: str) -> Feature:
    return FEATURES[name]
