"""Campaign elements in a real browser (I2, D4, D6): create a benefit and see its inventory; add a blocked word;
write an SMS template and see the live preview on sample customers, the segment count and the problems
(blocked word, missing opt-out text) update as the text changes; save it once it is clean."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Seeded, login

expect.set_options(timeout=20_000)  # the server answers slowly on a loaded machine

pytestmark = pytest.mark.e2e


def test_benefit_template_preview_and_blocked_word(page, server: Seeded) -> None:
    login(page, server, "operator")
    expect(page.get_by_role("menuitem", name="权益管理")).to_be_visible()

    # 权益管理: a benefit with inventory and budget
    page.goto(server.base_url + "/benefits")
    page.click("[data-testid=new-benefit]")
    page.fill("[data-testid=benefit-code]", "E2E-WM-50")
    page.fill("[data-testid=benefit-name]", "50元理财体验券E2E")
    page.fill("[data-testid=benefit-cost] input, input[data-testid=benefit-cost]", "50")
    inventory = page.locator("input[data-testid=benefit-inventory], [data-testid=benefit-inventory] input").first
    inventory.fill("300")
    page.fill("[data-testid=benefit-budget] input, input[data-testid=benefit-budget]", "10000")
    page.locator(".ant-modal:visible .ant-modal-footer .ant-btn-primary").click()
    row = page.locator("[data-testid=benefits-table] tr", has_text="50元理财体验券E2E")
    expect(row).to_be_visible()
    expect(page.get_by_test_id("inventory-E2E-WM-50")).to_contain_text("300 / 300")
    expect(page.get_by_test_id("budget-E2E-WM-50")).to_contain_text("¥10,000.00")

    # 敏感词: add one
    page.goto(server.base_url + "/blocked-words")
    page.fill("[data-testid=blocked-word-input]", "稳赚")
    page.click("[data-testid=add-blocked-word]")
    expect(page.locator("[data-testid=blocked-words-table]")).to_contain_text("稳赚")

    # 模板库: an SMS template with the live preview
    page.goto(server.base_url + "/message-templates")
    page.click("[data-testid=new-template]")
    page.fill("[data-testid=template-code]", "E2E-SMS-1")
    page.fill("[data-testid=template-name]", "理财券短信E2E")
    body = page.locator("[data-testid=template-body]")
    body.fill("【之江银行】{{ customer.salutation }}，稳赚好机会：{{ benefit.name }}已到账")
    problems = page.get_by_test_id("template-problems")
    expect(problems.locator("[data-problem=blocked_word]")).to_be_visible()
    expect(problems.locator("[data-problem=sms_unsubscribe_missing]")).to_be_visible()
    preview = page.get_by_test_id("template-preview")
    expect(preview.get_by_test_id("preview-body").first).to_contain_text("李先生")  # the first sample customer
    expect(preview.get_by_test_id("sms-segments")).to_have_text(re.compile(r"\d+字 · 1条"))

    # Saving while there are errors is refused by the server.
    page.click("[data-testid=save-template]")
    expect(page.locator(".ant-message")).to_contain_text("包含敏感词「稳赚」")

    body.fill("【之江银行】{{ customer.salutation }}，{{ benefit.name }}已到账，{{ benefit.valid_to_zh }}前有效。{{ unsubscribe }}")
    expect(preview).to_contain_text("未发现问题")
    expect(problems).to_have_count(0)
    page.click("[data-testid=save-template]")
    expect(page.locator(".ant-message")).to_contain_text("已保存")
    expect(page.locator("[data-testid=templates-table] tr", has_text="理财券短信E2E")).to_be_visible()
