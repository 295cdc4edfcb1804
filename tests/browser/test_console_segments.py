"""A merchant sees who is in each segment and gives every active buyer a coupon at once, in a real browser,
following the grant until it is done."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.console_session import buyer, desk_page, first_product, paid_order, sign_in, staff_token
from tests.e2e.stack import eventually


@pytest.fixture
def desk(browser, stack):
    with desk_page(browser, stack) as page:
        yield page


def test_merchant_grants_a_coupon_to_the_active_buyers(stack, desk, shoot):
    token = buyer(stack, "console-segment-buyer")
    order = paid_order(stack, token, first_product(stack)["skus"][0]["sku_id"])
    owner = staff_token(stack)
    status, template = stack.request("POST", "/admin/coupon-templates", {
        "name": "回馈活跃买家", "kind": "NO_THRESHOLD", "amount_off": 500, "total": 100, "per_user_limit": 1,
        "valid_days": 7, "claimable": False}, token=owner)
    assert status == 201, template

    sign_in(desk, "admin", "admin")
    desk.get_by_test_id("nav-segments").click()
    active = desk.get_by_test_id("segments").locator("tr[data-segment='ACTIVE']")
    # Segments are recomputed hourly, or at the next scheduled run after the thresholds change: change them.
    thresholds = desk.get_by_test_id("segment-thresholds")
    thresholds.get_by_label("活跃：最近付款天数内").fill("14")
    thresholds.get_by_role("button", name="保存阈值").click()
    expect(desk.get_by_test_id("done")).to_contain_text("阈值已保存")

    def counted() -> bool:
        desk.reload()
        active.wait_for()
        return active.locator("td.num").inner_text() == "1"
    assert eventually(counted, timeout=30, every=1), "the paying buyer never joined the ACTIVE segment"

    active.get_by_role("button", name="查看成员").click()
    expect(desk.get_by_test_id("segment-members")).to_contain_text(order["user_id"])
    active.get_by_role("combobox").select_option(label="回馈活跃买家（剩 100）")
    desk.once("dialog", lambda dialog: dialog.accept())
    active.get_by_role("button", name="发券").click()
    expect(desk.get_by_test_id("done")).to_have_text("已开始发放，进度见下方")
    grant = desk.get_by_test_id("grants").locator("tbody tr").first
    expect(grant.locator(".badge")).to_have_attribute("data-status", "DONE", timeout=30_000)
    expect(grant).to_contain_text("1 / 1")
    shoot(desk, "console-segments")

    status, mine = stack.request("GET", "/marketing/coupons/mine", token=token)
    held = mine["items"] if isinstance(mine, dict) else mine
    assert [c["template_id"] for c in held] == [template["template_id"]], mine
