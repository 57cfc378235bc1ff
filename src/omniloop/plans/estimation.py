"""Campaign estimation (活动测算, C2): similar past campaigns, a predicted conversion rate, a budget check.

- History: completed campaigns with a ``campaign_results`` row (``sent > 0``), their features from the
  campaign's columns, its benefit's kind and the tag codes in its audience's expression.
- Similar campaigns (``plans.similarity``): scored against every campaign in history; listed are those
  the caller may read — owned in their org subtree or by an office above it (the head office's campaigns
  are the bank's common reference, as its audiences are).
- Prediction (``plans.estimation_model``): fitted on the whole history (only coefficients leave it).
- History and model are cached per process and database, keyed by a cheap aggregate of the results
  (count, newest id and time, sums, newest campaign change): a new or changed result refits on the next
  request. Audience or benefit edits alone do not refit (they do not change past campaigns).
"""

from __future__ import annotations

import math
import re
import statistics
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omniloop.audiences.models import Audience
from omniloop.benefits.models import Benefit
from omniloop.campaigns.models import Campaign, CampaignResult
from omniloop.core.errors import Conflict, ValidationFailed
from omniloop.org.auth import Principal
from omniloop.org.models import Org
from omniloop.plans import estimation_model
from omniloop.plans.estimation_model import FittedModel, HistoryRow
from omniloop.plans.estimation_schemas import (
    ConversionPrediction,
    EstimateBudget,
    EstimateFeatureLabel,
    EstimateFeatures,
    EstimateFlag,
    EstimateModelFeature,
    EstimateModelInfo,
    PlanEstimateRead,
    PlanEstimateRequest,
    SimilarCampaign,
    SimilarityTerm,
    SimilarSummary,
)
from omniloop.plans.models import Plan
from omniloop.plans.similarity import (
    FEATURE_LABELS,
    CampaignFeatures,
    campaign_features,
    plan_features,
    similarity,
    value_label,
)

MIN_HISTORY = 10
FAR_ABOVE = 1.5  # the operator's rate is "far above" similar campaigns beyond this multiple of their mean
GROUP_OF_PREFIX = {"stage": "lifecycle_stage", "line": "business_line", "mode": "mode",
                   "benefit": "benefit_kind", "channel": "channels", "tag": "audience_tags"}
_RATE_PLACES = 6


class InsufficientHistory(Conflict):
    code = "insufficient_history"
    message_zh = f"历史活动不足（至少需要 {MIN_HISTORY} 个已完成且有结果的活动），暂不能测算"
    message_en = f"Not enough past campaigns to estimate (at least {MIN_HISTORY} completed ones with results)"


@dataclass(frozen=True)
class PastCampaign:
    id: int
    code: str
    name: str
    plan_id: int
    org_path: str
    org_name: str | None
    org_name_en: str | None
    start_date: date | None
    end_date: date | None
    features: CampaignFeatures
    result: Numbers


@dataclass(frozen=True)
class Numbers:
    """A campaign's ``campaign_results`` figures, copied out of the session for the cache."""

    audience_size: int
    sent: int
    delivered: int
    responded: int
    control_size: int
    control_responded: int
    cost_fen: int
    revenue_fen: int


@dataclass
class History:
    key: tuple
    campaigns: list[PastCampaign]
    model: FittedModel | None
    fitted_at: datetime


_cache: dict[str, History] = {}
_lock = threading.Lock()


# ---- features -------------------------------------------------------------------------------------------

def expression_tags(expression: object) -> set[str]:
    """Tag codes used anywhere in an audience expression (under NOT too: the audience is defined by them)."""
    from omniloop.audiences.expression import TagPredicate, parse_expression, walk

    try:
        return {node.tag for _, _, node in walk(parse_expression(expression)) if isinstance(node, TagPredicate)}
    except ValidationFailed:
        return set()


def _audience(session: Session, audience_id: int | None) -> Audience | None:
    return session.get(Audience, audience_id) if audience_id is not None else None


