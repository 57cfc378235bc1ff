"""Campaign wave benchmark (波次接触基准): a wave through arbitration and contact policy into the outbox.

Set-up (not timed): ``customers`` customers under one org (a phone each, 70 % app users), the demo
contact rules (SMS ≤ 2 and all channels ≤ 4 a rolling week, marketing ≥ 24 h apart, SMS quiet hours
21:00–08:00), 2 % of customers with SMS consent withdrawn, 0.5 % on the global do-not-disturb list, and
a realistic history: eight past campaigns over the last 30 days, each having contacted a random 40 % of
the customers (≈ 3.2 contacts a customer), plus a competing campaign whose wave is still *pending* in the
outbox for 20 % of them (it counts as history: arbitration against another campaign).

Timed: the wave of one campaign (priority 6, channels app push → SMS → RM task) to every customer, in
chunks of ``chunk`` customers, each chunk in one transaction exactly as ``campaigns.execution`` runs it:
``contacts.service.evaluate`` (lock, set-based loads of state and history, the pure engine) then
``contacts.service.record`` (decisions + outbox rows), commit. ``contacts_per_s`` = proposals decided and
recorded per second (every customer gets a decision; allowed and deferred ones an outbox row).

Reference: the outbox rows that wave wrote, deleted and inserted again by a bare bulk insert (same
statement, same chunking, no evaluation) in the same run. ``ratio`` = contacts/s over reference rows/s.

SQLite by default (temporary file); PostgreSQL with ``database_url`` (or OMNILOOP_BENCH_DATABASE_URL) —
its tables are emptied first.
"""

from __future__ import annotations

import json
import os
import platform
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from sqlalchemy import Engine, delete, func, insert, select, text

BENCH_DB_ENV = "OMNILOOP_BENCH_DATABASE_URL"
PAST_CAMPAIGNS = 8
PAST_SHARE = 0.4
PENDING_SHARE = 0.2


def _bulk(engine: Engine, table, rows: list[dict], chunk: int = 100_000) -> None:
    """Set-up inserts through the driver (COPY on PostgreSQL, executemany on SQLite): not timed, but a
    million customers and a few million history rows should not take longer than the benchmark."""
    if not rows:
        return
    columns = list(rows[0])
    sqlite = engine.dialect.name == "sqlite"

    def value(v):
        if sqlite and isinstance(v, datetime):
            return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return v

    for i in range(0, len(rows), chunk):
        part = [tuple(value(r[c]) for c in columns) for r in rows[i:i + chunk]]
        with engine.begin() as conn:
            dbapi = conn.connection.driver_connection
            if sqlite:
                dbapi.executemany(f"INSERT INTO {table.name} ({', '.join(columns)}) "
                                  f"VALUES ({', '.join('?' * len(columns))})", part)
            else:
                with dbapi.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in part:
                        copy.write_row(row)


def _empty(engine: Engine) -> None:
    from omniloop.core import models_registry  # noqa: F401
    from omniloop.core.db import Base

    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


