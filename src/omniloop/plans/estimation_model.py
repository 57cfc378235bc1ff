"""The conversion-rate model for estimation (活动测算模型). Pure: plain rows in, a fitted model out.

Ridge regression (scikit-learn ``RidgeCV``) on the empirical logit of each past campaign's conversion rate
``log((responded + ½) / (sent − responded + ½))``, one row a campaign, over one-hot lifecycle stage, business
line, mode and benefit kind, multi-hot channels and audience tags, and log10 of the number sent. Why this
and not a binomial GLM weighted by customers: campaigns differ by far more than binomial noise (timing,
copy, the season), so a model weighted by tens of thousands of customers a campaign would be sure of itself
for no reason; one row a campaign treats that spread as the noise it is, and ridge keeps ~30 coefficients
stable on a few dozen campaigns. The logit keeps predictions inside 0..1 and makes effects multiplicative
on the odds, which is how channel and benefit effects behave.

Evaluation holds out the most recent quarter of campaigns (a time split: the model is used to predict the
future), fits on the rest and reports the mean absolute error in percentage points next to the error of
predicting the training mean. The model served is then refitted on all campaigns; its interval is the
5-fold cross-validated residual spread on the logit scale (90 %), mapped back to rates.

A feature the plan leaves empty is set to its average over the history (the column means of its one-hot
group), so the prediction averages over what is unknown instead of assuming "none of these".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from omniloop.plans.similarity import CampaignFeatures

GROUPS = ("lifecycle_stage", "business_line", "mode", "benefit_kind", "channels", "audience_tags")
PREFIX = {"lifecycle_stage": "stage", "business_line": "line", "mode": "mode", "benefit_kind": "benefit",
          "channels": "channel", "audience_tags": "tag"}
ALPHAS = tuple(float(a) for a in np.logspace(-2, 2, 17))
Z90 = 1.6449
MIN_TAG_CAMPAIGNS = 2  # a tag used by one campaign only cannot be told apart from that campaign's noise


@dataclass(frozen=True)
class HistoryRow:
    features: CampaignFeatures
    sent: int
    responded: int
    end_date: date | None
    campaign_id: int

    @property
    def rate(self) -> float:
        return self.responded / self.sent


@dataclass
class Evaluation:
    n_train: int
    n_test: int
    mae_pp: float  # the model, on held-out campaigns, percentage points
    baseline_mae_pp: float  # predicting the training mean rate for every held-out campaign
    split: str = "time"  # the most recent campaigns are held out


@dataclass
class FittedModel:
    columns: list[str]
    coefficients: np.ndarray
    intercept: float
    alpha: float
    column_means: np.ndarray
    residual_sd: float  # logit scale, cross-validated
    n_campaigns: int
    evaluation: Evaluation
    tags: frozenset[str] = field(default_factory=frozenset)

    def vector(self, features: CampaignFeatures, reach: int | None) -> tuple[np.ndarray, list[str]]:
        """The plan's row; unknown feature groups take the history's averages (and are named in the list)."""
        index = {c: i for i, c in enumerate(self.columns)}
        x = np.zeros(len(self.columns))
        imputed = []
        for group in GROUPS:
            values = _group_values(features, group, self.tags)
            if not values:
                imputed.append(group)
                for name, i in index.items():
                    if name.startswith(PREFIX[group] + "="):
                        x[i] = self.column_means[i]
                continue
            for value in values:
                i = index.get(f"{PREFIX[group]}={value}")
                if i is not None:
                    x[i] = 1.0
        i = index["log_reach"]
        if reach:
            x[i] = _log_reach(reach)
        else:
            x[i] = self.column_means[i]
            imputed.append("log_reach")
        return x, imputed

    def predict(self, features: CampaignFeatures, reach: int | None) -> Prediction:
        x, imputed = self.vector(features, reach)
        logit = float(x @ self.coefficients + self.intercept)
        spread = Z90 * self.residual_sd
        return Prediction(rate=_sigmoid(logit), low=_sigmoid(logit - spread), high=_sigmoid(logit + spread),
                          imputed=imputed)


@dataclass(frozen=True)
class Prediction:
    rate: float
    low: float
    high: float
    imputed: list[str]
    level: float = 0.9


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _log_reach(n: int) -> float:
    return math.log10(max(n, 1)) - 4.0  # centred near 10 000 customers


def _group_values(features: CampaignFeatures, group: str, tags: frozenset[str]) -> list[str]:
    value = getattr(features, group)
    if group == "audience_tags":
        return sorted(v for v in value if v in tags)
    if group == "channels":
        return sorted(value)
    return [value] if value else []


def empirical_logit(responded: int, sent: int) -> float:
    return math.log((responded + 0.5) / (sent - responded + 0.5))


def _design(rows: Sequence[HistoryRow], columns: list[str] | None = None,
            tags: frozenset[str] = frozenset()) -> tuple[np.ndarray, list[str]]:
    if columns is None:
        names = set()
        for row in rows:
            for group in GROUPS:
                names.update(f"{PREFIX[group]}={v}" for v in _group_values(row.features, group, tags))
        columns = sorted(names) + ["log_reach"]
    index = {c: i for i, c in enumerate(columns)}
    x = np.zeros((len(rows), len(columns)))
    for r, row in enumerate(rows):
        for group in GROUPS:
            for value in _group_values(row.features, group, tags):
                if (i := index.get(f"{PREFIX[group]}={value}")) is not None:
                    x[r, i] = 1.0
        x[r, index["log_reach"]] = _log_reach(row.sent)
    return x, columns


def warm_up_in_background() -> None:
    """Import scikit-learn in a daemon thread (several seconds of CPU, mostly SciPy) so that a server's
    first estimate does not pay for it. Called by ``omniloop serve`` and ``omniloop demo``, not by
    ``create_app``, so tests and workers that never estimate don't import it."""
    import threading

    def _import() -> None:
        import sklearn.linear_model
        import sklearn.model_selection  # noqa: F401

    threading.Thread(target=_import, name="sklearn-warm-up", daemon=True).start()


