"""The events and triggers console in a real browser (B1, B2): create an event source and see its write key
once (copyable) and masked afterwards; an event sent to /v1 appears in the live stream; the trigger editor
tests a definition against stored events, activates it, and the firings page shows what a trigger worker
decided on the next event.

Uses the session's server (``tests/e2e/conftest.py``) and, for the decisions, a real ``omniloop triggers
run`` process on the same database.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e import conftest
from tests.e2e.conftest import Seeded, login

pytestmark = pytest.mark.e2e
# serve imports the whole app; on a busy machine that alone can take more than the default 40 s.
conftest.SERVER_START_TIMEOUT = max(conftest.SERVER_START_TIMEOUT, 240.0)


def _send(server: Seeded, write_key: str, *messages: dict) -> None:
    body = json.dumps({"batch": list(messages)}, ensure_ascii=False).encode()
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    request = urllib.request.Request(server.base_url + "/v1/batch", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": auth})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200 and json.loads(response.read()) == {"success": True}


def _track(customer_no: str, event: str, **properties) -> dict:
    return {"type": "track", "userId": customer_no, "event": event, "properties": properties,
            "messageId": f"e2e-{uuid.uuid4()}"}


@pytest.fixture
def trigger_worker(server: Seeded):
    assert server.home is not None
    env = {**os.environ, "OMNILOOP_HOME": str(server.home),
           "OMNILOOP_DATABASE_URL": f"sqlite:///{server.home / 'omniloop.db'}", "OMNILOOP_LOG_JSON": "false",
           "OMNILOOP_LOG_LEVEL": "WARNING"}
    cli = Path(sys.executable).with_name("omniloop")
    cmd = [str(cli)] if cli.exists() else [sys.executable, "-c", "from omniloop.cli import app; app()"]
    log = server.home / "triggers.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*cmd, "triggers", "run", "--poll", "0.1", "--no-upgrade"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, cwd=server.home)
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_source_key_stream_trigger_test_and_firings(page, server: Seeded, trigger_worker):
    customer = server.c360_customer
    login(page, server, "operator")
    page.wait_for_url("**/customers")

    # Event sources: the new key is shown once, copyable; the table shows only its prefix.
    page.goto(server.base_url + "/event-sources")
    page.get_by_role("button", name="新建事件源").click()
    dialog = page.locator(".ant-modal").filter(has_text="新建事件源")
    dialog.locator("input").first.fill("E2E 手机银行")
    dialog.locator(".ant-modal-footer .ant-btn-primary").click()
    key_box = page.locator("[data-testid=new-write-key]")
    expect(key_box).to_contain_text("wk_")
    write_key = key_box.inner_text().strip()
    assert len(write_key) > 20
    expect(key_box.locator(".ant-typography-copy")).to_be_visible()
    page.screenshot(path="/tmp/omniloop-e2e-event-source-key.png", full_page=True)
    page.keyboard.press("Escape")
    row = page.locator("[data-testid=sources-table] tbody tr.ant-table-row", has_text="E2E 手机银行")
    expect(row).to_contain_text(write_key[:8] + "…")
    assert write_key not in page.locator("[data-testid=sources-table]").inner_text()

    # The live stream shows an event sent through /v1 with that key.
    page.goto(server.base_url + "/events")
    expect(page.locator("[data-testid=stream-table]")).to_be_visible()
    _send(server, write_key, _track(customer, "E2E登录", channel="app"))
    stream_row = page.locator("[data-testid=stream-table] tbody tr.ant-table-row", has_text="E2E登录")
    expect(stream_row).to_contain_text(customer, timeout=30_000)
    page.screenshot(path="/tmp/omniloop-e2e-event-stream.png", full_page=True)

    # Trigger editor: the test runs the definition over the stored events, then save and activate.
    page.goto(server.base_url + "/triggers/new")
    page.fill("[data-testid=trigger-name]", "E2E 登录提醒")
    page.fill("[data-testid=trigger-event]", "E2E登录")
    page.click("[data-testid=trigger-test]")
    result = page.locator("[data-testid=trigger-test-result]")
    expect(result).to_contain_text(customer)
    page.screenshot(path="/tmp/omniloop-e2e-trigger-test.png", full_page=True)
    page.click("[data-testid=trigger-save-activate]")
    page.wait_for_url(lambda u: "/triggers/" in u and not u.endswith("/new"))
    summary = page.locator("[data-testid=trigger-summary]")
    expect(summary).to_contain_text("E2E登录")
    expect(summary).to_contain_text("运行中")  # active

    # The next event fires it; the firings page (auto-refreshing) shows the firing.
    _send(server, write_key, _track(customer, "E2E登录", channel="app"))
    firing = page.locator("[data-testid=firings-table] tbody tr.ant-table-row", has_text=customer)
    expect(firing).to_have_count(1, timeout=45_000)
    page.screenshot(path="/tmp/omniloop-e2e-trigger-firings.png", full_page=True)
