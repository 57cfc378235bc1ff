"""The demo bank's campaign elements (要素): a current benefit catalog, one template per channel, the default
blocked-word list (敏感词) and success rules on the demo's real event names (see ``demo/events.py``).

Idempotent: each element is added only when its code / word / name is missing, so operators' edits survive
a restart. Codes never start with ``HIST-`` (the past campaigns of ``demo/history.py`` use those).
Every template is checked with ``content.checks.check_template`` before it is stored, so the demo
cannot ship a template the console would refuse.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.benefits.models import Benefit
from omniloop.content import checks
from omniloop.content.models import BlockedWord, MessageTemplate, MessageTemplateVersion
from omniloop.core import audit
from omniloop.core.audit import Actor
from omniloop.core.db import utcnow
from omniloop.org.models import Org
from omniloop.success import service as success_service
from omniloop.success.models import SuccessRule

SHANGHAI = ZoneInfo("Asia/Shanghai")

# code, name, kind, face value (fen), points, unit cost (fen), inventory, budget (fen) or None, days valid, text
BENEFITS = [
    ("WM-EXP-50", "50元理财体验券", "coupon", 5_000, 0, 5_000, 20_000, 100_000_000, 180,
     "购买指定理财产品满1万元可用，每客限领一张"),
    ("PTS-2000", "积分 2000", "points", 0, 2_000, 200, 50_000, 10_000_000, 365, "掌上银行积分，可兑换礼品或抵扣手续费"),
    ("FUND-FEE-1Z", "基金申购费率1折", "coupon", 0, 0, 300, 100_000, 30_000_000, 120, "线上申购非货币基金享申购费率1折"),
    ("NEW-ACCT-GIFT", "新客开户礼", "gift", 8_800, 0, 6_500, 5_000, 32_500_000, 90, "新开户并绑卡的客户领取定制礼品一份"),
    ("CC-CASHBACK-20", "信用卡首刷返现20元", "cashback", 2_000, 0, 2_000, 30_000, 60_000_000, 60,
     "新卡激活后30天内首笔消费满100元返现20元"),
]

BLOCKED_WORDS = [
    ("保本保息", "违规承诺"), ("保本", "违规承诺"), ("保息", "违规承诺"), ("刚性兑付", "违规承诺"), ("刚兑", "违规承诺"),
    ("零风险", "违规承诺"), ("无风险", "违规承诺"), ("稳赚", "夸大收益"), ("稳赚不赔", "夸大收益"),
    ("收益翻倍", "夸大收益"), ("最高收益", "夸大收益"), ("100%收益", "夸大收益"), ("绝对安全", "违规承诺"),
    ("内部消息", "诱导用语"), ("错过再等一年", "诱导用语"), ("全网最低", "诱导用语"),
]

# code, name, channel, purpose, subject, body, fields
TEMPLATES = [
    ("TPL-PUSH-WM", "理财体验券到账提醒", "app_push", "marketing", "{{ benefit.name }}已到账",
     "{{ customer.salutation }}，您的{{ benefit.name }}已放入卡券包，{{ benefit.valid_to }}前购买指定理财可用。", None),
    ("TPL-SMS-WM", "理财体验券短信", "sms", "marketing", None,
     "【之江银行】{{ customer.salutation }}，送您{{ benefit.name }}，{{ benefit.valid_to_zh }}前登录手机银行"
     "购买指定理财即可使用。{{ unsubscribe }}", None),
    ("TPL-SMS-BIND", "绑卡未完成提醒短信", "sms", "service", None,
     "【之江银行】{{ customer.salutation }}，您在手机银行的绑卡尚未完成，打开App继续即可，如非本人操作请忽略。", None),
    ("TPL-WX-POINTS", "积分到账微信通知", "wechat", "marketing", None, "",
     {"thing1": "{{ benefit.name }}", "time2": "{{ benefit.valid_to }}", "thing3": "{{ customer.branch }}"}),
    ("TPL-MAIL-FUND", "基金费率优惠邮件", "email", "marketing", "{{ customer.salutation }}，基金申购费率1折优惠",
     "<p>尊敬的{{ customer.salutation }}：</p><p>即日起至{{ benefit.valid_to_zh }}，通过手机银行申购非货币基金"
     "享{{ benefit.name }}优惠。基金有风险，投资需谨慎。</p><p>{{ customer.branch }} 敬上</p>", None),
    ("TPL-RM-NEWCUST", "新客首访任务", "rm_task", "service", "新客首访：{{ customer.name_masked }}",
     "客户{{ customer.name_masked }}（{{ customer.customer_no }}，{{ customer.lifecycle_stage }}）为新开户客户，"
     "请在3日内电话回访，介绍{{ benefit.name }}并协助完成绑卡。", None),
]

# name, event, filters, window days, value property, description
SUCCESS_RULES = [
    ("7日内购买理财（≥1万元）", "购买理财", [{"property": "amount_fen", "op": "gte", "value": 1_000_000}], 7,
     "amount_fen", "触达后7天内购买任一理财产品且金额不低于1万元"),
    ("3日内完成绑卡", "绑卡完成", [], 3, None, "触达后3天内完成他行借记卡绑定"),
    ("7日内登录", "登录", [], 7, None, "触达后7天内登录手机银行或网银"),
    ("14日内激活信用卡", "激活信用卡", [], 14, None, "触达后14天内激活新卡"),
]


def _head(session: Session) -> Org | None:
    return session.scalar(select(Org).where(Org.parent_id.is_(None)).order_by(Org.id))


def seed_elements(session: Session, *, actor: Actor, now: datetime | None = None) -> dict[str, int]:
    """Add the missing elements; returns how many of each were created."""
    head = _head(session)
    if head is None:
        return {}
    now = now or utcnow()
    today = now.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    created = {"benefits": 0, "templates": 0, "blocked_words": 0, "success_rules": 0}

    existing = set(session.scalars(select(Benefit.code)))
    for code, name, kind, face, points, cost, inventory, budget, days, text in BENEFITS:
        if code in existing:
            continue
        benefit = Benefit(code=code, name=name, kind=kind, face_value_fen=face, points=points, unit_cost_fen=cost,
                          inventory_total=inventory, inventory_left=inventory, budget_fen=budget, budget_used_fen=0,
                          valid_from=today - timedelta(days=7), valid_to=today + timedelta(days=days),
                          status="active", description=text, owner_org_id=head.id, version=1)
        session.add(benefit)
        session.flush()
        audit.record(session, actor=actor, action="benefit.create", entity_type="benefit", entity_id=benefit.id,
                     after=audit.snapshot(benefit))
        created["benefits"] += 1

    words = {w.lower() for w in session.scalars(select(BlockedWord.word))}
    for word, category in BLOCKED_WORDS:
        if word.lower() not in words:
            session.add(BlockedWord(word=word, category=category))
            created["blocked_words"] += 1
    session.flush()

    blocked = checks.load_blocked_words(session)
    codes = set(session.scalars(select(MessageTemplate.code)))
    for code, name, channel, purpose, subject, body, fields in TEMPLATES:
        if code in codes:
            continue
        problems = checks.errors(checks.check_template(channel, subject, body, fields, purpose, blocked))
        if problems:  # a demo template the console would refuse is a bug in this file
            raise ValueError(f"demo template {code}: {[p.code for p in problems]}")
        template = MessageTemplate(code=code, name=name, channel=channel, purpose=purpose, current_version=1,
                                   status="active", owner_org_id=head.id)
        session.add(template)
        session.flush()
        session.add(MessageTemplateVersion(template_id=template.id, version=1, subject=subject, body=body,
                                           fields=fields, variables=checks.used_variables(subject, body, fields)))
        audit.record(session, actor=actor, action="message_template.create", entity_type="message_template",
                     entity_id=template.id, after=audit.snapshot(template))
        created["templates"] += 1

    names = set(session.scalars(select(SuccessRule.name)))
    for name, event, filters, window, value_property, description in SUCCESS_RULES:
        if name in names:
            continue
        rule = SuccessRule(name=name, event_name=event, property_filter=success_service.normalise_filters(filters),
                           window_days=window, value_property=value_property, description=description,
                           owner_org_id=head.id)
        session.add(rule)
        session.flush()
        audit.record(session, actor=actor, action="success_rule.create", entity_type="success_rule",
                     entity_id=rule.id, after=audit.snapshot(rule))
        created["success_rules"] += 1
    session.flush()
    return created