def features_of(session: Session, values: Plan | PlanEstimateRequest) -> tuple[CampaignFeatures, EstimateFeatures]:
    audience = _audience(session, values.audience_id)
    tags = set(values.audience_tags or []) | (expression_tags(audience.expression) if audience else set())
    features = plan_features(lifecycle_stage=values.lifecycle_stage, business_line=values.business_line,
                             mode=values.mode, benefit_type=values.benefit_type, channels=values.channels,
                             audience_tags=tags)
    if values.expected_reach:
        reach, source = values.expected_reach, "plan"
    elif audience is not None and audience.last_total:
        reach, source = audience.last_total, "audience"
    else:
        reach, source = None, "none"
    read = EstimateFeatures(lifecycle_stage=features.lifecycle_stage, business_line=features.business_line,
                         mode=features.mode, benefit_kind=features.benefit_kind,
                         channels=list(values.channels or []), audience_tags=sorted(features.audience_tags),
                         reach=reach, reach_source=source)
    return features, read


# ---- history and model ----------------------------------------------------------------------------------

def _completed():
    return (select(CampaignResult).join(Campaign, Campaign.id == CampaignResult.campaign_id)
            .where(Campaign.status == "completed", CampaignResult.sent > 0))


def _history_key(session: Session) -> tuple:
    row = session.execute(_completed().with_only_columns(
        func.count(CampaignResult.id), func.max(CampaignResult.id), func.max(CampaignResult.computed_at),
        func.sum(CampaignResult.sent), func.sum(CampaignResult.responded), func.sum(CampaignResult.cost_fen),
        func.max(Campaign.updated_at))).one()
    return tuple(str(v) for v in row)


def _load(session: Session, key: tuple) -> History:
    rows = session.execute(
        _completed().with_only_columns(Campaign, CampaignResult, Benefit.kind, Audience.expression, Org)
        .outerjoin(Benefit, Benefit.id == Campaign.benefit_id)
        .outerjoin(Audience, Audience.id == Campaign.audience_id)
        .join(Org, Org.id == Campaign.owner_org_id)
        .order_by(Campaign.id)).all()
    campaigns = []
    for campaign, result, kind, expression, org in rows:
        features = campaign_features(
            lifecycle_stage=campaign.lifecycle_stage, business_line=campaign.business_line, mode=campaign.mode,
            benefit_kind=kind, channels=campaign.channels,
            audience_tags=expression_tags(expression) if expression else ())
        copy = Numbers(audience_size=result.audience_size, sent=result.sent, delivered=result.delivered,
                       responded=result.responded, control_size=result.control_size,
                       control_responded=result.control_responded, cost_fen=result.cost_fen,
                       revenue_fen=result.revenue_fen)
        campaigns.append(PastCampaign(
            id=campaign.id, code=campaign.code, name=campaign.name, plan_id=campaign.plan_id, org_path=org.path,
            org_name=org.name, org_name_en=org.name_en, start_date=campaign.start_date,
            end_date=campaign.end_date, features=features, result=copy))
    model = None
    if len(campaigns) >= MIN_HISTORY:
        model = estimation_model.fit([
            HistoryRow(features=c.features, sent=c.result.sent, responded=c.result.responded,
                       end_date=c.end_date, campaign_id=c.id) for c in campaigns])
    return History(key=key, campaigns=campaigns, model=model, fitted_at=datetime.now(UTC))


def history(session: Session) -> History:
    """The cached history and model, refitted when the results changed."""
    bind = session.get_bind()
    cache_key = bind.url.render_as_string(hide_password=True)
    key = _history_key(session)
    with _lock:
        cached = _cache.get(cache_key)
        if cached is not None and cached.key == key:
            return cached
    loaded = _load(session, key)  # outside the lock: two first requests may both fit, one wins
    with _lock:
        _cache[cache_key] = loaded
    return loaded


def clear_cache() -> None:
    with _lock:
        _cache.clear()


# ---- numbers --------------------------------------------------------------------------------------------

