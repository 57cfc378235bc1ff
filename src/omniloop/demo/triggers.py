"""The demo bank's triggers (演示触发器) — the six examples of the 识客 brief — and customer holdings
(wealth products and time deposits with maturity dates) for the maturity key date. Safe to call again:
triggers are matched by name, and holdings are only generated while there are none."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from omniloop.core import audit
from omniloop.core.audit import Actor
from omniloop.core.clock import Clock
from omniloop.core.db import utcnow
from omniloop.customers.models import Customer, CustomerHolding
from omniloop.org.models import Org
from omniloop.triggers import definitions as defs
from omniloop.triggers import service
from omniloop.triggers.models import Trigger

DEMO_TRIGGERS: list[dict] = [
    dict(name="大额理财购买（单笔≥5万元）", kind="event",
         description="客户在手机银行单笔购买理财 5 万元及以上，实时推送专属理财经理跟进",
         definition={"event": "理财购买", "filters": [
             {"property": "amount_fen", "op": "gte", "value": 5_000_000, "type": "number"}]}),
    dict(name="首次绑卡", kind="first_time", description="客户第一次在手机银行完成绑卡，发放新手礼",
         definition={"event": "绑卡完成"}),
    dict(name="绑卡断点召回（30分钟未完成）", kind="breakpoint",
         description="点击「一键绑卡」后 30 分钟内未完成绑卡（同一流程 flow_id），触发短信/推送召回",
         definition={"event": "点击绑卡", "then_event": "绑卡完成", "within_seconds": 1800, "match_key": "flow_id"}),
    dict(name="理财到期前3天", kind="key_date", description="理财产品到期前 3 天提醒客户续购",
         definition={"date_kind": "maturity", "days_before": 3, "product_types": ["wealth"]}),
    dict(name="开户周年", kind="key_date", description="开户纪念日当天发送周年关怀与权益",
         definition={"date_kind": "anniversary"}),
    dict(name="代发工资日", kind="key_date", description="代发客户工资到账当天，推荐活期理财与定投",
         definition={"date_kind": "payroll"}),
]

PRODUCTS = [
    ("W-AX30", "安享稳健30天", "wealth", 30), ("W-AX90", "安享稳健90天", "wealth", 90),
    ("W-JY180", "季季盈180天", "wealth", 180), ("D-3Y", "三年期整存整取", "deposit", 1095),
    ("D-1Y", "一年期整存整取", "deposit", 365),
]


def seed_holdings(session: Session, *, seed: int = 42, today: date | None = None) -> int:
    """Wealth products and time deposits for customers holding wealth or deposits, maturing over the coming
    months (so the maturity trigger fires every day of the demo)."""
    if session.scalar(select(CustomerHolding.id).limit(1)) is not None:
        return 0  # generated before (or loaded from the bank's data): leave them
    today = today or Clock().today()
    rng = random.Random(seed)
    rows = []
    for customer_id, wealth, deposit in session.execute(
            select(Customer.id, Customer.wealth_fen, Customer.deposit_fen).order_by(Customer.id)):
        for kind, amount in (("wealth", wealth), ("deposit", deposit // 2)):
            if amount <= 0 or rng.random() < 0.4:
                continue
            code, name, type_, days = rng.choice([p for p in PRODUCTS if p[2] == kind])
            maturity = today + timedelta(days=rng.randint(1, min(days, 120)))
            rows.append({"customer_id": customer_id, "product_code": code, "product_name": name,
                         "product_type": type_, "amount_fen": int(amount), "start_date": maturity - timedelta(days=days),
                         "maturity_date": maturity})
    for i in range(0, len(rows), 5000):
        session.execute(insert(CustomerHolding), rows[i:i + 5000])
    return len(rows)


def seed_triggers(session: Session, *, actor: Actor, seed: int = 42) -> dict:
    """Create and activate the demo triggers (owned by the head office) and the holdings; flushes, the
    caller commits."""
    head = session.scalar(select(Org).where(Org.parent_id.is_(None)).order_by(Org.id).limit(1))
    if head is None:
        return {"triggers": 0, "holdings": 0}
    now = utcnow()
    existing = set(session.scalars(select(Trigger.name)))
    created = 0
    for spec in DEMO_TRIGGERS:
        if spec["name"] in existing:
            continue
        definition = defs.to_json(defs.parse(spec["kind"], spec["definition"]))
        trigger = Trigger(name=spec["name"], description=spec["description"], kind=spec["kind"], definition=definition,
                          status="active", owner_org_id=head.id, version=1, active_since=now,
                          created_by_id=actor.user_id, updated_by_id=actor.user_id, created_at=now, updated_at=now)
        session.add(trigger)
        session.flush()
        audit.record(session, actor=actor, action="create", entity_type="trigger", entity_id=trigger.id,
                     after=audit.snapshot(trigger))
        created += 1
    service.ensure_runtime(session, now=now)
    holdings = seed_holdings(session, seed=seed) if session.scalar(select(func.count()).select_from(Customer)) else 0
    session.flush()
    return {"triggers": created, "holdings": holdings}
