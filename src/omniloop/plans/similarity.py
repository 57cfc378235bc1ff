"""Campaign similarity (相似活动匹配) for estimation (C2): a plan's features against a past campaign's. Pure.

The score is a weighted sum of per-feature similarities — equality for the categorical features (lifecycle
stage, benefit kind, mode), Jaccard for the sets (audience tags, channels) — and each term is returned, so
the console can say why two campaigns are alike ("生命周期阶段相同 +0.30, 渠道重合 2/3 +0.20 …").
A feature the plan leaves empty is not scored and the other weights are scaled up to sum to 1, so a need
that names only its stage is matched on the stage alone. The score equals the sum of the contributions.

Plans and campaigns use slightly different vocabularies; ``plan_features`` and ``campaign_features``
normalise both: a plan's benefit type becomes a catalog benefit kind (cash and rate coupons are coupons,
a fee waiver is cash back), a campaign's ``triggered`` mode is the plan's ``event``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

WEIGHTS: dict[str, float] = {
    "lifecycle_stage": 0.30,
    "audience_tags": 0.25,
    "channels": 0.20,
    "benefit_kind": 0.15,
    "mode": 0.10,
}
SET_FEATURES = ("audience_tags", "channels")

# plan benefit_type → catalog Benefit.kind
BENEFIT_KIND = {"none": "none", "points": "points", "cash_coupon": "coupon", "rate_coupon": "coupon",
                "gift": "gift", "fee_waiver": "cashback"}
CAMPAIGN_MODE = {"batch": "batch", "realtime": "realtime", "triggered": "event", "event": "event"}

FEATURE_LABELS = {
    "lifecycle_stage": ("生命周期阶段", "Lifecycle stage"),
    "audience_tags": ("客群标签", "Audience tags"),
    "channels": ("渠道", "Channels"),
    "benefit_kind": ("权益类型", "Benefit kind"),
    "mode": ("活动模式", "Mode"),
    "business_line": ("业务条线", "Business line"),
    "log_reach": ("触达规模(log10)", "Reach (log10)"),
}
VALUE_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "lifecycle_stage": {"novice": ("新客", "Novice"), "growth": ("成长", "Growth"), "mature": ("成熟", "Mature"),
                        "churn_risk": ("流失预警", "Churn risk"), "dormant": ("沉睡", "Dormant")},
    "business_line": {"retail": ("零售", "Retail"), "credit_card": ("信用卡", "Credit card"),
                      "wealth": ("财富", "Wealth"), "private_banking": ("私行", "Private banking"),
                      "corporate": ("公司", "Corporate"), "small_business": ("普惠小微", "Small business")},
    "mode": {"batch": ("主动批量", "Batch"), "realtime": ("主动实时", "Real-time"),
             "event": ("事件触发", "Event-triggered")},
    "benefit_kind": {"none": ("无权益", "No benefit"), "coupon": ("券", "Coupon"), "points": ("积分", "Points"),
                     "cashback": ("返现/减免", "Cash back / waiver"), "gift": ("礼品", "Gift")},
    "channels": {"sms": ("短信", "SMS"), "app_push": ("App推送", "App push"), "in_app": ("站内信", "In-app"),
                 "placement": ("广告位", "Placement"), "wechat": ("微信", "WeChat"),
                 "outbound_call": ("外呼", "Outbound call"), "rm_task": ("客户经理任务", "RM task"),
                 "email": ("邮件", "Email"), "webhook": ("Webhook", "Webhook")},
}


@dataclass(frozen=True)
class CampaignFeatures:
    """What estimation compares: normalised codes, sets as frozensets; None / empty = unknown."""

    lifecycle_stage: str | None = None
    business_line: str | None = None
    mode: str | None = None
    benefit_kind: str | None = None
    channels: frozenset[str] = field(default_factory=frozenset)
    audience_tags: frozenset[str] = field(default_factory=frozenset)

    def present(self, name: str) -> bool:
        value = getattr(self, name)
        return bool(value) if name in SET_FEATURES else value is not None


@dataclass(frozen=True)
class Contribution:
    feature: str
    weight: float  # after scaling over the features the plan has
    similarity: float  # 0..1
    contribution: float  # weight × similarity, rounded; the score is their sum
    detail_zh: str
    detail_en: str
    matched: tuple[str, ...] = ()  # shared set members


def plan_features(*, lifecycle_stage: str | None, business_line: str | None, mode: str | None,
                  benefit_type: str | None, channels: Iterable[str] | None,
                  audience_tags: Iterable[str] | None) -> CampaignFeatures:
    return CampaignFeatures(
        lifecycle_stage=lifecycle_stage or None, business_line=business_line or None,
        mode=CAMPAIGN_MODE.get(mode, mode) if mode else None,
        benefit_kind=BENEFIT_KIND.get(benefit_type, benefit_type) if benefit_type else None,
        channels=frozenset(channels or ()), audience_tags=frozenset(audience_tags or ()))


def campaign_features(*, lifecycle_stage: str | None, business_line: str | None, mode: str | None,
                      benefit_kind: str | None, channels: Iterable[str] | None,
                      audience_tags: Iterable[str] | None) -> CampaignFeatures:
    """A past campaign: ``benefit_kind`` is its benefit's catalog kind, or None when it granted none."""
    return CampaignFeatures(
        lifecycle_stage=lifecycle_stage or None, business_line=business_line or None,
        mode=CAMPAIGN_MODE.get(mode, mode) if mode else None, benefit_kind=benefit_kind or "none",
        channels=frozenset(channels or ()), audience_tags=frozenset(audience_tags or ()))