def roi(revenue_fen: int, cost_fen: int) -> Decimal | None:
    """(revenue − cost) / cost in exact decimal arithmetic, rounded half-up to 4 places; None without cost."""
    if cost_fen <= 0:
        return None
    return (Decimal(revenue_fen - cost_fen) / Decimal(cost_fen)).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def _per(numerator_fen: int, count: int) -> int | None:
    if count <= 0:
        return None
    return int((Decimal(numerator_fen) / Decimal(count)).to_integral_value(ROUND_HALF_UP))


def _rate(n: int, d: int) -> float | None:
    return round(n / d, _RATE_PLACES) if d > 0 else None


def visible(principal: Principal, campaign: PastCampaign) -> bool:
    """In the caller's subtree, or owned by an office above the caller (the bank-wide reference)."""
    return campaign.org_path.startswith(principal.org.path) or principal.org.path.startswith(campaign.org_path)


def _similar(past: PastCampaign, score: float, terms) -> SimilarCampaign:
    r, f = past.result, past.features
    control_rate = _rate(r.control_responded, r.control_size)
    rate = r.responded / r.sent
    return SimilarCampaign(
        campaign_id=past.id, code=past.code, name=past.name, plan_id=past.plan_id, owner_org_name=past.org_name,
        owner_org_name_en=past.org_name_en, start_date=past.start_date, end_date=past.end_date,
        lifecycle_stage=f.lifecycle_stage, business_line=f.business_line, mode=f.mode, benefit_kind=f.benefit_kind,
        channels=sorted(f.channels), audience_tags=sorted(f.audience_tags), score=score,
        explanation=[SimilarityTerm(feature=t.feature, label_zh=FEATURE_LABELS[t.feature][0],
                                  label_en=FEATURE_LABELS[t.feature][1], weight=round(t.weight, 4),
                                  similarity=round(t.similarity, 4), contribution=t.contribution,
                                  detail_zh=t.detail_zh, detail_en=t.detail_en, matched=list(t.matched))
                     for t in terms],
        audience_size=r.audience_size, sent=r.sent, delivered=r.delivered, responded=r.responded,
        conversion_rate=round(rate, _RATE_PLACES), cost_fen=r.cost_fen, revenue_fen=r.revenue_fen,
        roi=roi(r.revenue_fen, r.cost_fen), cost_per_response_fen=_per(r.cost_fen, r.responded),
        control_size=r.control_size, control_conversion_rate=control_rate,
        lift_pp=round((rate - control_rate) * 100, 4) if control_rate is not None else None)


def _summary(items: list[SimilarCampaign]) -> SimilarSummary:
    scored = [s for s in items if s.score > 0]
    total = sum(s.score for s in scored)
    rois = [s.roi for s in items if s.roi is not None]
    costs = [s.cost_per_response_fen for s in items if s.cost_per_response_fen is not None]
    return SimilarSummary(
        count=len(items),
        weighted_conversion_rate=round(sum(s.score * s.conversion_rate for s in scored) / total, _RATE_PLACES)
        if total else None,
        max_conversion_rate=max((s.conversion_rate for s in items), default=None),
        median_roi=Decimal(statistics.median(rois)).quantize(Decimal("0.0001"), ROUND_HALF_UP) if rois else None,
        median_cost_per_response_fen=int(statistics.median(costs)) if costs else None)


def _feature_label(name: str, tag_names: dict[str, tuple[str, str]]) -> tuple[str, str]:
    if name == "log_reach":
        return FEATURE_LABELS["log_reach"]
    prefix, _, value = name.partition("=")
    group = GROUP_OF_PREFIX[prefix]
    zh, en = FEATURE_LABELS[group]
    if group == "audience_tags":
        tag_zh, tag_en = tag_names.get(value, (value, value))
        return f"{zh}：{tag_zh}", f"{en}: {tag_en}"
    return f"{zh}：{value_label(group, value)}", f"{en}: {value_label(group, value, 'en')}"


