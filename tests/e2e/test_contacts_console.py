"""Contact control in a real browser (E1, E2, H3): add a rolling cap in 接触策略, ask the dry run why a
contact would be skipped, put a customer on the global DND list, record an SMS opt-out on the customer 360
and see it honoured at once. Everything created is removed again (the seeded server is shared)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Seeded, login, pick

expect.set_options(timeout=20_000)  # the server answers slowly on a loaded machine

pytestmark = pytest.mark.e2e


def _decide(page, customer_no: str, expected: str) -> None:
    page.fill("[data-testid=decide-customers]", customer_no)
    page.click("[data-testid=decide-submit]")
    expect(page.get_by_test_id("decide-results")).to_contain_text(expected)


def test_policy_rule_dnd_list_and_consent(page, server: Seeded) -> None:
    customer = server.c360_customer
    login(page, server, "operator")
    expect(page.get_by_role("menuitem", name="接触策略")).to_be_visible()

    # 接触策略: a cap rule, shown as a rolling window
    page.goto(server.base_url + "/contact-policy")
    expect(page.get_by_text("滚动窗口，非自然日").first).to_be_visible()
    page.click("[data-testid=add-contact-rule]")
    page.fill("[data-testid=rule-name]", "E2E短信每周上限")
    page.locator(".ant-modal:visible .ant-modal-footer .ant-btn-primary").click()
    row = page.locator("[data-testid=contact-rules-table] tr", has_text="E2E短信每周上限")
    expect(row).to_contain_text("滚动7天内最多2次")

    # 免打扰与屏蔽名单: the customer on a DND list → the dry run says why
    page.goto(server.base_url + "/suppression-lists")
    page.click("[data-testid=add-suppression-list]")
    page.fill("[data-testid=suppression-list-name]", "E2E免打扰")
    pick(page, page.locator(".ant-modal:visible .ant-select").first, "全局免打扰", verify=True)
    page.locator(".ant-modal:visible .ant-modal-footer .ant-btn-primary").click()
    page.locator("[data-testid=suppression-lists-table] button", has_text="E2E免打扰").click()
    page.fill("[data-testid=suppression-add-numbers]", customer)
    page.click("[data-testid=suppression-add-submit]")
    expect(page.get_by_test_id("suppression-entries-table")).to_contain_text(customer)
    page.goto(server.base_url + "/contact-policy")
    _decide(page, customer, "全局免打扰")

    # Remove the list again; an SMS opt-out recorded on the 360 is honoured by the next decision.
    page.goto(server.base_url + "/suppression-lists")
    page.locator("[data-testid=suppression-lists-table] tr", has_text="E2E免打扰").get_by_role("button", name="移除").click()
    page.locator(".ant-popover .ant-btn-primary").click()
    expect(page.locator("[data-testid=suppression-lists-table] tr", has_text="E2E免打扰")).to_have_count(0)
    page.goto(server.base_url + f"/customers/{customer}")
    page.click("[data-testid=record-consent]")
    page.locator(".ant-modal:visible .ant-modal-footer .ant-btn-primary").click()
    expect(page.get_by_test_id("c360-consents").locator("tr", has_text="短信")).to_contain_text("已退订")
    page.goto(server.base_url + "/contact-policy")
    page.fill("[data-testid=decide-customers]", customer)
    page.locator(".ant-select-selection-item-remove").first.click()  # channels: SMS only
    page.click("[data-testid=decide-submit]")
    expect(page.get_by_test_id("decide-results")).to_contain_text("未获授权或已退订")

    # Clean up: consent back, rule removed.
    page.goto(server.base_url + f"/customers/{customer}")
    page.click("[data-testid=record-consent]")
    pick(page, page.locator(".ant-modal:visible [data-testid=consent-status]"), "已授权", verify=True)
    page.locator(".ant-modal:visible .ant-modal-footer .ant-btn-primary").click()
    expect(page.get_by_test_id("c360-consents").locator("tr", has_text="短信")).to_contain_text("已授权")
    page.goto(server.base_url + "/contact-policy")
    page.locator("[data-testid=contact-rules-table] tr", has_text="E2E短信每周上限").get_by_role("button", name="移除").click()
    page.locator(".ant-popover .ant-btn-primary").click()
    expect(page.locator("[data-testid=contact-rules-table] tr", has_text="E2E短信每周上限")).to_have_count(0)