def value_label(feature: str, value: str | None, lang: str = "zh") -> str:
    if value is None:
        return "—"
    pair = VALUE_LABELS.get(feature, {}).get(value)
    return (pair[0] if lang == "zh" else pair[1]) if pair else value


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def _term(name: str, weight: float, plan: CampaignFeatures, past: CampaignFeatures) -> Contribution:
    zh, en = FEATURE_LABELS[name]
    if name in SET_FEATURES:
        a, b = getattr(plan, name), getattr(past, name)
        shared, union = a & b, a | b
        sim = jaccard(a, b)
        contribution = round(weight * sim, 4)
        if shared:
            detail_zh = f"{zh}重合 {len(shared)}/{len(union)} +{contribution:.2f}"
            detail_en = f"{en} overlap {len(shared)}/{len(union)} +{contribution:.2f}"
        else:
            detail_zh, detail_en = f"{zh}无重合 +0.00", f"{en}: no overlap +0.00"
        return Contribution(name, weight, sim, contribution, detail_zh, detail_en, tuple(sorted(shared)))
    a, b = getattr(plan, name), getattr(past, name)
    sim = 1.0 if a == b else 0.0
    contribution = round(weight * sim, 4)
    if sim:
        detail_zh = f"{zh}相同（{value_label(name, a)}）+{contribution:.2f}"
        detail_en = f"Same {en.lower()} ({value_label(name, a, 'en')}) +{contribution:.2f}"
    else:
        detail_zh = f"{zh}不同（{value_label(name, b)}）+0.00"
        detail_en = f"Different {en.lower()} ({value_label(name, b, 'en')}) +0.00"
    return Contribution(name, weight, sim, contribution, detail_zh, detail_en)


def scaled_weights(plan: CampaignFeatures, weights: dict[str, float] = WEIGHTS) -> dict[str, float]:
    """The weights of the features the plan fills in, scaled to sum to 1 (empty when it fills in none)."""
    present = {name: w for name, w in weights.items() if plan.present(name)}
    total = sum(present.values())
    return {name: w / total for name, w in present.items()} if total else {}


def similarity(plan: CampaignFeatures, past: CampaignFeatures,
               weights: dict[str, float] = WEIGHTS) -> tuple[float, list[Contribution]]:
    """(score in 0..1, one contribution per feature the plan has). The score is the sum of the contributions."""
    terms = [_term(name, w, plan, past) for name, w in scaled_weights(plan, weights).items()]
    return round(sum(t.contribution for t in terms), 4), terms


__all__ = ["BENEFIT_KIND", "CAMPAIGN_MODE", "FEATURE_LABELS", "VALUE_LABELS", "WEIGHTS", "CampaignFeatures",
           "Contribution", "campaign_features", "jaccard", "plan_features", "scaled_weights", "similarity",
           "value_label"]
