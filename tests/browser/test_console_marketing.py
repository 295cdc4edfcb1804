"""A merchant runs the shop's marketing from the console, in a real browser: a coupon buyers can claim and one
granted to a buyer, a flash sale created and ended, a group-buy campaign, the member levels; and a staff member
changes their own password, which ends their other sessions."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.console_session import desk_page, sign_in, staff_token


@pytest.fixture
def desk(browser, stack):
    with desk_page(browser, stack) as page:
        yield page


def test_merchant_creates_and_grants_a_coupon(stack, desk, shoot):
    status, login = stack.request("POST", "/auth/login", {"code": "dev:console-coupon-buyer"})
    assert status == 200, login
    buyer_token, buyer_id = login["token"], login["user"]["user_id"]

    sign_in(desk, "admin", "admin")
    desk.get_by_test_id("nav-coupons").click()
    desk.get_by_test_id("coupon-name").fill("满100减15")
    desk.get_by_test_id("coupon-amount").fill("15")
    desk.get_by_test_id("coupon-min-spend").fill("100")
    desk.get_by_test_id("coupon-total").fill("50")
    desk.get_by_role("button", name="创建", exact=True).click()
    expect(desk.get_by_test_id("done")).to_have_text("优惠券已创建")
    row = desk.get_by_test_id("coupons").locator("tbody tr").filter(has_text="满100减15")
    expect(row).to_contain_text("满 ¥100.00 减 ¥15.00")
    expect(row).to_contain_text("0 / 50")
    template_id = row.get_attribute("data-template")

    status, claimable = stack.request("GET", "/marketing/coupons", token=buyer_token)
    offered = {c["template_id"]: c for c in claimable["items"]} if isinstance(claimable, dict) else \
        {c["template_id"]: c for c in claimable}
    assert offered[template_id]["amount_off"] == 1500 and offered[template_id]["min_spend"] == 10_000, offered

    row.get_by_placeholder("买家编号 user_id").fill(buyer_id)
    row.get_by_role("button", name="发放").click()
    expect(desk.get_by_test_id("done")).to_have_text(f"已发放给 {buyer_id}")
    expect(row).to_contain_text("1 / 50")
    shoot(desk, "console-coupons")
    status, mine = stack.request("GET", "/marketing/coupons/mine", token=buyer_token)
    held = mine["items"] if isinstance(mine, dict) else mine
    assert [c["template_id"] for c in held] == [template_id], mine


def test_merchant_creates_and_ends_a_flash_sale_and_a_group_buy(stack, desk, shoot):
    sign_in(desk, "admin", "admin")
    desk.get_by_test_id("nav-flash-sales").click()
    desk.get_by_test_id("pick-product").select_option(index=1)
    desk.get_by_test_id("pick-sku").select_option(index=1)
    sku_id = desk.get_by_test_id("pick-sku").input_value()
    desk.get_by_test_id("flash-price").fill("9.9")
    desk.get_by_test_id("flash-stock").fill("3")
    desk.get_by_role("button", name="创建秒杀").click()
    expect(desk.get_by_test_id("done")).to_contain_text("秒杀已创建")
    sale = desk.get_by_test_id("flash-sales").locator("tbody tr").first
    expect(sale).to_contain_text("¥9.90")
    expect(sale.locator(".badge")).to_have_attribute("data-status", "UPCOMING")
    sale_id = sale.get_attribute("data-sale")
    status, listed = stack.request("GET", f"/marketing/flash-sales/{sale_id}")
    assert status == 200 and listed["sku_id"] == sku_id and listed["sale_price"] == 990, listed
    shoot(desk, "console-flash-sale")

    # Before it starts the whole sale may change: a lower price, a larger pool.
    sale.get_by_role("button", name="修改").click()
    desk.get_by_test_id("flash-edit-price").fill("8.8")
    desk.get_by_test_id("flash-edit-stock").fill("4")
    desk.get_by_test_id("flash-edit").get_by_role("button", name="保存").click()
    expect(desk.get_by_test_id("done")).to_have_text("秒杀已修改")
    expect(sale).to_contain_text("¥8.80")
    expect(sale).to_contain_text("共 4")
    status, listed = stack.request("GET", f"/marketing/flash-sales/{sale_id}")
    assert (listed["sale_price"], listed["remaining"]) == (880, 4), listed

    desk.once("dialog", lambda dialog: dialog.accept())
    sale.get_by_role("button", name="立即结束").click()
    expect(desk.get_by_test_id("done")).to_contain_text("秒杀已结束")
    expect(sale.locator(".badge")).to_have_attribute("data-status", "ENDED")

    desk.get_by_test_id("nav-groupbuy").click()
    # Both pages have a product picker: wait for the group-buy page before picking (its chunk loads first).
    expect(desk.get_by_role("heading", name="新建拼团活动")).to_be_visible()
    desk.get_by_test_id("pick-product").select_option(index=1)
    desk.get_by_test_id("pick-sku").select_option(index=1)
    desk.get_by_test_id("group-price").fill("19.9")
    desk.get_by_role("button", name="创建活动").click()
    expect(desk.get_by_test_id("done")).to_have_text("拼团活动已创建")
    campaign = desk.get_by_test_id("campaigns").locator("tbody tr").first
    expect(campaign).to_contain_text("¥19.90")
    expect(campaign).to_contain_text("2 人")
    campaign_id = campaign.get_attribute("data-campaign")
    status, running = stack.request("GET", f"/groupbuy/campaigns/{campaign_id}")
    assert status == 200 and running["group_price"] == 1990 and running["group_size"] == 2, running
    shoot(desk, "console-groupbuy")


def test_owner_renames_a_member_level(stack, desk):
    sign_in(desk, "admin", "admin")
    desk.get_by_test_id("nav-member-levels").click()
    desk.get_by_test_id("level-name-2").fill("白银会员")
    desk.get_by_test_id("level-discount-2").fill("3")
    desk.get_by_role("button", name="保存").click()
    expect(desk.get_by_test_id("done")).to_contain_text("会员等级已保存")
    status, table = stack.request("GET", "/marketing/member-levels")
    levels = table["levels"] if isinstance(table, dict) else table
    second = next(level for level in levels if level["level"] == 2)
    assert (second["name"], second["discount_percent"]) == ("白银会员", 3), table


def test_staff_changes_their_own_password_and_their_other_sessions_end(stack, desk):
    owner = staff_token(stack)
    status, created = stack.request("POST", "/admin/staff",
                                    {"username": "console-pw", "password": "first-pass-1", "role": "operator"},
                                    token=owner)
    assert status == 201, created
    elsewhere = staff_token(stack, "console-pw", "first-pass-1")

    sign_in(desk, "console-pw", "first-pass-1")
    desk.get_by_test_id("nav-account").click()
    desk.get_by_test_id("current-password").fill("wrong-pass-1")
    desk.get_by_test_id("new-password").fill("second-pass-2")
    desk.get_by_test_id("repeat-password").fill("second-pass-2")
    desk.get_by_role("button", name="修改密码").click()
    expect(desk.get_by_test_id("error")).to_contain_text("当前密码不正确")

    desk.get_by_test_id("current-password").fill("first-pass-1")
    desk.get_by_role("button", name="修改密码").click()
    expect(desk.get_by_test_id("done")).to_contain_text("密码已修改")
    assert stack.request("GET", "/admin/me", token=elsewhere)[0] == 401, "the other session still works"
    desk.get_by_test_id("nav-orders").click()  # this page carries on with the new token
    expect(desk.get_by_role("heading", name="订单")).to_be_visible()
    expect(desk.get_by_test_id("error")).to_have_count(0)

    desk.get_by_test_id("logout").click()
    sign_in(desk, "console-pw", "second-pass-2")
    expect(desk.get_by_test_id("who")).to_contain_text("console-pw")
