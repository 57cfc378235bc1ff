"""The demo bank's past campaigns (历史活动) with their results, so estimation (C2) works out of the box.

``seed_history`` adds 48 completed campaigns over the two years before today: each with an approved plan
(frozen version 1), an archived audience whose expression uses the demo's real tag codes, a ``HIST-…``
benefit valid back then, and a ``campaign_results`` row (source ``history``) — what a bank would import
from its previous system. The numbers follow a fixed pattern plus noise, deterministic in ``seed``: the
conversion odds rise with event-triggered and real-time modes, RM tasks and outbound calls, coupons and
cash back, novice and growth stages and app-active audiences, and fall for dormant and churn-warning
audiences and with campaign size. A model can learn that; the noise keeps it honest.

Safe to run twice: it does nothing once any ``HIST-`` benefit exists.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.audiences.models import Audience
from omniloop.benefits.models import Benefit
from omniloop.campaigns.models import Campaign, CampaignResult
from omniloop.core import audit
from omniloop.core.audit import Actor
from omniloop.core.clock import Clock
from omniloop.org.models import Org, User
from omniloop.plans import search
from omniloop.plans import service as plan_service
from omniloop.plans.models import Plan, PlanVersion

CAMPAIGNS = 48
CODE_PREFIX = "HIST"


def _tag(code: str, *values) -> dict:
    return {"op": "tag", "tag": code, "values": list(values)}


@dataclass(frozen=True)
class Archetype:
    title: str
    objective: str
    stage: str
    line: str
    expression: dict
    size: int  # typical audience size
    modes: tuple[str, ...]
    channels: tuple[str, ...]  # the pool a campaign picks from
    kinds: tuple[str, ...]  # benefit kinds tried for it


ARCHETYPES = [
    Archetype("信用卡新客首刷有礼", "新开卡客户首刷率提升", "novice", "credit_card",
              {"op": "and", "children": [_tag("lifecycle_status", "novice"), _tag("mobile_active", True)]},
              30_000, ("triggered", "batch"), ("sms", "app_push", "wechat"), ("coupon", "cashback")),
    Archetype("信用卡激活提醒", "已发卡未激活客户激活", "novice", "credit_card",
              _tag("card_not_activated", True), 45_000, ("batch", "triggered"),
              ("sms", "outbound_call", "app_push"), ("coupon", "points", "none")),
    Archetype("代发客户手机银行激活", "代发客户手机银行月活提升", "growth", "retail",
              {"op": "minus", "base": _tag("payroll", True), "subtract": [_tag("mobile_active", True)]},
              60_000, ("batch",), ("sms", "app_push", "wechat"), ("points", "coupon", "none")),
    Archetype("理财到期资金留存", "理财到期资金行内留存", "churn_risk", "wealth",
              {"op": "and", "children": [_tag("value_tier", "wealth", "affluent"), _tag("churn_warning", True)]},
              12_000, ("batch", "realtime"), ("rm_task", "sms", "outbound_call"), ("coupon", "gift")),
    Archetype("高净值潜客资产回流", "近一年曾达50万客户资产回流", "mature", "wealth",
              {"op": "and", "children": [_tag("wealth_prospect", True),
                                         _tag("risk_appetite", "balanced", "aggressive")]},
              8_000, ("batch",), ("rm_task", "outbound_call", "app_push"), ("gift", "coupon", "points")),
    Archetype("沉睡客户唤醒", "沉睡客户重新登录手机银行", "dormant", "retail",
              _tag("lifecycle_status", "dormant"), 90_000, ("batch",), ("sms", "outbound_call", "wechat"),
              ("coupon", "points", "none")),
    Archetype("银发客户关怀", "银发客户定期存款续存", "mature", "retail",
              {"op": "and", "children": [_tag("senior", True), _tag("value_tier", "affluent", "wealth")]},
              20_000, ("batch",), ("rm_task", "sms", "outbound_call"), ("gift", "none")),
    Archetype("私行客户专属权益", "私行客户新增资产配置", "mature", "private_banking",
              _tag("value_tier", "private"), 2_000, ("batch", "realtime"), ("rm_task", "wechat", "app_push"),
              ("gift", "coupon")),
    Archetype("新客黄金百日", "新客首月开通三项产品", "novice", "retail",
              {"op": "and", "children": [_tag("lifecycle_status", "novice"), _tag("product_depth", "p0_1")]},
              25_000, ("triggered", "realtime"), ("app_push", "sms", "in_app"), ("points", "coupon")),
    Archetype("产品交叉销售", "单产品客户增持第二种产品", "growth", "retail",
              {"op": "and", "children": [_tag("product_depth", "p0_1", "p2"), _tag("mobile_active", True)]},
              50_000, ("batch", "realtime"), ("app_push", "in_app", "sms"), ("points", "coupon", "none")),
    Archetype("资产提升计划", "5万–50万客户AUM提升", "growth", "wealth",
              {"op": "and", "children": [_tag("aum_band", "50k_500k"), _tag("risk_appetite", "balanced")]},
              35_000, ("batch",), ("sms", "rm_task", "app_push"), ("coupon", "cashback")),
    Archetype("流失预警挽留", "流失预警客户挽留", "churn_risk", "retail",
              {"op": "and", "children": [_tag("churn_warning", True), _tag("payroll", True)]},
              18_000, ("realtime", "batch"), ("outbound_call", "sms", "rm_task"), ("cashback", "coupon", "gift")),
]

BENEFITS = {  # kind → (code suffix, name, face value fen, unit cost fen, points)
    "coupon": ("CPN-20", "20元立减金（历史）", 2_000, 1_800, 0),
    "points": ("PTS-500", "500积分（历史）", 0, 500, 500),
    "cashback": ("CB-FEE", "手续费返还（历史）", 1_000, 1_000, 0),
    "gift": ("GIFT-01", "定制礼品（历史）", 5_000, 3_500, 0),
}
BENEFIT_TYPE = {"coupon": "cash_coupon", "points": "points", "cashback": "fee_waiver", "gift": "gift",
                "none": "none"}
PLAN_MODE = {"batch": "batch", "realtime": "realtime", "triggered": "event"}

# The pattern the results follow (logit of the conversion rate).
BASE = -3.3
STAGE = {"novice": 0.5, "growth": 0.2, "mature": 0.0, "churn_risk": -0.25, "dormant": -0.9}
MODE = {"batch": 0.0, "realtime": 0.3, "triggered": 0.6}
CHANNEL = {"sms": 0.0, "app_push": 0.25, "wechat": 0.3, "in_app": 0.15, "outbound_call": 0.5, "rm_task": 0.9}
KIND = {"none": 0.0, "points": 0.25, "coupon": 0.55, "cashback": 0.45, "gift": 0.35}
TAG = {"mobile_active": 0.3, "churn_warning": -0.3, "wealth_prospect": 0.2, "senior": -0.2, "payroll": 0.15}
SIZE = -0.35  # per tenfold more customers sent
NOISE = 0.2

CHANNEL_COST_FEN = {"sms": 5, "app_push": 1, "wechat": 1, "in_app": 0, "outbound_call": 80, "rm_task": 300}
VALUE_FEN = {"credit_card": 9_000, "retail": 4_000, "wealth": 30_000, "private_banking": 150_000}


def conversion_logit(*, stage: str, mode: str, channels: list[str], kind: str, tags: set[str], sent: int) -> float:
    """The pattern without noise (tests compare the model with it)."""
    return (BASE + STAGE[stage] + MODE[mode] + sum(CHANNEL[c] for c in channels) + KIND[kind]
            + sum(TAG.get(t, 0.0) for t in tags) + SIZE * (math.log10(sent) - 4))


def _tags_of(expression: dict) -> set[str]:
    out: set[str] = set()
    stack = [expression]
    while stack:
        node = stack.pop()
        if node.get("op") == "tag":
            out.add(node["tag"])
        stack.extend(node.get("children", []))
        stack.extend(node.get("subtract", []))
        if "base" in node:
            stack.append(node["base"])
        if "child" in node:
            stack.append(node["child"])
    return out


def _utc(day: date, hour: int = 1) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def seed_history(session: Session, *, actor: Actor, seed: int = 42, today: date | None = None,
                 campaigns: int = CAMPAIGNS) -> dict:
    """Add the past campaigns (not committed). Returns what was created."""
    if session.scalar(select(Benefit.id).where(Benefit.code.like(f"{CODE_PREFIX}-%")).limit(1)) is not None:
        return {"created": False}
    head = session.scalar(select(Org).where(Org.parent_id.is_(None)).order_by(Org.id).limit(1))
    if head is None:
        raise LookupError("seed the org tree first")
    branches = list(session.scalars(select(Org).where(Org.level == "branch").order_by(Org.id)))
    author = session.scalar(select(User).where(User.role == "operator", User.is_active.is_(True))
                            .order_by(User.id).limit(1))
    author_id = author.id if author else actor.user_id
    today = today or Clock().today()
    rng = random.Random(f"history:{seed}")

    first_day = today - timedelta(days=760)
    benefits = {}
    for kind, (suffix, name, face, unit_cost, points) in BENEFITS.items():
        benefits[kind] = Benefit(
            code=f"{CODE_PREFIX}-{suffix}", name=name, kind=kind, face_value_fen=face, points=points,
            unit_cost_fen=unit_cost, inventory_total=0, inventory_left=0, budget_fen=None, budget_used_fen=0,
            valid_from=_utc(first_day), valid_to=_utc(today - timedelta(days=5)), status="inactive",
            description="历史活动权益（从原系统导入）", owner_org_id=head.id, created_by_id=author_id)
        session.add(benefits[kind])
    audiences = []
    for archetype in ARCHETYPES:
        audience = Audience(name=f"历史客群·{archetype.title}", description="历史活动客群（从原系统导入）",
                            expression=archetype.expression, org_id=head.id, created_by_id=author_id,
                            archived=True, last_total=archetype.size)
        session.add(audience)
        audiences.append(audience)
    session.flush()

    order = [i % len(ARCHETYPES) for i in range(campaigns)]
    rng.shuffle(order)
    totals = {"campaigns": 0, "sent": 0, "responded": 0}
    seq_by_year: dict[int, int] = {}
    for n, which in enumerate(order):
        archetype, audience = ARCHETYPES[which], audiences[which]
        mode = rng.choice(archetype.modes)
        channels = rng.sample(archetype.channels, rng.choice((1, 2, 2, 3)))
        kind = rng.choice(archetype.kinds)
        start = today - timedelta(days=rng.randrange(45, 730))
        end = min(start + timedelta(days=rng.choice((14, 21, 30, 45, 60))), today - timedelta(days=10))
        audience_size = max(200, int(archetype.size * math.exp(rng.gauss(0, 0.45))))
        control_pct = rng.choice((0, 0, 5, 5, 10))
        control_size = audience_size * control_pct // 100
        sent = int((audience_size - control_size) * rng.uniform(0.88, 0.97))  # after contact policy filters
        tags = _tags_of(archetype.expression)
        logit = conversion_logit(stage=archetype.stage, mode=mode, channels=channels, kind=kind, tags=tags,
                                 sent=sent) + rng.gauss(0, NOISE)
        rate = 1 / (1 + math.exp(-logit))
        responded = min(sent, round(sent * rate))
        delivered = int(sent * rng.uniform(0.85, 0.98))
        control_rate = rate * rng.uniform(0.25, 0.55)  # organic conversion without the campaign
        control_responded = round(control_size * control_rate)
        benefit = benefits.get(kind)
        contact_cost = sum(CHANNEL_COST_FEN[c] * (1.0 if i == 0 else 0.3) for i, c in enumerate(channels))
        cost = int(sent * contact_cost) + (responded * benefit.unit_cost_fen if benefit else 0)
        revenue = int(responded * VALUE_FEN[archetype.line] * math.exp(rng.gauss(0, 0.3)))
        if benefit is not None:
            benefit.inventory_total += responded
            benefit.budget_used_fen += responded * benefit.unit_cost_fen

        owner = head if n % 4 or not branches else branches[(n // 4) % len(branches)]
        year = start.year
        seq_by_year[year] = seq_by_year.get(year, 0) + 1
        title = f"{archetype.title}（{start.year}年{start.month}月）"
        plan = Plan(
            title=title, objective=archetype.objective, lifecycle_stage=archetype.stage,
            business_line=archetype.line, audience_description=audience.name, audience_id=audience.id,
            audience_tags=sorted(tags), channels=channels, benefit_type=BENEFIT_TYPE[kind],
            benefits=benefit.name if benefit else None, mode=PLAN_MODE[mode],
            budget_fen=int(cost * rng.uniform(1.0, 1.3)) // 100_00 * 100_00 + 100_00,
            expected_output=f"预计转化{round(responded * rng.uniform(0.8, 1.3)):,}户",
            expected_reach=audience_size, expected_conversion_rate=round(rate * rng.uniform(0.8, 1.3), 4),
            start_date=start, end_date=end, owner_org_id=owner.id, owner_id=author_id, status="approved",
            version=1, approved_version=1, submitted_at=_utc(start - timedelta(days=9)),
            approved_at=_utc(start - timedelta(days=7)), created_at=_utc(start - timedelta(days=20)),
            updated_at=_utc(start - timedelta(days=7)))
        plan.search_tokens = " ".join(search.tokenize("\n".join(
            t for t in (plan.title, plan.objective, plan.audience_description, plan.benefits,
                        plan.expected_output) if t)))
        session.add(plan)
        session.flush()
        session.add(PlanVersion(plan_id=plan.id, version=1, data=plan_service.fields_of(plan), frozen=True,
                                note="历史方案导入", created_by_id=author_id, created_at=plan.created_at,
                                updated_at=plan.created_at))
        campaign = Campaign(
            code=f"{CODE_PREFIX}-{year}-{seq_by_year[year]:04d}", name=title,
            description=f"活动目标：{archetype.objective}\n目标客群：{audience.name}", start_date=start,
            end_date=end, plan_id=plan.id, plan_version=1, owner_org_id=owner.id, status="completed",
            created_by_id=author_id, created_at=_utc(start - timedelta(days=6)), updated_at=_utc(end),
            mode=mode, campaign_type="marketing", lifecycle_stage=archetype.stage, business_line=archetype.line,
            audience_id=audience.id, channels=channels, benefit_id=benefit.id if benefit else None,
            control_pct=control_pct, launched_at=_utc(start), launched_by_id=author_id, ended_at=_utc(end, 15))
        session.add(campaign)
        session.flush()
        session.add(CampaignResult(
            campaign_id=campaign.id, audience_size=audience_size, sent=sent, delivered=delivered,
            responded=responded, control_size=control_size, control_responded=control_responded, cost_fen=cost,
            revenue_fen=revenue, source="history", computed_at=_utc(end + timedelta(days=7))))
        totals["campaigns"] += 1
        totals["sent"] += sent
        totals["responded"] += responded
    session.flush()
    audit.record(session, actor=actor, action="campaign.history_import", entity_type="campaign",
                 after={"seed": seed, **totals, "benefits": sorted(b.code for b in benefits.values()),
                        "audiences": len(audiences)})
    return {"created": True, **totals}


__all__ = ["ARCHETYPES", "CAMPAIGNS", "conversion_logit", "seed_history"]