def _fit(rows: Sequence[HistoryRow]):
    from sklearn.linear_model import RidgeCV

    counts: dict[str, int] = {}
    for row in rows:
        for tag in row.features.audience_tags:
            counts[tag] = counts.get(tag, 0) + 1
    tags = frozenset(t for t, n in counts.items() if n >= MIN_TAG_CAMPAIGNS)
    x, columns = _design(rows, tags=tags)
    y = np.array([empirical_logit(r.responded, r.sent) for r in rows])
    model = RidgeCV(alphas=ALPHAS).fit(x, y)
    return model, x, y, columns, tags


def _mae_pp(model, rows: Sequence[HistoryRow], columns: list[str], tags: frozenset[str]) -> float:
    x, _ = _design(rows, columns, tags)
    predicted = 1.0 / (1.0 + np.exp(-model.predict(x)))
    actual = np.array([r.rate for r in rows])
    return float(np.mean(np.abs(predicted - actual)) * 100)


def split_by_time(rows: Sequence[HistoryRow], test_share: float = 0.25) -> tuple[list[HistoryRow], list[HistoryRow]]:
    """Oldest campaigns to train on, the most recent ``test_share`` (at least 3) held out."""
    ordered = sorted(rows, key=lambda r: (r.end_date or date.min, r.campaign_id))
    n_test = max(3, round(len(ordered) * test_share))
    return ordered[:-n_test], ordered[-n_test:]


def fit(rows: Sequence[HistoryRow]) -> FittedModel:
    """Evaluate on a held-out time split, then fit on everything. Needs at least 10 rows with ``sent > 0``."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold, cross_val_predict

    rows = [r for r in rows if r.sent > 0]
    if len(rows) < 10:
        raise ValueError("at least 10 campaigns with results are needed")
    train, test = split_by_time(rows)
    held, _, _, held_columns, held_tags = _fit(train)
    baseline = float(np.mean([r.rate for r in train]))
    evaluation = Evaluation(
        n_train=len(train), n_test=len(test), mae_pp=round(_mae_pp(held, test, held_columns, held_tags), 3),
        baseline_mae_pp=round(float(np.mean([abs(r.rate - baseline) for r in test])) * 100, 3))

    model, x, y, columns, tags = _fit(rows)
    folds = KFold(n_splits=min(5, len(rows)), shuffle=True, random_state=0)
    cv = cross_val_predict(Ridge(alpha=float(model.alpha_)), x, y, cv=folds)
    residual_sd = float(np.sqrt(np.mean((y - cv) ** 2)))
    return FittedModel(columns=columns, coefficients=np.asarray(model.coef_, dtype=float),
                       intercept=float(model.intercept_), alpha=float(model.alpha_), column_means=x.mean(axis=0),
                       residual_sd=residual_sd, n_campaigns=len(rows), evaluation=evaluation, tags=tags)


__all__ = ["Evaluation", "FittedModel", "HistoryRow", "Prediction", "empirical_logit", "fit", "split_by_time"]