def _model_info(session: Session, model: FittedModel, fitted_at: datetime) -> EstimateModelInfo:
    from omniloop.tags.models import TagDefinition

    tag_names = {code: (zh, en) for code, zh, en in session.execute(
        select(TagDefinition.code, TagDefinition.name_zh, TagDefinition.name_en)
        .where(TagDefinition.code.in_(sorted(model.tags))))}
    order = sorted(range(len(model.columns)), key=lambda i: -abs(model.coefficients[i]))
    features = []
    for i in order:
        zh, en = _feature_label(model.columns[i], tag_names)
        coefficient = float(model.coefficients[i])
        features.append(EstimateModelFeature(name=model.columns[i], label_zh=zh, label_en=en,
                                             coefficient=round(coefficient, 4),
                                             odds_ratio=round(math.exp(coefficient), 4)))
    e = model.evaluation
    return EstimateModelInfo(
        description_zh="岭回归（scikit-learn RidgeCV），因变量为历史活动转化率的经验 logit，每个活动一行；"
                       "按时间留出最近 25% 的活动评估",
        description_en="Ridge regression (scikit-learn RidgeCV) on the empirical logit of each past campaign's "
                       "conversion rate, one row a campaign; the most recent 25% held out for evaluation",
        n_campaigns=model.n_campaigns, n_train=e.n_train, n_test=e.n_test, split=e.split, mae_pp=e.mae_pp,
        baseline_mae_pp=e.baseline_mae_pp, alpha=round(model.alpha, 4), residual_sd=round(model.residual_sd, 4),
        features=features, fitted_at=fitted_at)


_COUNT = re.compile(r"(\d[\d,，]*(?:\.\d+)?)\s*(万)?\s*(?:户|人|名|位|个客户)")


def expected_from_text(text: str | None) -> int | None:
    """The first head count in the plan's expected output ("预计新增首刷客户4,800户" → 4800)."""
    if not text or not (m := _COUNT.search(text)):
        return None
    number = Decimal(m.group(1).replace(",", "").replace("，", ""))
    return int(number * (10_000 if m.group(2) else 1))


def _flags(*, operator_rate: float | None, summary: SimilarSummary, prediction: ConversionPrediction,
           budget: EstimateBudget) -> list[EstimateFlag]:
    flags = []
    pct = lambda r: f"{r * 100:.2f}%"  # noqa: E731
    if operator_rate is not None and summary.weighted_conversion_rate and summary.max_conversion_rate is not None:
        if operator_rate > FAR_ABOVE * summary.weighted_conversion_rate and operator_rate > summary.max_conversion_rate:
            flags.append(EstimateFlag(
                code="expected_above_similar", level="warning",
                message_zh=f"预期转化率 {pct(operator_rate)} 远高于相似活动（加权平均 "
                           f"{pct(summary.weighted_conversion_rate)}，最高 {pct(summary.max_conversion_rate)}），请复核预期产出",
                message_en=f"The expected conversion {pct(operator_rate)} is far above similar campaigns (weighted mean "
                           f"{pct(summary.weighted_conversion_rate)}, best {pct(summary.max_conversion_rate)}); "
                           "check the expected output"))
    if operator_rate is not None:
        if operator_rate > prediction.high:
            flags.append(EstimateFlag(code="expected_above_model", level="warning",
                              message_zh=f"预期转化率 {pct(operator_rate)} 高于模型 90% 区间上限 {pct(prediction.high)}",
                              message_en=f"The expected conversion {pct(operator_rate)} is above the model's 90% "
                                         f"upper bound {pct(prediction.high)}"))
        elif operator_rate < prediction.low:
            flags.append(EstimateFlag(code="expected_below_model", level="info",
                              message_zh=f"预期转化率 {pct(operator_rate)} 低于模型 90% 区间下限 {pct(prediction.low)}，预期较保守",
                              message_en=f"The expected conversion {pct(operator_rate)} is below the model's 90% "
                                         f"lower bound {pct(prediction.low)}: a cautious expectation"))
    if budget.reach is None:
        flags.append(EstimateFlag(code="reach_unknown", level="info",
                          message_zh="未填写预计触达人数且未关联人群，无法估算转化人数与单客成本",
                          message_en="No expected reach and no linked audience: responses and cost per response "
                                     "cannot be estimated"))
    if budget.cost_per_response_fen and budget.similar_cost_per_response_fen:
        ratio = budget.cost_per_response_fen / budget.similar_cost_per_response_fen
        if ratio > 3:
            flags.append(EstimateFlag(code="budget_high", level="info",
                              message_zh=f"按预测转化，单个转化成本为相似活动中位数的 {ratio:.1f} 倍，预算可能偏高",
                              message_en=f"At the predicted conversion the cost per response is {ratio:.1f}× the "
                                         "similar campaigns' median: the budget may be generous"))
        elif ratio < 1 / 3:
            flags.append(EstimateFlag(code="budget_low", level="warning",
                              message_zh=f"按预测转化，单个转化成本仅为相似活动中位数的 {ratio:.2f} 倍，预算可能不足",
                              message_en=f"At the predicted conversion the cost per response is only {ratio:.2f}× "
                                         "the similar campaigns' median: the budget may be short"))
    return flags


