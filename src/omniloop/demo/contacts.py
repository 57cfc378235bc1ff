"""The demo bank's contact policy (接触策略): default rules, a global do-not-disturb list, some opt-outs,
and the outbox dispatcher's schedule. Idempotent: each part is added only when missing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omniloop.contacts import tasks
from omniloop.contacts.models import ContactRule, CustomerConsent, SuppressionEntry, SuppressionList
from omniloop.core.audit import Actor
from omniloop.customers.models import Customer
from omniloop.org.models import Org

RULES = (
    dict(kind="cap", name="短信滚动7天最多2次", channel="sms", window_hours=168, max_contacts=2),
    dict(kind="cap", name="全渠道滚动7天最多4次", channel=None, window_hours=168, max_contacts=4),
    dict(kind="cap", name="全渠道滚动24小时最多1次", channel=None, window_hours=24, max_contacts=1),
    dict(kind="min_interval", name="营销类接触间隔24小时", channel=None, campaign_type="marketing",
         min_interval_hours=24),
    dict(kind="quiet_hours", name="短信夜间免打扰 21:00–08:00", channel="sms", quiet_start=time(21),
         quiet_end=time(8)),
    dict(kind="quiet_hours", name="App推送夜间免打扰 22:00–08:00", channel="app_push", quiet_start=time(22),
         quiet_end=time(8)),
)
DND_CUSTOMERS = 12
SMS_OPT_OUTS = 40
EMAIL_OPT_INS = 200


def seed_contacts(session: Session, *, actor: Actor, seed: int = 42) -> dict:
    summary = {"rules": 0, "dnd": 0, "consents": 0}
    tasks.declare_schedules(session)
    if session.scalar(select(func.count()).select_from(ContactRule)) == 0:
        for values in RULES:
            session.add(ContactRule(**values, description="演示默认规则 (demo default)", updated_by_id=actor.user_id))
        summary["rules"] = len(RULES)
    root = session.scalar(select(Org).where(Org.parent_id.is_(None)).order_by(Org.id))
    ids = list(session.scalars(select(Customer.id).order_by(Customer.id).limit(5000)))
    if root is None or not ids:
        return summary
    rng = random.Random(seed)
    if session.scalar(select(SuppressionList.id).where(SuppressionList.kind == "dnd")) is None:
        dnd = SuppressionList(name="全局免打扰名单", kind="dnd", owner_org_id=root.id,
                              description="客户要求不再接收任何营销（演示）", entry_count=0)
        session.add(dnd)
        session.flush()
        chosen = rng.sample(ids, min(DND_CUSTOMERS, len(ids)))
        session.add_all([SuppressionEntry(list_id=dnd.id, customer_id=c, reason="客户来电要求免打扰", source="console")
                         for c in chosen])
        dnd.entry_count = len(chosen)
        summary["dnd"] = len(chosen)
    if session.scalar(select(func.count()).select_from(CustomerConsent)) == 0:
        now = datetime.now(UTC)
        rows = [CustomerConsent(customer_id=c, channel="sms", status="withdrawn",
                                source=rng.choice(["sms_reply", "app", "branch"]),
                                recorded_at=now - timedelta(days=rng.randint(1, 90)), note="回复TD退订（演示）")
                for c in rng.sample(ids, min(SMS_OPT_OUTS, len(ids)))]
        rows += [CustomerConsent(customer_id=c, channel="email", status="granted", source="web",
                                 recorded_at=now - timedelta(days=rng.randint(30, 400)))
                 for c in rng.sample(ids, min(EMAIL_OPT_INS, len(ids)))]
        session.add_all(rows)
        summary["consents"] = len(rows)
    session.flush()
    return summary
