"""Reason codes of contact decisions (接触决策原因) with their Chinese and English labels.

Cap and interval codes are built from the rule: ``cap_<window>_<channel>`` where window is ``day`` (24 h),
``week`` (168 h), ``month`` (720 h) or ``<n>h``, and channel is a channel code or ``all``;
``min_interval_<channel>``. ``label()`` understands those patterns too.
"""

from __future__ import annotations

REASONS: dict[str, tuple[str, str]] = {
    "dnd": ("全局免打扰", "Global do-not-disturb"),
    "suppressed_channel": ("渠道屏蔽名单", "On a channel suppression list"),
    "suppressed_campaign": ("活动屏蔽名单", "On the campaign's suppression list"),
    "suppressed": ("屏蔽名单", "On a suppression list"),
    "no_consent": ("未获授权或已退订", "No consent / opted out"),
    "unreachable": ("渠道不可达", "Channel not reachable (no phone / app)"),
    "outranked": ("被更高优先级活动占用", "Outranked by a higher-priority campaign"),
    "quiet_hours": ("免打扰时段，顺延发送", "Quiet hours — deferred"),
    "no_channel": ("未配置渠道", "No channel configured"),
    "duplicate": ("同一场景重复提议", "Duplicate proposal for the same occasion"),
    "already_recorded": ("已记录（重跑）", "Already recorded (re-run)"),
    "delivery_failed": ("发送失败", "Delivery failed"),
    "fallback_exhausted": ("备选渠道已用尽", "All fallback channels failed"),
    "benefit_exhausted": ("权益库存或预算不足", "Benefit inventory or budget exhausted"),
}

_WINDOWS = {"day": ("滚动24小时", "rolling 24 h"), "week": ("滚动7天", "rolling 7 days"),
            "month": ("滚动30天", "rolling 30 days")}
_CHANNELS = {"all": ("全渠道", "all channels"), "sms": ("短信", "SMS"), "app_push": ("App推送", "app push"),
             "in_app": ("站内信", "in-app message"), "wechat": ("微信", "WeChat"), "wecom": ("企业微信", "WeCom"),
             "outbound_call": ("外呼机器人", "outbound call"), "email": ("邮件", "e-mail"),
             "rm_task": ("客户经理任务", "RM task"), "webhook": ("Webhook", "webhook"), "sink": ("测试通道", "sink")}


def window_code(hours: int) -> str:
    return {24: "day", 168: "week", 720: "month"}.get(hours, f"{hours}h")


def cap_code(window_hours: int, channel: str | None) -> str:
    return f"cap_{window_code(window_hours)}_{channel or 'all'}"


def interval_code(channel: str | None) -> str:
    return f"min_interval_{channel or 'all'}"


def label(code: str | None, lang: str = "zh") -> str:
    """The label of a reason code in ``zh`` or ``en``; unknown codes are returned unchanged."""
    if code is None:
        return ""
    i = 0 if lang.startswith("zh") else 1
    if code in REASONS:
        return REASONS[code][i]
    if code.startswith("cap_"):
        _, window, channel = code.split("_", 2)
        w = _WINDOWS.get(window, (f"滚动{window[:-1]}小时", f"rolling {window}"))[i]
        c = _CHANNELS.get(channel, (channel, channel))[i]
        return f"{c}频次上限（{w}）" if i == 0 else f"{c} frequency cap ({w})"
    if code.startswith("min_interval_"):
        c = _CHANNELS.get(code[len("min_interval_"):], (code, code))[i]
        return f"{c}最小间隔" if i == 0 else f"{c} minimum interval"
    return code


def catalog() -> list[dict[str, str]]:
    """Every fixed code with labels (for the console's legend)."""
    return [{"code": c, "label_zh": zh, "label_en": en} for c, (zh, en) in REASONS.items()]
