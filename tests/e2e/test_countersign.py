"""Countersign in a real browser (C1, C3, D1): write a plan with an uploaded document, submit, approve through
two steps from the inbox, and find the campaign draft the approval created."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Seeded, login
from tests.factories import PASSWORD
from tests.plans.files import docx_bytes

pytestmark = pytest.mark.e2e


def _api(server: Seeded, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    request = urllib.request.Request(server.base_url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def _ensure_template(server: Seeded) -> None:
    token = _api(server, "POST", "/api/auth/login", {"username": "admin", "password": PASSWORD})["token"]
    names = [t["name"] for t in _api(server, "GET", "/api/approvals/templates", token=token)]
    if "浏览器测试会签流程" not in names:
        _api(server, "POST", "/api/approvals/templates", token=token, body={
            "name": "浏览器测试会签流程", "is_default": True, "steps": [
                {"name": "风险合规审批", "mode": "any", "approvers": [{"role": "approver", "org": "head_office"}]},
                {"name": "总行领导审批", "mode": "single", "approvers": [{"role": "admin", "org": "head_office"}]},
            ]})


def _sign_in(page, server: Seeded, username: str) -> None:
    login(page, server, username)
    expect(page.locator("[data-testid=header-user]")).to_be_visible()


def _logout(page) -> None:
    page.click("[data-testid=logout]")
    page.wait_for_url("**/login")


def _approve_from_inbox(page, server: Seeded, username: str, title: str, comment: str) -> None:
    _sign_in(page, server, username)
    # Unread notifications: this plan's, plus any that other browser tests sharing this worker's server left.
    expect(page.locator("[data-testid=notification-badge] .ant-badge-count")).to_have_text(re.compile(r"^[1-9]"))
    page.click("[data-testid=notification-bell]")
    item = page.locator("[data-testid=notification-item]", has_text=title).first
    expect(item).to_be_visible()
    item.click()
    page.wait_for_url("**/approvals**")
    row = page.locator("[data-testid=inbox-table] tbody tr", has_text=title)
    expect(row).to_have_count(1)
    row.locator("[data-testid=inbox-approve]").click()
    page.fill("[data-testid=decision-comment]", comment)
    page.click("[data-testid=decision-confirm]")
    expect(page.locator("[data-testid=inbox-table] tbody tr", has_text=title)).to_have_count(0)
    _logout(page)


def test_submit_approve_and_campaign_draft(page, server: Seeded, tmp_path):
    _ensure_template(server)
    title = "浏览器测试·信用卡新客首刷有礼"
    login(page, server, "operator")
    page.wait_for_url("**/customers")
    page.goto(server.base_url + "/plans")
    page.click("[data-testid=plan-create]")
    page.wait_for_url("**/plans/new")
    page.fill("#plan-title-input", title)
    page.click("[data-testid=plan-save]")
    page.wait_for_url(re.compile(r"/plans/\d+$"))
    plan_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("[data-testid=plan-title]")).to_have_text(title)

    document = tmp_path / "方案.docx"
    document.write_bytes(docx_bytes())
    page.locator("[data-testid=plan-upload] input[type=file]").set_input_files(str(document))
    suggestions = page.locator("[data-testid=plan-suggestions]")
    expect(suggestions).to_contain_text("¥500,000.00")
    page.click("[data-testid=apply-budget_fen]")
    page.click("[data-testid=apply-start_date]")
    page.click("[data-testid=apply-end_date]")
    expect(page.locator("#plan-budget")).to_have_value(re.compile(r"^500,?000(\.00)?$"))
    page.click("[data-testid=plan-save]")
    expect(page.locator(".ant-message")).to_contain_text("已保存")

    page.click("[data-testid=plan-submit]")
    page.click("[data-testid=submit-confirm]")
    expect(page.locator("[data-testid=plan-status]").first).to_have_text("会签中")
    expect(page.locator("[data-testid=approval-timeline]")).to_contain_text("风险合规审批")
    _logout(page)

    _approve_from_inbox(page, server, "approver", title, "同意，注意客户打扰频次")
    _approve_from_inbox(page, server, "admin", title, "同意")

    _sign_in(page, server, "operator")
    page.goto(f"{server.base_url}/plans/{plan_id}")
    expect(page.locator("[data-testid=plan-status]").first).to_have_text("已通过")
    campaign_link = page.locator("[data-testid=plan-campaign]")
    expect(campaign_link).to_contain_text(re.compile(r"MKT-\d{4}-\d{5}"))
    timeline = page.locator("[data-testid=approval-timeline]")
    expect(timeline).to_contain_text("同意，注意客户打扰频次")
    expect(timeline).to_contain_text("生成活动")
    campaign_link.click()
    page.wait_for_url("**/campaigns?code=*")
    row = page.locator("[data-testid=campaigns-table] tbody tr", has_text=title)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("2026-12-01 ~ 2026-12-31")
    row.locator("[data-testid=campaign-edit]").click()
    page.fill("[data-testid=campaign-name-input]", title + "（12月）")
    page.click("[data-testid=campaign-save]")
    expect(page.locator("[data-testid=campaign-name]", has_text="（12月）")).to_have_count(1)
    page.screenshot(path="/tmp/omniloop-e2e-campaigns.png", full_page=True)