def _prepare(engine: Engine, customers: int, now: datetime, seed: int, log) -> dict:
    from omniloop.campaigns.models import Campaign
    from omniloop.contacts.models import (
        ContactRule,
        CustomerConsent,
        OutboxMessage,
        SuppressionEntry,
        SuppressionList,
    )
    from omniloop.customers.models import Customer
    from omniloop.org.models import Org
    from omniloop.plans.models import Plan

    rng = random.Random(seed)
    _empty(engine)
    with engine.begin() as conn:
        org_id = conn.execute(insert(Org.__table__).returning(Org.id), {
            "code": "BENCH", "name": "基准总行", "level": "head_office", "path": "/"}).scalar()
        conn.execute(text("UPDATE orgs SET path = :p WHERE id = :id"), {"p": f"/{org_id}/", "id": org_id})
        plan_id = conn.execute(insert(Plan.__table__).returning(Plan.id), {
            "title": "基准方案", "owner_org_id": org_id, "status": "approved", "version": 1,
            "approved_version": 1}).scalar()

        def campaign(code, priority, value):
            return conn.execute(insert(Campaign.__table__).returning(Campaign.id), {
                "code": code, "name": code, "plan_id": plan_id, "plan_version": 1, "owner_org_id": org_id,
                "status": "running", "priority": priority, "expected_value_fen": value, "campaign_type": "marketing",
                "channels": ["app_push", "sms"]}).scalar()

        past = [campaign(f"PAST-{i}", rng.randint(1, 9), rng.randint(0, 5000)) for i in range(PAST_CAMPAIGNS)]
        rival = campaign("RIVAL", 7, 3000)
        wave_campaign = campaign("WAVE", 6, 2000)
        for rule in (
            {"kind": "cap", "name": "短信每周2次", "channel": "sms", "window_hours": 168, "max_contacts": 2},
            {"kind": "cap", "name": "全渠道每周4次", "window_hours": 168, "max_contacts": 4},
            {"kind": "min_interval", "name": "营销间隔24小时", "campaign_type": "marketing", "min_interval_hours": 24},
            {"kind": "quiet_hours", "name": "短信夜间免打扰", "channel": "sms", "quiet_start": dtime(21),
             "quiet_end": dtime(8), "timezone": "Asia/Shanghai"},
        ):
            conn.execute(insert(ContactRule.__table__), rule)
    log(f"customers: {customers:,}")
    stamp = now - timedelta(days=40)
    rows = [{"customer_no": f"B{i:010d}", "org_id": org_id, "name": "客户", "phone": "13800000000",
             "segment": "retail", "deposit_fen": 0, "wealth_fen": 0, "fund_fen": 0, "insurance_fen": 0, "loan_fen": 0,
             "has_credit_card": False, "credit_card_activated": False, "aum_fen": 0,
             "app_logins_month": 3 if rng.random() < 0.7 else 0, "payroll_flag": False,
             "created_at": stamp, "updated_at": stamp} for i in range(customers)]
    _bulk(engine, Customer.__table__, rows)
    del rows
    with engine.connect() as conn:
        ids = list(conn.execute(select(Customer.id).order_by(Customer.id)).scalars())
    withdrawn = rng.sample(ids, int(customers * 0.02))
    _bulk(engine, CustomerConsent.__table__, [
        {"customer_id": c, "channel": "sms", "status": "withdrawn", "source": "app", "recorded_at": stamp}
        for c in withdrawn])
    with engine.begin() as conn:
        dnd = conn.execute(insert(SuppressionList.__table__).returning(SuppressionList.id), {
            "name": "全局免打扰", "kind": "dnd", "owner_org_id": org_id, "entry_count": 0}).scalar()
    dnd_ids = rng.sample(ids, int(customers * 0.005))
    _bulk(engine, SuppressionEntry.__table__, [
        {"list_id": dnd, "customer_id": c, "source": "upload", "added_at": stamp} for c in dnd_ids])
    log("history: past campaigns over 30 days + a pending rival wave")
    history = 0
    for n, cid in enumerate(past):
        sent_at = now - timedelta(days=30) + timedelta(days=30 * n / PAST_CAMPAIGNS, hours=rng.randint(0, 8))
        channel = ("sms", "app_push", "wechat")[n % 3]
        chosen = rng.sample(ids, int(customers * PAST_SHARE))
        _bulk(engine, OutboxMessage.__table__, [
            {"campaign_id": cid, "occasion": "wave:1", "customer_id": c, "channel": channel, "status": "delivered",
             "not_before": sent_at, "sent_at": sent_at, "delivered_at": sent_at, "attempts": 1, "created_at": sent_at,
             "updated_at": sent_at} for c in chosen])
        history += len(chosen)
    pending_at = now + timedelta(hours=2)
    chosen = rng.sample(ids, int(customers * PENDING_SHARE))
    _bulk(engine, OutboxMessage.__table__, [
        {"campaign_id": rival, "occasion": "wave:1", "customer_id": c, "channel": "app_push", "status": "pending",
         "not_before": pending_at, "attempts": 0, "created_at": now, "updated_at": now} for c in chosen])
    history += len(chosen)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return {"ids": ids, "campaign_id": wave_campaign, "history_rows": history}


