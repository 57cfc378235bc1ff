"""The lifecycle model (生命周期模型): two system tags and the two-track overview.

Stage (``lifecycle_stage``): acquire 获客 → activate 激活 → grow 成长 → retain 留存 → refer 推荐.
Status (``lifecycle_status``): novice 新客 / growth 成长 / mature 成熟 / churn_risk 流失预警 / dormant 沉睡.

Both are ordinary rule tags with cases (first match wins) that the bank edits in the console; they are
system tags (not deletable, enum over exactly these values) and their rules may not refer to the
lifecycle features. Each run computes them first and puts them in place of the feature columns of
the same names (``tags.runner``). The overview counts customers of each stage and status on two more
tracks — MAU (an app login this month) and AUM — within the caller's scope, from the current tag set.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.org.auth import Principal
from omniloop.org.models import Org
from omniloop.org.service import subtree_condition
from omniloop.tags.features import FEATURES
from omniloop.tags.models import TagDefinition
from omniloop.tags.schemas import LifecycleBucket, LifecycleOverview
from omniloop.tags.tagset import feature_store, tag_column, tag_store

STAGE_LABELS = {"acquire": ("获客期", "Acquire"), "activate": ("激活期", "Activate"), "grow": ("成长期", "Grow"),
                "retain": ("留存期", "Retain"), "refer": ("推荐期", "Refer")}
STATUS_LABELS = {"novice": ("新客", "Novice"), "growth": ("成长客户", "Growth"), "mature": ("成熟客户", "Mature"),
                 "churn_risk": ("流失预警", "Churn risk"), "dormant": ("沉睡客户", "Dormant")}


def _case(value: str, labels: dict[str, tuple[str, str]], rule: str) -> dict[str, str]:
    zh, en = labels[value]
    return {"value": value, "label_zh": zh, "label_en": en, "rule": rule}


def _else(value: str, labels: dict[str, tuple[str, str]]) -> dict[str, str]:
    zh, en = labels[value]
    return {"value": value, "label_zh": zh, "label_en": en}


# Default rules; the bank edits them in the console. Money in yuan.
DEFAULT_STAGE_DEFINITION: dict[str, Any] = {
    "cases": [
        _case("acquire", STAGE_LABELS, "tenure_days < 90 and aum_avg_3m < 1000"),
        _case("activate", STAGE_LABELS, "product_count <= 1 and aum_avg_3m < 50000"),
        _case("refer", STAGE_LABELS, "aum_avg_3m >= 500000 and product_count >= 4 and app_logins_3m >= 6"),
        _case("grow", STAGE_LABELS, "aum_avg_3m < 500000"),
    ],
    "else": _else("retain", STAGE_LABELS),
}
DEFAULT_STATUS_DEFINITION: dict[str, Any] = {
    "cases": [
        # The example from the bank: no login for 90 days and AUM fell by half.
        _case("dormant", STATUS_LABELS,
              "(months_since_login >= 3 or months_since_login is null) and (aum_change_3m <= -0.5 or aum < 100)"),
        _case("churn_risk", STATUS_LABELS, "aum_change_3m <= -0.3 or months_since_login >= 2"),
        _case("novice", STATUS_LABELS, "tenure_days < 180"),
        _case("mature", STATUS_LABELS, "aum_avg_3m >= 200000 and product_count >= 3"),
    ],
    "else": _else("growth", STATUS_LABELS),
}


def _scope(session: Session, principal: Principal) -> tuple[list[int], int | None]:
    orgs = list(session.scalars(select(Org.id).where(subtree_condition(Org.path, principal.org.path))))
    rm = principal.user.id if principal.role.assigned_customers_only else None
    return orgs, rm


def _labels(session: Session, code: str, fallback: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    tag = session.scalar(select(TagDefinition).where(TagDefinition.code == code))
    labels = dict(fallback)
    for item in (tag.values if tag else None) or []:
        labels[str(item["value"])] = (item.get("label_zh") or item["value"], item.get("label_en") or item["value"])
    return labels


def overview(session: Session, *, principal: Principal, home: Path) -> LifecycleOverview:
    """Customers, MAU and AUM (fen) per stage and per status in the caller's scope, from the current tag set."""
    tagsets = tag_store(home)
    version = tagsets.current_version()
    stage_labels = _labels(session, "lifecycle_stage", STAGE_LABELS)
    status_labels = _labels(session, "lifecycle_status", STATUS_LABELS)

    def buckets(rows: dict[Any, tuple[int, int, int]], labels: dict[str, tuple[str, str]], values: tuple[str, ...]
                ) -> list[LifecycleBucket]:
        out = []
        for value in [*values, *(v for v in rows if v not in values)]:
            customers, mau, aum = rows.get(value, (0, 0, 0))
            if value is None:
                zh, en = "未分类", "Unclassified"
                if not customers:
                    continue
            else:
                zh, en = labels.get(value, (value, value))
            out.append(LifecycleBucket(value=value, label_zh=zh, label_en=en, customers=customers, mau=mau,
                                       aum_fen=aum))
        return out

    if version is None:
        return LifecycleOverview(tagset_version=None, as_of=None, total_customers=0, total_mau=0, total_aum_fen=0,
                                 stages=buckets({}, stage_labels, FEATURES["lifecycle_stage"].values),
                                 statuses=buckets({}, status_labels, FEATURES["lifecycle_status"].values))
    manifest = tagsets.manifest(version)
    features = feature_store(home)
    feature_version = manifest.get("feature_version")
    feature_path = features.path(feature_version) if feature_version is not None else None
    if feature_path is None or not feature_path.exists():  # pruned: the current features are the nearest
        feature_path = features.path(features.current_version())
    values_path = tagsets.path(version)
    columns = set((manifest.get("tags") or {}))
    orgs, rm = _scope(session, principal)

    def column(code: str) -> str:
        return f't."{tag_column(code)}"' if code in columns else f'f."{code}"'

    where = ["list_contains(?, f.org_id)"]
    params: list[Any] = [orgs]
    if rm is not None:
        where.append("f.rm_id = ?")
        params.append(rm)
    con = duckdb.connect(":memory:")
    try:
        results = {}
        for code in ("lifecycle_stage", "lifecycle_status"):
            rows = con.execute(
                f"SELECT {column(code)} AS v, count(*), count(*) FILTER (WHERE f.app_logins_month > 0), "
                f"coalesce(sum(f.aum_fen), 0) "
                f"FROM read_parquet(?) f LEFT JOIN read_parquet(?) t ON t.cid = f.cid "
                f"WHERE {' AND '.join(where)} GROUP BY 1",
                [str(feature_path), str(values_path), *params]).fetchall()
            results[code] = {v: (int(n), int(m), int(a)) for v, n, m, a in rows}
    finally:
        con.close()
    stage_rows = results["lifecycle_stage"]
    as_of = manifest.get("as_of")
    return LifecycleOverview(
        tagset_version=version, as_of=date.fromisoformat(as_of) if as_of else None,
        total_customers=sum(r[0] for r in stage_rows.values()), total_mau=sum(r[1] for r in stage_rows.values()),
        total_aum_fen=sum(r[2] for r in stage_rows.values()),
        stages=buckets(stage_rows, stage_labels, FEATURES["lifecycle_stage"].values),
        statuses=buckets(results["lifecycle_status"], status_labels, FEATURES["lifecycle_status"].values))


__all__ = ["DEFAULT_STAGE_DEFINITION", "DEFAULT_STATUS_DEFINITION", "STAGE_LABELS", "STATUS_LABELS", "overview"]
