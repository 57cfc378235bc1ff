"""Campaign launch in a real browser (D1–D8): an approved plan's draft is configured in the wizard, previewed,
launched; after its wave runs and the outbox is dispatched (sink), the contact shows for the customer."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from omniloop.audiences.engine import engine_for
from omniloop.campaigns import execution
from omniloop.campaigns.models import CampaignWave
from omniloop.contacts import dispatch
from omniloop.core.db import make_engine, session_factory
from tests.e2e.conftest import Seeded, login, pick
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e
TITLE = "浏览器测试·金卡客户绑卡激励"


def _api(server: Seeded, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    request = urllib.request.Request(server.base_url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def _token(server: Seeded, username: str) -> str:
    return _api(server, "POST", "/api/auth/login", {"username": username, "password": PASSWORD})["token"]


def _approved_campaign(server: Seeded) -> dict:
    """A plan written by the operator and approved through the default countersign, via the API."""
    admin = _token(server, "admin")
    names = [t["name"] for t in _api(server, "GET", "/api/approvals/templates", token=admin)]
    if "浏览器测试会签流程" not in names:
        _api(server, "POST", "/api/approvals/templates", token=admin, body={
            "name": "浏览器测试会签流程", "is_default": True, "steps": [
                {"name": "风险合规审批", "mode": "any", "approvers": [{"role": "approver", "org": "head_office"}]},
                {"name": "总行领导审批", "mode": "single", "approvers": [{"role": "admin", "org": "head_office"}]},
            ]})
    operator = _token(server, "operator")
    plan = _api(server, "POST", "/api/plans", token=operator, body={
        "title": TITLE, "objective": "金卡客户绑卡率提升", "start_date": "2026-12-01", "end_date": "2026-12-31"})
    _api(server, "POST", f"/api/plans/{plan['id']}/submit", token=operator, body={})
    for username in ("approver", "admin"):
        token = _token(server, username)
        step = next(i for i in _api(server, "GET", "/api/approvals/inbox", token=token)["items"]
                    if i["plan_id"] == plan["id"])
        _api(server, "POST", f"/api/approvals/steps/{step['step_id']}/decision", token=token,
             body={"action": "approve", "comment": "同意"})
    campaigns = _api(server, "GET", "/api/campaigns?q=" + urllib.request.quote(TITLE), token=operator)["items"]
    assert len(campaigns) == 1 and campaigns[0]["status"] == "draft"
    _api(server, "POST", "/api/audiences", token=operator, body={
        "name": "浏览器测试·金卡客户", "expression": {"op": "tag", "tag": "vip", "values": ["gold"]}})
    _api(server, "POST", "/api/message-templates", token=operator, body={
        "code": "E2E-SMS-BIND", "name": "浏览器测试绑卡短信", "channel": "sms", "purpose": "service",
        "body": "【之江银行】{{ customer.salutation }}，您在手机银行的绑卡尚未完成，打开App继续即可。"})
    return campaigns[0]


def _next(page) -> None:
    page.click("[data-testid=wizard-next]")
    expect(page.locator(".ant-message")).to_contain_text("已保存")


def test_configure_launch_and_see_the_contact(page, server: Seeded):
    campaign = _approved_campaign(server)
    login(page, server, "operator")
    page.wait_for_url("**/customers")
    page.goto(server.base_url + "/campaigns")
    row = page.locator("[data-testid=campaigns-table] tbody tr", has_text=TITLE)
    expect(row).to_have_count(1)
    expect(row.locator("[data-testid=campaign-status]")).to_have_text("草稿")
    row.locator("[data-testid=campaign-configure]").click()
    page.wait_for_url(f"**/campaigns/{campaign['id']}/configure")
    expect(page.locator("[data-testid=wizard-title]")).to_have_text(TITLE)

    _next(page)  # information as generated from the plan
    page.fill("[data-testid=wave-name]", "首波")
    page.click("[data-testid=wave-add]")
    expect(page.locator("[data-testid=wizard-waves] tbody tr", has_text="首波")).to_have_count(1)
    _next(page)  # mode: active batch, one wave
    pick(page, page.locator("[data-testid=wizard-audience]"), "浏览器测试·金卡客户")
    _next(page)
    _next(page)  # no benefit
    pick(page, page.locator("[data-testid=wizard-add-channel]"), "短信")
    expect(page.locator("[data-testid=wizard-channels]")).to_contain_text("短信")
    _next(page)
    pick(page, page.locator("[data-testid=wizard-template-sms]"), "浏览器测试绑卡短信")
    expect(page.locator("[data-testid=template-preview-sms]")).to_contain_text("绑卡尚未完成")
    _next(page)
    _next(page)  # no success rule
    _next(page)  # no test cell, no control group
    funnel = page.locator("[data-testid=preview-funnel]")
    expect(funnel).to_contain_text("目标人群")
    expect(funnel).to_contain_text("接触控制")
    expect(page.locator("[data-testid=preview-channels]")).to_contain_text("短信")
    page.click("[data-testid=wizard-ready]")
    page.wait_for_url(re.compile(rf"/campaigns/{campaign['id']}$"))
    expect(page.locator("[data-testid=campaign-status]")).to_have_text("待发布")
    page.click("[data-testid=action-launch]")
    page.click("[data-testid=confirm-ok]")
    expect(page.locator("[data-testid=campaign-status]")).to_have_text("执行中")

    # The worker's part, in this process against the server's database: the wave job, then the dispatcher.
    engine = make_engine(f"sqlite:///{server.home / 'omniloop.db'}")
    try:
        factory = session_factory(engine)
        with factory() as session:
            wave_id = session.scalar(select(CampaignWave.id).where(CampaignWave.campaign_id == campaign["id"]))
        result = execution.run_wave(factory, wave_id=wave_id, engine=engine_for(server.home))
        assert result["status"] == "done"
        dispatch.dispatch_once(factory)
    finally:
        engine.dispose()

    page.reload()
    expect(page.locator("[data-testid=campaign-status]")).to_have_text("已完成")
    expect(page.locator("[data-testid=wave-status]")).to_have_text("已完成")
    expect(page.locator("[data-testid=detail-outbox]")).to_contain_text("已送达")
    page.screenshot(path="/tmp/omniloop-e2e-campaign-detail.png", full_page=True)

    # The customer's 360 page lists the contact (the contacts card), and so does its API.
    token = _token(server, "operator")
    contacts = _api(server, "GET", f"/api/customers/{server.c360_customer}/contacts", token=token)
    assert any(item["campaign_id"] == campaign["id"] and item["status"] == "delivered"
               for item in contacts["items"]), contacts
    page.goto(f"{server.base_url}/customers/{server.c360_customer}")
    expect(page.locator("[data-testid=c360-title]")).to_be_visible()
    card = page.locator("[data-testid=c360-contacts]")
    expect(card).to_contain_text(TITLE)
    expect(card.locator("tbody tr", has_text=TITLE).first).to_be_visible()
    page.screenshot(path="/tmp/omniloop-e2e-campaign-360.png", full_page=True)
