"""The demo bank's tags (演示标签): value tiers, payroll, inactive cards, churn warning, risk, product depth,
the two lifecycle system tags, and the daily run schedule. Safe to call again: existing codes are kept."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.core.audit import Actor
from omniloop.org.models import Org
from omniloop.tags import lifecycle, service
from omniloop.tags.models import TagDefinition
from omniloop.tags.schemas import TagCreate


def _v(value: str, zh: str, en: str, **extra: Any) -> dict[str, Any]:
    return {"value": value, "label_zh": zh, "label_en": en, **extra}


DEMO_TAGS: list[dict[str, Any]] = [
    dict(code="lifecycle_stage", name_zh="生命周期阶段", name_en="Lifecycle stage", category="lifecycle",
         source="rule", value_type="enum", definition=lifecycle.DEFAULT_STAGE_DEFINITION, system=True,
         description="获客 → 激活 → 成长 → 留存 → 推荐，每日跑批按规则计算（先匹配先得）"),
    dict(code="lifecycle_status", name_zh="客户状态", name_en="Customer status", category="lifecycle",
         source="rule", value_type="enum", definition=lifecycle.DEFAULT_STATUS_DEFINITION, system=True,
         description="新客 / 成长 / 成熟 / 流失预警 / 沉睡；沉睡 = 90 天未登录且 AUM 下降一半"),
    dict(code="value_tier", name_zh="客户价值分层", name_en="Value tier", category="value", source="rule",
         value_type="enum", description="按近3月日均AUM分层",
         definition={"cases": [_v("private", "私行客户", "Private banking", rule="aum_avg_3m >= 600万"),
                               _v("wealth", "财富客户", "Wealth", rule="aum_avg_3m >= 50万"),
                               _v("affluent", "潜力客户", "Affluent", rule="aum_avg_3m >= 5万")],
                     "else": _v("mass", "大众客户", "Mass")}),
    dict(code="aum_band", name_zh="资产区间", name_en="AUM band", category="value", source="rule",
         value_type="numeric", description="当前AUM分档（元）",
         definition={"feature": "aum", "buckets": [
             _v("lt_10k", "1万以下", "Under 10k", min=None, max=10000),
             _v("10k_50k", "1万–5万", "10k–50k", min=10000, max=50000),
             _v("50k_500k", "5万–50万", "50k–500k", min=50000, max=500000),
             _v("500k_6m", "50万–600万", "500k–6m", min=500000, max=6000000),
             _v("ge_6m", "600万及以上", "6m and more", min=6000000, max=None)]}),
    dict(code="payroll", name_zh="代发工资客户", name_en="Payroll customer", category="basic", source="rule",
         value_type="boolean", definition={"rule": "payroll_flag"}, description="在本行代发工资"),
    dict(code="card_not_activated", name_zh="信用卡未激活", name_en="Credit card not activated",
         category="behaviour", source="rule", value_type="boolean",
         definition={"rule": "has_credit_card and not credit_card_activated"}, description="已发卡但尚未激活"),
    dict(code="churn_warning", name_zh="流失预警", name_en="Churn warning", category="behaviour", source="rule",
         value_type="boolean", description="近3月AUM下降三成以上，或两个月以上未登录手机银行",
         definition={"rule": "aum_change_3m <= -0.3 or months_since_login >= 2"}),
    dict(code="risk_appetite", name_zh="风险偏好", name_en="Risk appetite", category="basic", source="rule",
         value_type="enum", description="按KYC风险等级归类",
         definition={"cases": [_v("conservative", "保守型", "Conservative", rule="risk_level in ('R1', 'R2')"),
                               _v("balanced", "稳健型", "Balanced", rule="risk_level = 'R3'"),
                               _v("aggressive", "进取型", "Aggressive", rule="risk_level in ('R4', 'R5')")]}),
    dict(code="product_depth", name_zh="持有产品数", name_en="Products held", category="value", source="rule",
         value_type="numeric", description="持有存款、理财、基金、保险、贷款、信用卡的种类数",
         definition={"feature": "product_count", "buckets": [
             _v("p0_1", "0–1 种", "0–1", min=None, max=2), _v("p2", "2 种", "2", min=2, max=3),
             _v("p3", "3 种", "3", min=3, max=4), _v("p4_plus", "4 种及以上", "4 or more", min=4, max=None)]}),
    dict(code="mobile_active", name_zh="手机银行活跃", name_en="Active on mobile banking", category="behaviour",
         source="rule", value_type="boolean", definition={"rule": "app_logins_3m >= 6"},
         description="近3月手机银行登录 6 次及以上"),
    dict(code="senior", name_zh="银发客户", name_en="Senior customer", category="basic", source="rule",
         value_type="boolean", definition={"rule": "age >= 60"}, description="60 岁及以上"),
    dict(code="wealth_prospect", name_zh="高净值潜客", name_en="High-net-worth prospect", category="value",
         source="rule", value_type="boolean", description="近12月曾达50万但近3月日均不足50万，可挽回",
         definition={"rule": "aum_max_12m >= 50万 and aum_avg_3m < 50万"}),
]


def seed_tags(session: Session, *, actor: Actor, daily_cron: str = service.DEFAULT_DAILY_CRON) -> list[TagDefinition]:
    """Create the demo tags that do not exist yet (owned by the head office) and the daily run schedule."""
    head = session.scalar(select(Org).where(Org.parent_id.is_(None)).order_by(Org.id))
    if head is None:
        raise LookupError("seed the org tree first")
    existing = set(session.scalars(select(TagDefinition.code)))
    created = []
    for spec in DEMO_TAGS:
        if spec["code"] in existing:
            continue
        data = dict(spec)
        system = data.pop("system", False)
        created.append(service.create_tag_as(session, actor=actor, org_id=head.id, data=TagCreate(**data),
                                             system=system))
    service.ensure_daily_schedule(session, cron=daily_cron)
    session.flush()
    return created


__all__ = ["DEMO_TAGS", "seed_tags"]
