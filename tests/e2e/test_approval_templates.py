"""Countersign routes in a real browser (C3): an admin creates a two-step route and deactivates it."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Seeded, login, pick
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e


def _templates(server: Seeded) -> list[dict]:
    login_request = urllib.request.Request(server.base_url + "/api/auth/login", method="POST",
                                           data=json.dumps({"username": "admin", "password": PASSWORD}).encode(),
                                           headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(login_request, timeout=10) as response:
        token = json.loads(response.read())["token"]
    request = urllib.request.Request(server.base_url + "/api/approvals/templates",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_admin_creates_a_two_step_route_and_deactivates_it(page, server: Seeded):
    name = "浏览器测试·两级会签"
    login(page, server, "admin")
    expect(page.locator("[data-testid=header-user]")).to_be_visible()
    page.goto(server.base_url + "/approval-templates")
    page.click("[data-testid=template-create]")
    page.fill("#template-name", name)
    steps = page.locator("[data-testid=template-step]")
    steps.nth(0).locator("[data-testid=step-name]").fill("分行负责人审批")
    page.click("[data-testid=template-add-step]")
    expect(steps).to_have_count(2)
    second = steps.nth(1)
    second.locator("[data-testid=step-name]").fill("总行会签")
    pick(page, second.locator(".ant-select").first, "或签（任一人）", verify=True)
    page.click("[data-testid=template-save]")
    expect(page.locator(".ant-message")).to_contain_text("流程已保存")

    row = page.locator("[data-testid=templates-table] tbody tr", has_text=name)
    expect(row).to_have_count(1)
    expect(row.locator("[data-testid=template-steps]")).to_contain_text("2. 总行会签 · 或签（任一人）")
    saved = next(t for t in _templates(server) if t["name"] == name)
    assert [s["name"] for s in saved["steps"]] == ["分行负责人审批", "总行会签"]
    assert [s["mode"] for s in saved["steps"]] == ["single", "any"] and saved["active"] and not saved["is_default"]
    assert saved["steps"][1]["approvers"] == [{"role": "approver", "org": "head_office", "org_id": None,
                                               "include_subtree": False}]

    row.locator(".ant-switch").click()
    # The switch follows the list refetched after the change, so once it is off the server has it off.
    expect(row.locator(".ant-switch")).not_to_have_class(re.compile(r"ant-switch-checked"))
    assert not next(t for t in _templates(server) if t["name"] == name)["active"]