# ---- the estimate ---------------------------------------------------------------------------------------

def estimate(*, session: Session, principal: Principal, values: Plan | PlanEstimateRequest, k: int = 5,
             plan_id: int | None = None) -> PlanEstimateRead:
    loaded = history(session)
    if loaded.model is None:
        raise InsufficientHistory(details={"campaigns": len(loaded.campaigns), "required": MIN_HISTORY})
    features, read = features_of(session, values)

    scored = []
    for past in loaded.campaigns:
        if not visible(principal, past) or (plan_id is not None and past.plan_id == plan_id):
            continue
        score, terms = similarity(features, past.features)
        scored.append((score, past.end_date or date.min, past.id, past, terms))
    scored.sort(key=lambda s: (-s[0], -s[1].toordinal(), -s[2]))
    similar = [_similar(past, score, terms) for score, _, _, past, terms in scored[:k]]
    summary = _summary(similar)

    predicted = loaded.model.predict(features, read.reach)
    prediction = ConversionPrediction(
        conversion_rate=round(predicted.rate, _RATE_PLACES), low=round(predicted.low, _RATE_PLACES),
        high=round(predicted.high, _RATE_PLACES), level=predicted.level,
        imputed=[EstimateFeatureLabel(feature=g, label_zh=FEATURE_LABELS[g][0], label_en=FEATURE_LABELS[g][1])
                 for g in predicted.imputed])

    reach = read.reach
    predicted_responses = round(predicted.rate * reach) if reach else None
    operator_rate, source = values.expected_conversion_rate, "fields"
    operator_responses = round(operator_rate * reach) if operator_rate is not None and reach else None
    if operator_rate is None:
        operator_responses = expected_from_text(values.expected_output)
        source = "text" if operator_responses is not None else "none"
        operator_rate = operator_responses / reach if operator_responses is not None and reach else None
    budget_fen = values.budget_fen
    budget = EstimateBudget(
        budget_fen=budget_fen, reach=reach, predicted_responses=predicted_responses,
        cost_per_response_fen=_per(budget_fen, predicted_responses) if budget_fen and predicted_responses else None,
        cost_per_contact_fen=_per(budget_fen, reach) if budget_fen and reach else None,
        operator_conversion_rate=round(operator_rate, _RATE_PLACES) if operator_rate is not None else None,
        operator_responses=operator_responses, operator_source=source,
        similar_cost_per_response_fen=summary.median_cost_per_response_fen)
    return PlanEstimateRead(
        plan_id=plan_id, features=read, similar=similar, similar_summary=summary, prediction=prediction,
        model=_model_info(session, loaded.model, loaded.fitted_at), budget=budget,
        flags=_flags(operator_rate=operator_rate, summary=summary, prediction=prediction, budget=budget))


def check_audience(*, session: Session, principal: Principal, body: PlanEstimateRequest) -> None:
    if body.audience_id is not None:
        from omniloop.audiences import service as audience_service

        audience_service.get_visible(session=session, principal=principal, audience_id=body.audience_id)


__all__ = ["MIN_HISTORY", "InsufficientHistory", "check_audience", "clear_cache", "estimate", "expected_from_text",
           "history", "roi"]
