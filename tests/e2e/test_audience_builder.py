"""The audience builder in a real browser (A3): three conditions, the live count after each, save, list."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.audiences.bank_data import duckdb_cids
from tests.e2e.conftest import Seeded, login, pick

pytestmark = pytest.mark.e2e

GOLD = {"op": "tag", "tag": "vip", "values": ["gold"]}
RICH = {"op": "range", "feature": "aum", "min": "100000"}
CARD = {"op": "feature", "feature": "has_credit_card", "in": [True]}


def _expected(server: Seeded, *conditions: dict) -> int:
    return len(duckdb_cids(server.home, {"op": "and", "children": list(conditions)}))


def _expect_total(page, count: int) -> None:
    total = page.locator("[data-testid=audience-total]")
    expect(total).to_have_attribute("data-settled", "true")
    expect(total).to_have_text(str(count))


def test_build_three_conditions_and_save(page, server: Seeded):
    counts = [_expected(server, GOLD), _expected(server, GOLD, RICH), _expected(server, GOLD, RICH, CARD)]
    assert counts[0] > counts[1] > counts[2] > 0  # each condition narrows the seeded customers

    login(page, server, "operator")
    page.wait_for_url("**/customers")
    page.locator("[data-testid=side-menu]").get_by_text("人群圈选").click()
    page.wait_for_url("**/audiences")
    page.click("[data-testid=new-audience]")
    page.wait_for_url("**/audiences/new")
    rows = page.locator("[data-testid=root-group] [data-testid=condition-row]")

    # 1: tag VIP level = gold
    page.click("[data-testid=add-condition]")
    pick(page, rows.nth(0).locator("[data-testid=condition-field]"), "VIP等级", search=True)
    pick(page, rows.nth(0).locator("[data-testid=condition-values]"), "gold")
    page.keyboard.press("Escape")
    _expect_total(page, counts[0])
    expect(rows.nth(0).locator("[data-testid=condition-count]")).to_have_text(f"{counts[0]} 人")

    # 2: AUM at least 100,000 yuan
    page.locator("[data-testid=add-condition]").first.click()
    pick(page, rows.nth(1).locator("[data-testid=condition-field]"), "当前AUM", search=True)
    rows.nth(1).locator("input[data-testid=condition-min], [data-testid=condition-min] input").first.fill("100000")
    _expect_total(page, counts[1])
    expect(rows.nth(1).locator("[data-testid=condition-count]")).to_have_text(
        f"{len(duckdb_cids(server.home, RICH))} 人")

    # 3: holds a credit card
    page.locator("[data-testid=add-condition]").first.click()
    pick(page, rows.nth(2).locator("[data-testid=condition-field]"), "持有信用卡", search=True)
    pick(page, rows.nth(2).locator("[data-testid=condition-values]"), "是")
    page.keyboard.press("Escape")
    _expect_total(page, counts[2])
    expect(page.locator("[data-testid=chart-branch]")).to_be_visible()
    page.screenshot(path="/tmp/omniloop-e2e-audience-builder.png", full_page=True)

    page.click("[data-testid=save-audience]")
    page.fill("#audience-name", "高净值持卡VIP")
    page.click("[data-testid=save-confirm]")
    page.wait_for_url(re.compile(r".*/audiences/\d+$"))
    expect(page.locator("[data-testid=builder-title]")).to_contain_text("高净值持卡VIP")

    page.locator("[data-testid=side-menu]").get_by_text("人群圈选").click()
    page.wait_for_url("**/audiences")
    row = page.locator("[data-testid=audiences-table] tbody tr", has_text="高净值持卡VIP")
    expect(row).to_have_count(1)
    expect(row.locator("[data-testid=audience-size]")).to_have_text(str(counts[2]))
    page.screenshot(path="/tmp/omniloop-e2e-audiences.png", full_page=True)
