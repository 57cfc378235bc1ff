"""The web console in a real browser: sign-in, data scope and masking, language switch, customer 360 (I1, I5)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Seeded, login

pytestmark = pytest.mark.e2e

MASKED_PHONE = re.compile(r"^1\d\d\*{4}\d{4}$")


def _customer_numbers(page) -> list[str]:
    return page.locator("[data-testid=customers-table] tbody tr td:first-child a").all_inner_texts()


def _phones(page) -> list[str]:
    return page.locator("[data-testid=customer-phone]").all_inner_texts()


def _menu(page):
    return page.locator("[data-testid=side-menu]")


def test_rm_sees_only_own_customers_masked(page, server: Seeded):
    login(page, server, "rm_a")
    page.wait_for_url("**/customers")
    expect(page.locator("[data-testid=customers-total]")).to_contain_text("2")
    assert sorted(_customer_numbers(page)) == sorted(server.rm_a_customers)
    phones = _phones(page)
    assert server.rm_a_phone_masked in phones
    assert all(MASKED_PHONE.match(p) for p in phones), phones
    expect(page.locator("[data-testid=masked-tag]")).to_be_visible()
    expect(page.locator("[data-testid=header-user]")).to_contain_text(server.rm_a_display_name)
    expect(page.locator("[data-testid=header-org]")).to_contain_text("西湖支行")
    page.screenshot(path="/tmp/omniloop-e2e-customers.png", full_page=True)


def test_operator_sees_all_customers_masked_and_admin_unmasked(page, server: Seeded):
    login(page, server, "operator")
    page.wait_for_url("**/customers")
    expect(page.locator("[data-testid=customers-total]")).to_contain_text(str(server.total_customers))
    expect(page.locator("[data-testid=customer-phone]")).to_have_count(server.total_customers)
    phones = _phones(page)
    assert all(MASKED_PHONE.match(p) for p in phones), phones  # the operator role has no customers.pii

    page.click("[data-testid=logout]")
    page.wait_for_url("**/login")
    login(page, server, "admin")
    page.wait_for_url("**/customers")
    expect(page.locator("[data-testid=customer-phone]")).to_have_count(server.total_customers)
    assert server.rm_a_phone in _phones(page)
    expect(page.locator("[data-testid=masked-tag]")).to_have_count(0)


def test_search_and_aum_sort(page, server: Seeded):
    login(page, server, "operator")
    page.wait_for_url("**/customers")
    page.locator("#customer-search").fill(server.c360_customer)
    page.locator("#customer-search").press("Enter")
    expect(page.locator("[data-testid=customer-phone]")).to_have_count(1)
    assert _customer_numbers(page) == [server.c360_customer]
    page.locator("#customer-search").fill("")
    page.locator("#customer-search").press("Enter")
    expect(page.locator("[data-testid=customer-phone]")).to_have_count(server.total_customers)
    aum_header = page.get_by_role("columnheader", name="AUM（资产）")
    aum_header.click()  # ascending
    page.wait_for_url(re.compile(r"sort=aum"))
    aum_header.click()  # descending: the richest customer first
    page.wait_for_url(re.compile(r"sort=-aum"))
    expect(page.locator("[data-testid=customers-table] tbody tr td:first-child a").first).to_have_text(
        server.c360_customer)


def test_language_switch(page, server: Seeded):
    login(page, server, "admin")
    page.wait_for_url("**/customers")
    expect(_menu(page)).to_contain_text("客户")
    expect(page.locator("h4")).to_have_text("客户")
    page.locator("[data-testid=lang-switch]").get_by_text("EN").click()
    expect(_menu(page)).to_contain_text("Customers")
    expect(_menu(page)).to_contain_text("Users")
    expect(page.locator("h4")).to_have_text("Customers")
    expect(page.locator("[data-testid=header-role]")).to_have_text("Platform admin")
    assert page.evaluate("localStorage.getItem('omniloop.lang')") == "en"
    page.reload()  # the choice survives a reload
    expect(page.locator("h4")).to_have_text("Customers")
    page.locator("[data-testid=lang-switch]").get_by_text("中文").click()
    expect(_menu(page)).to_contain_text("用户管理")
    expect(page.locator("h4")).to_have_text("客户")


def test_customer_360(page, server: Seeded):
    login(page, server, "rm_a")
    page.wait_for_url("**/customers")
    page.get_by_role("link", name=server.c360_customer).click()
    page.wait_for_url(f"**/customers/{server.c360_customer}")
    expect(page.locator("[data-testid=c360-title]")).to_have_text("客户360视图")
    expect(page.locator("[data-testid=aum-chart] canvas")).to_have_count(1)
    expect(page.locator("[data-testid=logins-chart] canvas")).to_have_count(1)
    expect(page.locator("[data-testid=c360-rm]")).to_contain_text(server.rm_a_display_name)
    expect(page.locator("[data-testid=c360-org-path]")).to_have_text("总行 / 杭州分行 / 西湖支行")
    expect(page.locator("[data-testid=c360-profile]")).to_contain_text(server.rm_a_phone_masked)
    page.wait_for_timeout(600)  # let the chart animation finish for the screenshot
    page.screenshot(path="/tmp/omniloop-e2e-c360.png", full_page=True)


def test_menu_shows_only_permitted_pages(page, server: Seeded):
    login(page, server, "rm_a")
    page.wait_for_url("**/customers")
    menu = _menu(page)
    expect(menu).to_contain_text("客户")
    expect(menu).to_contain_text("机构")
    for absent in ("用户管理", "审计日志", "作业"):
        expect(menu).not_to_contain_text(absent)
    page.goto(server.base_url + "/users")  # typed URL: the page refuses
    expect(page.get_by_text("无权访问")).to_be_visible()
    page.goto(server.base_url + "/no-such-page")
    expect(page.get_by_text("404")).to_be_visible()


def test_wrong_password_and_locked_account(page, server: Seeded):
    login(page, server, "rm_a", "wrong-password")
    expect(page.locator("[data-testid=login-error]")).to_contain_text("用户名或密码错误")
    assert "/login" in page.url
    page.locator("[data-testid=lang-switch]").get_by_text("EN").click()
    page.click("[data-testid=login-submit]")  # the server answers in the console's language
    expect(page.locator("[data-testid=login-error]")).to_contain_text("Wrong username or password")
    page.fill("#username", "locked_user")
    page.fill("#password", "Passw0rd!")
    page.click("[data-testid=login-submit]")
    expect(page.locator("[data-testid=login-error]")).to_contain_text("temporarily locked")


def test_signed_out_user_is_sent_to_login_and_back(page, server: Seeded):
    page.goto(server.base_url + f"/customers/{server.c360_customer}")
    page.wait_for_url("**/login")
    page.fill("#username", "rm_a")
    page.fill("#password", "Passw0rd!")
    page.click("[data-testid=login-submit]")
    page.wait_for_url(f"**/customers/{server.c360_customer}")
    # A revoked token sends the user back to the login page on the next API call.
    page.evaluate("localStorage.setItem('omniloop.token', 'not-a-valid-token')")
    page.goto(server.base_url + "/customers")
    page.wait_for_url("**/login")
    assert page.evaluate("localStorage.getItem('omniloop.token')") is None


def test_admin_adds_child_org_and_sees_it_audited(page, server: Seeded):
    login(page, server, "admin")
    page.wait_for_url("**/customers")
    _menu(page).get_by_text("机构").click()
    page.wait_for_url("**/orgs")
    page.locator("[data-testid=org-tree]").get_by_text("杭州分行").click()
    page.click("[data-testid=org-add-child]")
    modal = page.locator(".ant-modal")
    code = "HZ-E2E"
    modal.locator("#code").fill(code)
    modal.locator("#name").fill("钱江支行")
    modal.get_by_role("button", name=re.compile("保 ?存")).click()
    expect(page.locator("[data-testid=org-tree]")).to_contain_text("钱江支行")
    expect(modal).to_be_hidden()

    # The same code again: the API's 409 message is shown and the form stays usable.
    page.click("[data-testid=org-add-child]")
    modal.locator("#code").fill(code)
    modal.locator("#name").fill("重复支行")
    modal.get_by_role("button", name=re.compile("保 ?存")).click()
    expect(page.locator(".ant-message")).to_contain_text("机构代码已存在")
    expect(modal.locator(".ant-btn-loading")).to_have_count(0)
    modal.get_by_role("button", name=re.compile("取 ?消")).click()

    _menu(page).get_by_text("审计日志").click()
    page.wait_for_url("**/audit")
    row = page.locator("[data-testid=audit-table] tbody tr.ant-table-row").first
    expect(row).to_contain_text("新建")
    expect(row).to_contain_text("机构")
    row.locator("button.ant-table-row-expand-icon").click()
    expect(page.locator("[data-testid=audit-diff]")).to_contain_text("钱江支行")
