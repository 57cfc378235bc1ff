"""The tag console in a real browser (A2, A4, A5): write a rule tag with live validation, run it, see its coverage.

Runs its own ``omniloop serve`` and ``omniloop worker`` against one SQLite file and data directory, so a
run requested in the console is executed by the worker like in production.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.core.audit import SYSTEM
from omniloop.core.db import make_engine
from omniloop.core.migrate import upgrade
from omniloop.customers.models import Customer
from omniloop.org.models import Org, User
from omniloop.tags import lifecycle, service
from omniloop.tags.schemas import TagCreate
from tests.e2e import conftest
from tests.e2e.conftest import WEB_DIST, Seeded, _free_port, _wait_healthy, login
from tests.factories import create_bank, create_customer

pytestmark = pytest.mark.e2e

THRESHOLD_YUAN = 500_000  # the rule the test writes: aum >= 50万
RUN_TIMEOUT_MS = 60_000


def _seed(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    rng = random.Random(7)
    with Session(engine) as session:
        bank = create_bank(session)
        orgs = [bank.sub_a, bank.sub_b, bank.branch_a, bank.head]
        for _ in range(40):
            aum = rng.choice([0, 3_000_00, 80_000_00, 499_999_99, 500_000_00, 1_200_000_00, 9_000_000_00])
            create_customer(session, org=rng.choice(orgs), rm=bank.users["rm_a"] if rng.random() < 0.3 else None,
                            aum_fen=aum)
        for code, name_zh, name_en, definition in (
            ("lifecycle_stage", "生命周期阶段", "Lifecycle stage", lifecycle.DEFAULT_STAGE_DEFINITION),
            ("lifecycle_status", "客户状态", "Customer status", lifecycle.DEFAULT_STATUS_DEFINITION),
        ):
            service.create_tag_as(session, actor=SYSTEM, org_id=bank.head.id, system=True, data=TagCreate(
                code=code, name_zh=name_zh, name_en=name_en, category="lifecycle", source="rule", value_type="enum",
                definition=definition))
        session.commit()
    engine.dispose()


def _expected(url: str) -> tuple[int, list[str], int]:
    """Customers the rule ``aum >= 50万`` selects, counted from the database (not from the tag system), the
    numbers of those customers, and how many of them rm_a may read (an RM's tag counts are their own:
    assigned to them, in their org subtree)."""
    engine = make_engine(url)
    with Session(engine) as session:
        rm_a = session.scalar(select(User).where(User.username == "rm_a"))
        rm_a_path = session.scalar(select(Org.path).where(Org.id == rm_a.org_id))
        rows = session.execute(select(Customer.customer_no, Customer.aum_fen, Customer.rm_id, Org.path)
                               .join(Org, Org.id == Customer.org_id).order_by(Customer.id)).all()
    engine.dispose()
    rich = [no for no, aum, _, _ in rows if aum >= THRESHOLD_YUAN * 100]
    mine = sum(1 for _, aum, rm, path in rows
               if aum >= THRESHOLD_YUAN * 100 and rm == rm_a.id and path.startswith(rm_a_path))
    return len(rich), rich, mine


def _start(cmd: list[str], env: dict, home: Path, name: str) -> tuple[subprocess.Popen, Path]:
    log = home / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=home)
    return proc, log


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def tag_server(tmp_path_factory: pytest.TempPathFactory):
    if not (WEB_DIST / "index.html").is_file():
        pytest.fail(f"{WEB_DIST} is missing: build the console (cd web && npm run build)")
    home = tmp_path_factory.mktemp("e2e-tags-home")
    url = f"sqlite:///{home / 'omniloop.db'}"
    _seed(url)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    # serve, and then the worker, import the whole app; on a busy machine that alone can take half a minute.
    conftest.SERVER_START_TIMEOUT = max(conftest.SERVER_START_TIMEOUT, 120.0)
    env = {**os.environ, "OMNILOOP_HOME": str(home), "OMNILOOP_DATABASE_URL": url, "OMNILOOP_WEB_DIST": str(WEB_DIST),
           "OMNILOOP_LOG_JSON": "false", "OMNILOOP_LOG_LEVEL": "WARNING"}
    cli = Path(sys.executable).with_name("omniloop")
    cmd = [str(cli)] if cli.exists() else [sys.executable, "-c", "from omniloop.cli import app; app()"]
    serve, serve_log = _start([*cmd, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-upgrade"],
                              env, home, "serve")
    worker = None
    try:
        _wait_healthy(base_url, serve, serve_log)
        worker, _ = _start([*cmd, "worker", "--poll", "0.2", "--no-upgrade"], env, home, "worker")
        yield Seeded(base_url=base_url, total_customers=40, rm_a_customers=[], rm_a_phone="", rm_a_phone_masked="",
                     rm_a_display_name="", c360_customer=""), _expected(url)
    finally:
        if worker is not None:
            _stop(worker)
        _stop(serve)


@pytest.fixture
def tpage(browser):  # the session's Chromium (one Playwright per process)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN",
                                      timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def _rule_problem(page):
    return page.locator('[data-testid="problem-definition.rule"]')


def test_operator_writes_runs_and_sees_coverage_rm_cannot_edit(tpage, tag_server):
    server, (expected, rich, rich_rm_a) = tag_server
    assert 0 < expected < server.total_customers  # the seeded data exercises the rule both ways
    assert rich_rm_a < expected  # an RM's coverage is their own customers', not the bank's
    page = tpage

    login(page, server, "operator")
    page.wait_for_url("**/customers")
    menu = page.locator("[data-testid=side-menu]")
    for label in ("标签管理", "跑批记录", "生命周期", "客户名单"):
        expect(menu).to_contain_text(label)
    menu.get_by_text("标签管理").click()
    page.wait_for_url("**/tags")
    expect(page.locator("[data-testid=tags-table]")).to_contain_text("生命周期阶段")
    page.click("[data-testid=tag-new]")
    page.wait_for_url("**/tags/new")

    page.fill("#tag_code", "rich_e2e")
    page.fill("#tag_name_zh", "高资产客户")
    page.fill("#tag_name_en", "Rich customer")
    rule = page.locator("#tag_definition_rule")
    # A wrong rule: an unknown feature; the live check marks it under the field with its position.
    rule.fill("aum >= 50万 and aumm > 1")
    expect(_rule_problem(page)).to_be_visible()
    expect(_rule_problem(page)).to_contain_text("第 1 行")
    expect(_rule_problem(page)).to_contain_text("aumm")
    expect(page.locator("[data-testid=validation-bad]")).to_be_visible()
    page.screenshot(path="/tmp/omniloop-e2e-tag-editor.png", full_page=True)
    # Fixed: the problem goes away and the features used are listed.
    rule.fill("aum >= 50万")
    expect(_rule_problem(page)).to_have_count(0)
    expect(page.locator("[data-testid=validation-ok]")).to_be_visible()
    expect(page.locator("[data-testid=features-used]")).to_contain_text("aum")

    page.click("[data-testid=tag-save]")
    page.wait_for_url(lambda u: "/tags/" in u and not u.endswith("/new"))
    expect(page.locator("[data-testid=tag-title]")).to_have_text("高资产客户")
    expect(page.locator("[data-testid=definition-rule]")).to_contain_text("aum >= 50万")
    tag_url = page.url

    page.click("[data-testid=tag-run]")
    expect(page.locator("[data-testid=detail-coverage]")).to_have_text(f"{expected:,}", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("[data-testid=detail-last-run]")).to_have_attribute("data-status", "succeeded")
    expect(page.locator("[data-testid=tag-run-log] tbody tr.ant-table-row")).to_have_count(1)
    expect(page.locator("[data-testid=tag-distribution]")).to_contain_text(f"{expected:,}")
    expect(page.locator("[data-testid=tag-distribution]")).to_contain_text(f"{server.total_customers - expected:,}")
    page.screenshot(path="/tmp/omniloop-e2e-tag-detail.png", full_page=True)

    page.goto(server.base_url + "/tags?q=rich_e2e")
    row = page.locator("[data-testid=tags-table] tbody tr.ant-table-row", has_text="rich_e2e")
    expect(row.locator("[data-testid=tag-coverage]")).to_have_text(f"{expected:,}")
    expect(row.locator("[data-testid=tag-last-run]")).to_have_attribute("data-status", "succeeded")

    page.goto(server.base_url + "/tag-runs")
    expect(page.locator("[data-testid=run-status]").first).to_have_attribute("data-status", "succeeded")
    page.locator("[data-testid=run-open]").first.click()
    expect(page.locator("[data-testid=run-results]")).to_contain_text("rich_e2e")
    page.screenshot(path="/tmp/omniloop-e2e-tag-runs.png", full_page=True)

    page.goto(server.base_url + "/lifecycle")
    counts = page.locator("[data-testid=lifecycle-stages] [data-testid=lifecycle-count]")
    expect(counts.first).to_be_visible()
    assert sum(int(c.replace(",", "")) for c in counts.all_inner_texts()) == server.total_customers
    expect(page.locator("[data-testid=edit-lifecycle_stage]")).to_be_visible()
    page.screenshot(path="/tmp/omniloop-e2e-lifecycle.png", full_page=True)

    # Customer 360: the tag and the lifecycle stage computed by the run.
    page.goto(f"{server.base_url}/customers/{rich[0]}")
    card = page.locator("[data-testid=c360-tags]")
    expect(card.locator("[data-testid=c360-tag-values]")).to_contain_text("高资产客户")
    expect(card.locator("[data-testid=c360-lifecycle-stage]")).not_to_have_text("-")
    page.screenshot(path="/tmp/omniloop-e2e-tag-c360.png", full_page=True)

    # An uploaded list reports the numbers it does not know.
    page.goto(server.base_url + "/customer-lists")
    page.click("[data-testid=list-upload]")
    page.fill("#list-name", "e2e 名单")
    csv = "客户号\n" + "\n".join([*rich[:2], "NOPE0001"]) + "\n"
    page.locator(".ant-modal input[type=file]").set_input_files(
        files=[{"name": "list.csv", "mimeType": "text/csv", "buffer": csv.encode()}])
    page.click("[data-testid=list-upload-submit]")
    expect(page.locator("[data-testid=list-report-matched]")).to_have_text("2")
    expect(page.locator("[data-testid=list-report-unknown]")).to_have_text("1")
    expect(page.locator("[data-testid=list-unknown-numbers]")).to_contain_text("NOPE0001")
    page.screenshot(path="/tmp/omniloop-e2e-lists.png", full_page=True)
    page.click("[data-testid=list-upload-done]")
    expect(page.locator("[data-testid=lists-table]")).to_contain_text("e2e 名单")
    expect(page.locator("[data-testid=lists-table] [data-testid=list-size]").first).to_have_text("2")

    # An RM reads tags but cannot edit or run them.
    page.click("[data-testid=logout]")
    page.wait_for_url("**/login")
    login(page, server, "rm_a")
    expect(page.locator("[data-testid=header-role]")).to_have_text("客户经理")
    page.goto(tag_url)
    expect(page.locator("[data-testid=tag-title]")).to_have_text("高资产客户")
    expect(page.locator("[data-testid=detail-scope]")).to_have_text("我管户的客户")
    expect(page.locator("[data-testid=detail-coverage]")).to_have_text(f"{rich_rm_a:,}")
    expect(page.locator("[data-testid=tag-edit]")).to_have_count(0)
    expect(page.locator("[data-testid=tag-run]")).to_have_count(0)
    page.goto(server.base_url + "/tags")
    expect(page.locator("[data-testid=tags-table]")).to_contain_text("rich_e2e")
    expect(page.locator("[data-testid=tag-new]")).to_have_count(0)
    expect(page.locator("[data-testid=tags-table] [data-testid=tag-edit]")).to_have_count(0)
    page.goto(tag_url + "/edit")
    expect(page.get_by_text("无权访问")).to_be_visible()