def _wave(engine: Engine, ids: list[int], campaign_id: int, now: datetime, chunk: int) -> dict:
    from omniloop.contacts import service
    from omniloop.contacts.policy import Proposal
    from omniloop.core.db import session_factory

    counts = {"allowed": 0, "deferred": 0, "skipped": 0}
    reasons: dict[str, int] = {}
    factory = session_factory(engine)
    channels = ("app_push", "sms", "rm_task")
    cpu = time.process_time()
    started = time.perf_counter()
    for i in range(0, len(ids), chunk):
        with factory() as session:
            proposals = [Proposal(campaign_id, "wave:1", cid, channels, "marketing", 6, 2000, now)
                         for cid in ids[i:i + chunk]]
            decisions = service.evaluate(session, proposals=proposals, now=now)
            result = service.record(session, campaign_id=campaign_id, wave_id=1, occasion="wave:1",
                                    decisions=decisions, template_versions={"app_push": 1, "sms": 2, "rm_task": 3},
                                    now=now)
            session.commit()
        for key in counts:
            counts[key] += result[key]
        for d in decisions:
            if d.reason:
                reasons[d.reason] = reasons.get(d.reason, 0) + 1
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    return {"proposals": len(ids), **counts, "cpu_seconds": round(cpu, 3),
            "cpu_contacts_per_s": round(len(ids) / max(cpu, 1e-9)), "reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
            "seconds": round(seconds, 3), "contacts_per_s": round(len(ids) / seconds),
            "outbox_rows_per_s": round((counts["allowed"] + counts["deferred"]) / seconds)}


def _reference(engine: Engine, campaign_id: int, chunk: int) -> dict:
    from omniloop.contacts.models import OutboxMessage
    from omniloop.contacts.service import _insert

    columns = [c for c in OutboxMessage.__table__.columns if c.name != "id"]
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(*columns).where(OutboxMessage.campaign_id == campaign_id).order_by(OutboxMessage.id))]
        written = len(rows)
    with engine.begin() as conn:
        conn.execute(delete(OutboxMessage).where(OutboxMessage.campaign_id == campaign_id))
    from omniloop.core.db import session_factory

    factory = session_factory(engine)
    started = time.perf_counter()
    for i in range(0, len(rows), chunk):
        with factory() as session:
            session.connection().execute(_insert(session, OutboxMessage), rows[i:i + chunk])
            session.commit()
    seconds = time.perf_counter() - started
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.campaign_id == campaign_id)).scalar()
    assert stored == written, (stored, written)
    return {"rows": written, "seconds": round(seconds, 3), "rows_per_s": round(written / max(seconds, 1e-9))}


def run(customers: int = 1_000_000, *, chunk: int = 10_000, seed: int = 42, database_url: str | None = None,
        json_path: Path | str | None = None, log: Callable[[str], None] = print) -> dict:
    from omniloop.core.db import make_engine
    from omniloop.core.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="omniloop-bench-wave-") as tmp:
        url = database_url or os.environ.get(BENCH_DB_ENV) or f"sqlite:///{Path(tmp) / 'bench.db'}"
        database = "postgresql" if url.startswith("postgresql") else "sqlite"
        upgrade(url)
        engine = make_engine(url)
        # 10:00 Asia/Shanghai today: outside quiet hours, so deferrals come only from the rules' edges.
        now = datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0)
        log(f"preparing {database}")
        prepared = _prepare(engine, customers, now, seed, log)
        log(f"wave: {customers:,} proposals in chunks of {chunk:,}")
        wave = _wave(engine, prepared["ids"], prepared["campaign_id"], now, chunk)
        log(f"reference: bulk insert of the {wave['allowed'] + wave['deferred']:,} outbox rows")
        reference = _reference(engine, prepared["campaign_id"], chunk)
        engine.dispose()
    result = {
        "name": "wave",
        "params": {"customers": customers, "chunk": chunk, "seed": seed, "database": database,
                   "cpus": os.cpu_count(), "python": platform.python_version(),
                   "history_rows": prepared["history_rows"], "past_campaigns": PAST_CAMPAIGNS,
                   "rules": "sms<=2/168h, all<=4/168h, marketing min 24h, sms quiet 21-08 Asia/Shanghai"},
        "results": {"contacts_per_s": wave["contacts_per_s"], "wave": wave, "bulk_insert": reference},
        "reference": "bulk_insert",
        "ratio": round(wave["outbox_rows_per_s"] / max(reference["rows_per_s"], 1), 3),
    }
    if json_path is not None:
        Path(json_path).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return result
