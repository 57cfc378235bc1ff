"""Estimation in a real browser (C2): open a plan, see the similar past campaigns with why they are similar, the
chart, the predicted conversion with the model's held-out error, and the warning on an optimistic expectation."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from omniloop.core.audit import SYSTEM
from omniloop.core.db import make_engine
from omniloop.demo.history import seed_history
from tests.e2e.conftest import Seeded, login
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e


def _api(server: Seeded, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    request = urllib.request.Request(server.base_url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def _seed_history(server: Seeded) -> None:
    """The past campaigns go into the server's database directly, as the demo seed puts them (idempotent)."""
    engine = make_engine(f"sqlite:///{server.home / 'omniloop.db'}")
    with Session(engine) as session:
        seed_history(session, actor=SYSTEM, seed=42)
        session.commit()
    engine.dispose()


def test_plan_editor_shows_similar_campaigns_and_the_prediction(page, server: Seeded):
    _seed_history(server)
    token = _api(server, "POST", "/api/auth/login", {"username": "operator", "password": PASSWORD})["token"]
    plan = _api(server, "POST", "/api/plans", token=token, body={
        "title": "浏览器测试·信用卡激活提醒", "lifecycle_stage": "novice", "business_line": "credit_card",
        "channels": ["sms", "outbound_call"], "benefit_type": "cash_coupon", "mode": "batch",
        "audience_tags": ["card_not_activated"], "expected_reach": 40_000, "expected_conversion_rate": 0.9,
        "budget_fen": 20_000_000})

    login(page, server, "operator")
    page.wait_for_url("**/customers")
    page.goto(f"{server.base_url}/plans/{plan['id']}")
    panel = page.locator("[data-testid=estimation-panel]")
    expect(panel).to_contain_text("活动测算")
    rows = panel.locator("[data-testid=estimation-similar] tbody tr.ant-table-row")
    expect(rows).to_have_count(5, timeout=60_000)  # the first estimate imports scikit-learn and fits the model
    expect(rows.first).to_contain_text("信用卡激活提醒")
    expect(rows.first.locator("[data-testid=similar-score]")).to_have_text(re.compile(r"^(1\.00|0\.\d\d)"))
    expect(panel.locator("[data-testid=estimation-predicted]")).to_contain_text(re.compile(r"\d+\.\d\d% · 90% 区间"))
    expect(panel.locator("[data-testid=estimation-model-error]")).to_contain_text(re.compile(r"平均绝对误差 \d+\.\d\d 个百分点"))
    expect(panel.locator("[data-testid=estimation-chart] canvas")).to_have_count(1)
    expect(panel.locator("[data-testid=flag-expected_above_similar]")).to_be_visible()

    # Why the first one is similar: expand its row.
    rows.first.locator(".ant-table-row-expand-icon").click()
    explanation = panel.locator("[data-testid=similar-explanation]").first
    expect(explanation).to_contain_text("生命周期阶段相同")
    expect(explanation).to_contain_text("相似度合计")

    # Estimating the unsaved form: a realistic expectation raises no warning.
    page.locator(".ant-input-number-input").nth(2).fill("5")  # expected conversion, %
    page.click("[data-testid=estimation-rerun]")
    expect(panel).to_contain_text("按未保存的表单内容测算")
    expect(panel.locator("[data-testid=flag-expected_above_similar]")).to_have_count(0)
    expect(panel.locator("[data-testid=estimation-operator]")).to_contain_text("5.00%")
    page.screenshot(path="/tmp/omniloop-e2e-estimation.png", full_page=True)
