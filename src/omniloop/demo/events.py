"""The demo bank's behaviour history (演示行为事件): a few years of app, web and core-banking events.

Creates the event sources — the app (write key ``demo-app-write-key``, documented in the README), the web
bank (``demo-web-write-key``) and the core-banking system that reports salary credits — and generates
past events for the demo customers: app sessions with logins and screen views (Chinese screen names),
wealth-product browsing and purchases, transfers, card binding started / completed with a ``flow_id``
(some stop half-way: the breakpoints a trigger looks for), credit-card activation and monthly salary
credits for payroll customers. Sessions follow the daily rhythm of a retail bank's app (morning commute,
lunch, evening peak) in Beijing time; activity follows each customer's app usage, and no event predates
the customer's account. Each customer's device id is linked to them as identify would have done.

Rows go straight to the driver in ts order (ids grow with time), then the store is exported to Parquet.
Deterministic for a seed; a no-op when the app source exists already.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from omniloop.core import audit
from omniloop.core.audit import SYSTEM
from omniloop.core.clock import Clock
from omniloop.customers.models import Customer
from omniloop.events import export, service, store
from omniloop.events.models import EventSource, Identity, IdentityMerge
from omniloop.events.schemas import EventSourceCreate
from omniloop.org.models import Org

APP_WRITE_KEY = "demo-app-write-key"
WEB_WRITE_KEY = "demo-web-write-key"
CORE_WRITE_KEY = "demo-core-write-key"
BEIJING = 8 * 3600
CHUNK = 100_000

# Share of sessions starting in each hour of the day, Beijing time: commute, lunch and the evening peak.
_RHYTHM = np.array([0.6, 0.3, 0.15, 0.1, 0.1, 0.3, 1.2, 3.2, 5.0, 4.6, 4.0, 4.2, 5.6, 5.0, 3.8, 3.6, 3.8, 4.2,
                    4.8, 5.8, 6.8, 7.2, 5.6, 2.6])
_RHYTHM = _RHYTHM / _RHYTHM.sum()
_SCREENS = ["首页", "账户总览", "转账汇款", "理财产品列表", "理财产品详情", "基金超市", "信用卡中心", "我的权益",
            "活动中心", "消息中心"]
_SCREEN_CUMULATIVE = np.cumsum([0.0, 0.22, 0.14, 0.16, 0.1, 0.09, 0.1, 0.07, 0.08, 0.04]).tolist()
_PRODUCTS = [("W30D", "稳健理财30天", "R2"), ("JJY", "季季盈", "R2"), ("NNX-A", "年年享A款", "R3"),
             ("XJB", "现金宝", "R1"), ("FOF-1", "优选配置FOF", "R3"), ("HS300", "沪深300指数基金", "R4")]
_LOGIN_METHODS = ["指纹", "人脸", "密码", "手势"]
_LOGIN_JSON = [store.dumps({"method": m}) for m in ["密码", *_LOGIN_METHODS]]  # properties as JSON text
_CONTEXTS = [
    {"app": {"name": "之江银行", "version": "8.3.1"}, "os": {"name": "iOS", "version": "17.5"}},
    {"app": {"name": "之江银行", "version": "8.3.1"}, "os": {"name": "Android", "version": "14"}},
    {"app": {"name": "之江银行", "version": "8.2.0"}, "os": {"name": "HarmonyOS", "version": "4.2"}},
]
_WEB_CONTEXT = {"userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "page": {"url": "https://ebank.zjbank.example"}}


@dataclass(frozen=True)
class EventSeedSummary:
    created: bool
    events: int
    customers_active: int
    days: int
    seconds: float
    exported_days: int


def _ensure_sources(session: Session) -> dict[str, int] | None:
    if session.scalar(select(EventSource.id).where(EventSource.key_hash == service.key_digest(APP_WRITE_KEY))):
        return None
    head = session.scalar(select(Org).where(Org.parent_id.is_(None)).order_by(Org.id))
    specs = [("app", "手机银行App", "app", APP_WRITE_KEY, "之江银行手机银行 App 埋点（演示）"),
             ("web", "网上银行", "web", WEB_WRITE_KEY, "个人网银 PC 端埋点（演示）"),
             ("core", "核心账务系统", "server", CORE_WRITE_KEY, "核心系统推送的账务事件，如工资到账（演示）")]
    ids = {}
    for key, name, kind, write_key, description in specs:
        source, _ = service.create_source(
            session=session, data=EventSourceCreate(name=name, kind=kind, org_id=head.id, description=description),
            actor=SYSTEM, root=None, write_key=write_key)
        ids[key] = source.id
    return ids


def _json(value: dict) -> str:
    return store.dumps(value)


def seed_events(session: Session, *, home: Path, seed: int = 42, years: int = 3, as_of: date | None = None,
                sessions_per_customer: float = 8.0,
                progress: Callable[[int, int], None] | None = None) -> EventSeedSummary:
    """Generate the demo customers' past events and commit; export them to Parquet under ``home``."""
    started = time.monotonic()
    sources = _ensure_sources(session)
    if sources is None:
        return EventSeedSummary(False, 0, 0, 0, 0.0, 0)
    end = as_of or Clock().today()
    start = end - timedelta(days=365 * years)
    rows = session.execute(select(
        Customer.id, Customer.customer_no, Customer.app_logins_month, Customer.first_account_date,
        Customer.payroll_flag, Customer.has_credit_card, Customer.credit_card_activated, Customer.wealth_fen,
        Customer.fund_fen, Customer.segment,
    ).order_by(Customer.id)).all()
    rng = np.random.default_rng([seed, 7])
    n = len(rows)
    cid = np.array([r.id for r in rows], dtype=np.int64)
    numbers = [r.customer_no for r in rows]
    logins = np.array([r.app_logins_month or 0 for r in rows], dtype=float)
    epoch = date(1970, 1, 1)
    first_day = np.array([((r.first_account_date or start) - epoch).days for r in rows], dtype=np.int64)
    start_day, end_day = (start - epoch).days, (end - epoch).days
    begin = np.maximum(first_day, start_day)
    span = np.maximum(end_day - begin, 0)
    invests = np.array([(r.wealth_fen or 0) + (r.fund_fen or 0) > 0 for r in rows])
    corporate = np.array([r.segment == "corporate" for r in rows])

    # ---- sessions: as many as the customer's app use suggests, over the time they have been a customer --
    weight = np.where(corporate, 0.3, 1.0) * (logins + 0.3 * (rng.random(n) < 0.4))
    mean = weight.mean() if n and weight.mean() > 0 else 1.0
    sessions = rng.poisson(weight / mean * sessions_per_customer * span / max(end_day - start_day, 1))
    owner = np.repeat(np.arange(n), sessions)
    total = len(owner)
    day = begin[owner] + (rng.random(total) * np.maximum(span[owner], 1)).astype(np.int64)
    hour = rng.choice(24, size=total, p=_RHYTHM)
    at = day * 86400 + hour * 3600 + rng.integers(0, 3600, total) - BEIJING  # UTC seconds
    web = rng.random(total) < 0.15
    views = np.minimum(1 + rng.poisson(1.2, total), 6)
    transfer = rng.random(total) < 0.18
    buy = rng.random(total) < np.where(invests[owner], 0.06, 0.01)
    bind = rng.random(total) < 0.012
    bind_done = rng.random(total) < 0.7
    device = rng.integers(0, len(_CONTEXTS), n)
    u = rng.random((total, 8)).tolist()
    # Plain lists: indexing numpy arrays element by element in the loop below would cost more than the loop.
    owner_l, at_l, web_l, views_l = owner.tolist(), at.tolist(), web.tolist(), views.tolist()
    transfer_l, buy_l, bind_l, done_l = transfer.tolist(), buy.tolist(), bind.tolist(), bind_done.tolist()

    events: list[tuple] = []  # (utc seconds, source key, type, name, anon, user, customer pos, properties)

    def add(t: float, source: str, kind: str, name: str, pos: int, props: dict | None, anon: str | None) -> None:
        events.append((t, source, kind, name, anon, numbers[pos], pos, props))

    for i in range(total):
        pos, t, on_web, r = owner_l[i], float(at_l[i]), web_l[i], u[i]
        anon = f"web-{seed}-{pos:07d}" if on_web else f"dev-{seed}-{pos:07d}"
        source = "web" if on_web else "app"
        view_type = "page" if on_web else "screen"
        add(t, source, "track", "登录", pos, _LOGIN_JSON[0 if on_web else 1 + int(r[0] * 4)], anon)
        add(t + 2, source, view_type, "首页", pos, None, anon)
        t += 5
        for v in range(views_l[i] - 1):
            t += 8 + 70 * r[(v + 1) % 8]
            name = _SCREENS[min(bisect.bisect_right(_SCREEN_CUMULATIVE, r[(v + 2) % 8]), len(_SCREENS) - 1)]
            add(t, source, view_type, name, pos, None, anon)
        if transfer_l[i]:
            t += 30 + 60 * r[3]
            amount = int(math.exp(7 + 2.2 * r[4])) * 100
            add(t, source, "track", "转账", pos, {"amount_fen": amount, "payee": "他行" if r[5] < 0.4 else "本行",
                                                  "channel": "网银" if on_web else "手机银行"}, anon)
        if buy_l[i]:
            code, product, risk = _PRODUCTS[int(r[6] * len(_PRODUCTS))]
            t += 20 + 40 * r[2]
            add(t, source, view_type, "理财产品详情", pos, {"product_code": code, "product_name": product}, anon)
            t += 60 + 240 * r[7]
            add(t, source, "track", "购买理财", pos, {"product_code": code, "product_name": product, "risk_level": risk,
                                                     "amount_fen": int(1000 + 200_000 * r[1] ** 2) * 100}, anon)
        if bind_l[i] and not on_web:
            flow = f"bind-{seed}-{i}"
            t += 15
            add(t, source, "track", "绑卡开始", pos, {"flow_id": flow, "card_type": "他行借记卡"}, anon)
            if done_l[i]:
                add(t + 60 + 420 * r[5], source, "track", "绑卡完成", pos, {"flow_id": flow, "card_type": "他行借记卡"},
                    anon)
            elif r[4] < 0.3:
                add(t + 40 + 100 * r[5], source, "track", "绑卡失败", pos, {"flow_id": flow, "reason": "短信验证码超时"},
                    anon)

    # ---- core banking: monthly salary credits of payroll customers, card activations -------------------
    payroll = np.flatnonzero([r.payroll_flag for r in rows])
    salary = np.round(np.exp(rng.normal(np.log(8500), 0.45, n)) / 10) * 1000  # fen, whole ten yuan
    pay_day = rng.choice([5, 10, 15, 25], n)
    months = np.arange(np.datetime64(start, "M"), np.datetime64(end, "M") + 1).astype("datetime64[D]")
    when = months[None, :] + (pay_day[payroll] - 1)[:, None]
    days_since_epoch = when.astype(np.int64)
    paid = (days_since_epoch >= start_day) & (days_since_epoch <= end_day) & (days_since_epoch >= first_day[payroll][:, None])
    credit_at = days_since_epoch * 86400 + 9 * 3600 - BEIJING + rng.integers(0, 1800, when.shape)
    salary_json = {int(pos): _json({"amount_fen": int(salary[pos]), "payer": "代发工资"}) for pos in payroll}
    for row, col in zip(*np.nonzero(paid), strict=True):
        pos = int(payroll[row])
        add(float(credit_at[row, col]), "core", "track", "工资到账", pos, salary_json[pos], None)
    for pos in np.flatnonzero([r.credit_card_activated for r in rows]):
        if span[pos] > 0:
            t = (begin[pos] + rng.integers(0, span[pos])) * 86400 + 10 * 3600 - BEIJING
            add(float(t), "app", "track", "激活信用卡", int(pos), {"card_level": "金卡" if rng.random() < 0.3 else "普卡"},
                f"dev-{seed}-{int(pos):07d}")

    events.sort(key=lambda e: e[0])
    written = _insert(session, events, sources=sources, cid=cid, device=device, seed=seed, progress=progress)
    active = _link_devices(session, owner=owner, cid=cid, at=at, sources=sources, seed=seed, web=web)
    audit.record(session, actor=SYSTEM, action="demo.seed_events", entity_type="demo", entity_id="events",
                 after={"seed": seed, "years": years, "events": written, "from": start.isoformat(),
                        "to": end.isoformat()})
    from omniloop.events import tasks

    tasks.declare_schedules(session)
    session.commit()
    exported = export.export_events(session.get_bind(), home=home, settle_seconds=0, full=True)
    return EventSeedSummary(True, written, active, (end - start).days, round(time.monotonic() - started, 2),
                            exported["days"])


