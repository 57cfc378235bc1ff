"""Estimation requests and responses (活动测算, C2)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from omniloop.plans.schemas import _PlanFields


class PlanEstimateRequest(_PlanFields):
    """The plan form's values, saved or not (the same fields as a plan)."""


class EstimateFeatureLabel(BaseModel):
    feature: str
    label_zh: str
    label_en: str


class EstimateFeatures(BaseModel):
    """The plan's features as estimation sees them (normalised codes)."""

    lifecycle_stage: str | None
    business_line: str | None
    mode: str | None
    benefit_kind: str | None
    channels: list[str]
    audience_tags: list[str]
    reach: int | None = Field(description="customers to contact: the plan's expected reach or its audience's size")
    reach_source: Literal["plan", "audience", "none"]


class SimilarityTerm(BaseModel):
    feature: str
    label_zh: str
    label_en: str
    weight: float
    similarity: float
    contribution: float
    detail_zh: str
    detail_en: str
    matched: list[str]


class SimilarCampaign(BaseModel):
    campaign_id: int
    code: str
    name: str
    plan_id: int
    owner_org_name: str | None
    owner_org_name_en: str | None
    start_date: date | None
    end_date: date | None
    lifecycle_stage: str | None
    business_line: str | None
    mode: str | None
    benefit_kind: str | None
    channels: list[str]
    audience_tags: list[str]
    score: float = Field(description="0..1, the sum of the explanation's contributions")
    explanation: list[SimilarityTerm]
    audience_size: int
    sent: int
    delivered: int
    responded: int
    conversion_rate: float = Field(description="responded / sent")
    cost_fen: int
    revenue_fen: int
    roi: Decimal | None = Field(description="(revenue − cost) / cost, 4 decimals; null without cost")
    cost_per_response_fen: int | None
    control_size: int
    control_conversion_rate: float | None
    lift_pp: float | None = Field(description="conversion minus control conversion, percentage points")


class SimilarSummary(BaseModel):
    count: int
    weighted_conversion_rate: float | None = Field(description="mean conversion weighted by similarity score")
    max_conversion_rate: float | None
    median_roi: Decimal | None
    median_cost_per_response_fen: int | None


class EstimateModelFeature(BaseModel):
    name: str
    label_zh: str
    label_en: str
    coefficient: float = Field(description="effect on the log-odds of conversion")
    odds_ratio: float


class EstimateModelInfo(BaseModel):
    kind: str = "ridge_logit"
    description_zh: str
    description_en: str
    n_campaigns: int
    n_train: int
    n_test: int
    split: str
    mae_pp: float = Field(description="mean absolute error on held-out campaigns, percentage points")
    baseline_mae_pp: float = Field(description="the same for predicting the training mean rate")
    alpha: float
    residual_sd: float
    features: list[EstimateModelFeature]
    fitted_at: datetime


class ConversionPrediction(BaseModel):
    conversion_rate: float
    low: float
    high: float
    level: float
    imputed: list[EstimateFeatureLabel] = Field(description="features the plan leaves empty, taken as the history's average")


class EstimateBudget(BaseModel):
    budget_fen: int | None
    reach: int | None
    predicted_responses: int | None
    cost_per_response_fen: int | None = Field(description="budget / predicted responses")
    cost_per_contact_fen: int | None
    operator_conversion_rate: float | None
    operator_responses: int | None
    operator_source: Literal["fields", "text", "none"]
    similar_cost_per_response_fen: int | None


class EstimateFlag(BaseModel):
    code: str
    level: Literal["info", "warning"]
    message_zh: str
    message_en: str


class PlanEstimateRead(BaseModel):
    plan_id: int | None
    features: EstimateFeatures
    similar: list[SimilarCampaign]
    similar_summary: SimilarSummary
    prediction: ConversionPrediction
    model: EstimateModelInfo
    budget: EstimateBudget
    flags: list[EstimateFlag]
