"""Plan versions compared field by field (版本比对)."""

from __future__ import annotations

from typing import Any

# The fields a version holds, in the order the console shows them, with their labels.
VERSIONED_FIELDS: list[tuple[str, str, str]] = [
    ("title", "活动名称", "Title"),
    ("objective", "活动目标", "Objective"),
    ("lifecycle_stage", "目标生命周期阶段", "Lifecycle stage"),
    ("business_line", "业务条线", "Business line"),
    ("audience_description", "目标客群描述", "Target audience"),
    ("audience_id", "关联客群", "Linked audience"),
    ("audience_tags", "客群标签", "Audience tags"),
    ("channels", "营销渠道", "Channels"),
    ("benefit_type", "权益类型", "Benefit type"),
    ("benefits", "权益说明", "Benefits"),
    ("mode", "营销模式", "Mode"),
    ("budget_fen", "预算（分）", "Budget (fen)"),
    ("expected_reach", "预计触达人数", "Expected reach"),
    ("expected_conversion_rate", "预计转化率", "Expected conversion rate"),
    ("expected_output", "预估产出", "Expected output"),
    ("start_date", "开始日期", "Start date"),
    ("end_date", "结束日期", "End date"),
    ("owner_org_id", "归属机构", "Owner org"),
]
FIELD_NAMES = [name for name, _, _ in VERSIONED_FIELDS]


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """One row a field: its labels, both values and whether it changed."""
    return [
        {"field": name, "label_zh": zh, "label_en": en, "before": before.get(name), "after": after.get(name),
         "changed": before.get(name) != after.get(name)}
        for name, zh, en in VERSIONED_FIELDS
    ]