def _reserve_ids(session: Session, count: int) -> list[int]:
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(text("SELECT nextval('events_id_seq') FROM generate_series(1, :n)"), {"n": count}))
    first = session.scalar(text("SELECT coalesce(max(id), 0) FROM events")) + 1
    return list(range(first, first + count))


def _insert(session: Session, events: list[tuple], *, sources: dict[str, int], cid: np.ndarray, device: np.ndarray,
            seed: int, progress) -> int:
    engine = session.get_bind()
    postgres = engine.dialect.name == "postgresql"
    if postgres and events:
        first = datetime.fromtimestamp(events[0][0], UTC).date()
        last = datetime.fromtimestamp(events[-1][0], UTC).date()
        session.commit()  # partitions are created in their own transactions
        store.ensure_partitions(engine, {first + timedelta(days=d) for d in range((last - first).days + 1)})
    contexts = [_json(c) for c in _CONTEXTS]
    web_context = _json(_WEB_CONTEXT)
    core_context = _json({"library": {"name": "core-banking-feed"}})
    seconds = np.array([e[0] for e in events], dtype=np.float64)
    stamps = (seconds * 1_000_000).astype("datetime64[us]")
    ts_text = np.char.replace(np.datetime_as_string(stamps, unit="us"), "T", " ").tolist()
    sent_text = np.char.replace(np.datetime_as_string(stamps + np.timedelta64(800, "ms"), unit="us"), "T", " ").tolist()
    got_text = np.char.replace(np.datetime_as_string(stamps + np.timedelta64(1100, "ms"), unit="us"), "T", " ").tolist()
    suffix = "+00" if postgres else ""
    done = 0
    connection = session.connection()
    indexes: list[str] = []
    if not postgres:
        # Building the indexes once after the load is several times faster than updating five B-trees
        # row by row in random key order.
        indexes = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL"
        ).all()
        for name, _sql in indexes:
            connection.exec_driver_sql(f'DROP INDEX "{name}"')
    for offset in range(0, len(events), CHUNK):
        part = events[offset:offset + CHUNK]
        ids = _reserve_ids(session, len(part))
        batch = []
        for k, (_t, source, kind, name, anon, user, pos, props) in enumerate(part):
            j = offset + k
            context = core_context if source == "core" else web_context if source == "web" else contexts[device[pos]]
            batch.append((ids[k], ts_text[j][:10], sources[source], f"demo-{seed}-{j:08d}", kind, name, anon, user,
                          int(cid[pos]), ts_text[j] + suffix, sent_text[j] + suffix, got_text[j] + suffix,
                          ts_text[j] + suffix, props if props is None or isinstance(props, str) else _json(props),
                          context))
        if postgres:
            cursor = connection.connection.driver_connection.cursor()
            with cursor, cursor.copy(f"COPY events ({', '.join(store.COLUMNS)}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row(row)
        else:
            connection.exec_driver_sql(
                f"INSERT INTO events ({', '.join(store.COLUMNS)}) VALUES ({', '.join('?' * len(store.COLUMNS))})",
                batch)
        done += len(part)
        if progress:
            progress(done, len(events))
    for _name, sql in indexes:
        connection.exec_driver_sql(sql)
    return done


def _link_devices(session: Session, *, owner: np.ndarray, cid: np.ndarray, at: np.ndarray,
                  sources: dict[str, int], seed: int, web: np.ndarray) -> int:
    """Each active customer's app device id, linked as identify would have linked it at the first session."""
    app = ~web
    positions, first = np.unique(owner[app], return_index=True)
    first_at = at[app][first]
    identities, merges = [], []
    for pos, seconds in zip(positions.tolist(), first_at.tolist(), strict=True):
        when = datetime.fromtimestamp(seconds, UTC)
        value = f"dev-{seed}-{pos:07d}"
        identities.append({"value": value, "kind": "anonymous", "customer_id": int(cid[pos]), "user_id": None,
                           "source_id": sources["app"], "first_seen_at": when, "linked_at": when})
        merges.append({"customer_id": int(cid[pos]), "identity": value, "kind": "anonymous", "via": "identify",
                       "previous_customer_id": None, "source_id": sources["app"], "message_id": f"demo-{seed}-idf-{pos}",
                       "events_attached": 0, "at": when})
    for i in range(0, len(identities), 5000):
        session.execute(insert(Identity), identities[i:i + 5000])
        session.execute(insert(IdentityMerge), merges[i:i + 5000])
    return len(identities)
