"""Browser tests: a real ``omniloop serve`` on a free port, the built console, and Debian's Chromium.

The server runs in a subprocess against its own SQLite file, seeded here with tests/factories.py before it
starts. Needs ``web/dist`` (``make install`` or ``cd web && npm ci && npm run build``) and ``/usr/bin/chromium``
(``apt-get install chromium fonts-noto-cjk``); Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from omniloop.core.db import make_engine
from omniloop.core.migrate import upgrade
from omniloop.customers.models import CustomerMonthly
from omniloop.org.models import User
from tests.factories import PASSWORD, create_bank, create_customer, create_user

REPO = Path(__file__).resolve().parents[2]
# A helper building the console elsewhere (vite build --outDir) points the tests at it.
WEB_DIST = Path(os.environ.get("OMNILOOP_TEST_WEB_DIST", REPO / "web" / "dist"))
CHROMIUM = os.environ.get("OMNILOOP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SERVER_START_TIMEOUT = 90.0  # a loaded 2-core machine starts the seeded server slowly


@dataclass
class Seeded:
    """What the browser tests expect to find."""

    base_url: str
    total_customers: int
    rm_a_customers: list[str]  # customer numbers assigned to rm_a
    rm_a_phone: str  # unmasked phone of rm_a's first customer
    rm_a_phone_masked: str
    rm_a_display_name: str
    c360_customer: str  # rm_a's customer with 12 months of history
    home: Path | None = None  # OMNILOOP_HOME of the server (tag sets for the audience builder)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _publish_tagset(session: Session, home: Path) -> None:
    """Features built from the seeded database and a tag set with its index, as a tag run publishes them:
    tag ``vip`` is gold for the first four customers (by id) and silver for the others."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from omniloop.audiences.bitmap_index import BitmapIndex
    from omniloop.tags.feature_store import rebuild_features
    from omniloop.tags.tagset import TagMeta, feature_store, publish_tagset, tag_store

    features = feature_store(home)
    rebuild_features(session, features, as_of=date.today(), memory_limit=None)
    table = pq.read_table(features.path(features.current_version()))
    cids = sorted(table["cid"].to_pylist())
    tags = pa.table({"cid": pa.array(cids, pa.int64()),
                     "tag__vip": pa.array(["gold" if i < 4 else "silver" for i in range(len(cids))])})
    meta = TagMeta("vip", "enum", ("gold", "silver"), extra={"name_zh": "VIP等级", "name_en": "VIP level"})
    publish_tagset(tag_store(home), values=tags, index=BitmapIndex.build(table.join(tags, "cid"), tag_columns={"vip": "enum"}),
                   tags={"vip": meta}, feature_version=features.current_version(), run_id=None, as_of=date.today())


def _seed(url: str, home: Path | None = None) -> dict:
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        bank = create_bank(session)
        users = bank.users
        users["rm_a"].display_name = "李经理"
        users["rm_a2"].display_name = "王经理"
        users["rm_b"].display_name = "赵经理"
        users["operator"].display_name = "总行运营"
        users["admin"].display_name = "系统管理员"
        locked = create_user(session, org=bank.head, username="locked_user")
        locked.locked_until = _utcnow() + timedelta(hours=1)
        c1 = create_customer(session, org=bank.sub_a, rm=users["rm_a"], name="李小龙", phone="13900001111",
                             aum_fen=523_456_78, has_credit_card=True, credit_card_activated=True)
        c2 = create_customer(session, org=bank.sub_a, rm=users["rm_a"], name="陈美玲", phone="13900002222",
                             aum_fen=88_000_00)
        create_customer(session, org=bank.sub_a, rm=users["rm_a2"], name="王五", phone="13700003333")
        create_customer(session, org=bank.sub_b, rm=users["rm_b"], name="赵六", phone="13600004444")
        create_customer(session, org=bank.sub_b, rm=users["rm_b"], name="钱七", phone="13500005555")
        create_customer(session, org=bank.branch_a, name="孙八", phone="13400006666")
        for m in range(12):
            month = date(2025 + (m + 5) // 12, (m + 5) % 12 + 1, 1)
            session.add(CustomerMonthly(customer_id=c1.id, month=month, aum_fen=400_000_00 + m * 10_000_00,
                                        app_logins=3 + m))
        session.commit()
        if home is not None:
            _publish_tagset(session, home)
        result = {"total": 6, "rm_a": [c1.customer_no, c2.customer_no], "c360": c1.customer_no,
                  "rm_name": session.get(User, users["rm_a"].id).display_name}
    engine.dispose()
    return result


def _utcnow():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _wait_healthy(base_url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"omniloop serve exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(base_url + "/api/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"omniloop serve not healthy after {SERVER_START_TIMEOUT}s:\n{log.read_text(errors='replace')[-4000:]}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    if not (WEB_DIST / "index.html").is_file():
        pytest.fail(f"{WEB_DIST} is missing: run make install / npm run build (cd web && npm ci && npm run build)")
    home = tmp_path_factory.mktemp("e2e-home")
    url = f"sqlite:///{home / 'omniloop.db'}"
    seeded = _seed(url, home)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "OMNILOOP_HOME": str(home),
        "OMNILOOP_DATABASE_URL": url,
        "OMNILOOP_WEB_DIST": str(WEB_DIST),
        "OMNILOOP_LOG_JSON": "false",
        "OMNILOOP_LOG_LEVEL": "WARNING",
    }
    cli = Path(sys.executable).with_name("omniloop")
    cmd = [str(cli)] if cli.exists() else [sys.executable, "-c", "from omniloop.cli import app; app()"]
    log = home / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*cmd, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-upgrade"],
                                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=home)
    try:
        _wait_healthy(base_url, proc, log)
        phone = "13900001111"
        yield Seeded(base_url=base_url, total_customers=seeded["total"], rm_a_customers=seeded["rm_a"],
                     rm_a_phone=phone, rm_a_phone_masked=phone[:3] + "****" + phone[-4:],
                     rm_a_display_name=seeded["rm_name"], c360_customer=seeded["c360"], home=home)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium fonts-noto-cjk")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server: Seeded):
    """A fresh browser context (empty localStorage: Chinese, signed out) on the console."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def login(page, server: Seeded, username: str, password: str = PASSWORD) -> None:
    page.goto(server.base_url + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("[data-testid=login-submit]")


def pick(page, select, option: str, *, search: bool = False, verify: bool = False) -> None:
    """Open an Ant Design select and click the option (typing first to filter a long, virtualised list).

    With ``verify`` (single selects whose shown value is the option's label), wait until the select shows
    the option and reopen it if the click landed while the dropdown was still animating in — a lost click
    then retries instead of failing later with the old value.
    """
    from playwright.sync_api import expect

    for attempt in range(3):
        select.click()
        if search:
            page.keyboard.type(option)
        page.locator(".ant-select-dropdown:visible .ant-select-item-option", has_text=option).first.click()
        if not verify:
            return
        try:
            expect(select.locator(".ant-select-selection-item")).to_have_text(option, timeout=3000)
            return
        except AssertionError:
            if attempt == 2:
                raise
