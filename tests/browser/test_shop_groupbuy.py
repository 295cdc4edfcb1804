"""A group of two in a real browser: the leader opens it from the product page and pays, shares the group page;
a friend opens the shared link on another phone, joins and pays, and both pages show the group complete. The
countdown runs on the server's clock: the friend's phone is set hours wrong and still shows the group's time left.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from playwright.sync_api import expect

from tests.browser.shop_steps import SHOP, Mall, fill_address, fits_phone_width, log_in, new_phone, pay_in_sandbox, snap

BLANKET = "珊瑚绒毛毯"


def test_two_buyers_complete_a_group_from_the_share_page(phone, browser, stack, shoot):
    mall = Mall(stack)
    product = mall.product(BLANKET)
    sku = product["skus"][0]
    campaign = mall.call("POST", "/admin/groupbuy/campaigns",
                         {"product_id": product["product_id"], "sku_id": sku["sku_id"], "group_price": 5900,
                          "group_size": 2, "duration_minutes": 60, "stock": 10}, token=mall.staff())

    # The leader: product page, 发起拼团, a first address, pay in the sandbox, land on the group's page.
    phone.context.grant_permissions(["clipboard-read", "clipboard-write"])
    phone.goto(f"{SHOP}pages/login/login")
    log_in(phone, "group-leader")
    phone.goto(f"{SHOP}pages/product/product?id={product['product_id']}")
    offers = phone.locator("[data-test=groupbuy-offers]")
    expect(offers).to_contain_text("2人团")
    expect(offers).to_contain_text("¥59.00")
    offers.get_by_role("button", name="发起拼团").click()
    expect(phone.locator("[data-test=group-summary]")).to_contain_text("发起拼团")
    fill_address(phone)
    phone.get_by_role("button", name="提交订单").click()
    expect(phone.locator("[data-test=pay-amount]")).to_have_text("¥69.00")  # 59 + 10 shipping (free from 99)
    pay_in_sandbox(phone)

    expect(phone.locator("[data-test=group-status]")).to_have_text("拼团中")
    expect(phone.locator("[data-test=places-left]")).to_have_text(re.compile(r"还差\s*1\s*人成团"))
    expect(phone.get_by_role("timer")).to_contain_text(re.compile(r"00:5\d:\d\d"))
    expect(phone.get_by_text("支付成功！分享给好友")).to_be_visible()
    phone.get_by_role("button", name="分享给好友").click()
    expect(phone.get_by_text("链接已复制")).to_be_visible()
    share_link = phone.evaluate("navigator.clipboard.readText()")
    group_id = re.search(r"/shop/pages/group/group\?id=([0-9A-Z]{26})$", share_link).group(1)
    leader_order = mall.call("GET", f"/groupbuy/groups/{group_id}")
    assert (leader_order["status"], leader_order["paid_members"], leader_order["campaign_id"]) == \
        ("OPEN", 1, campaign["campaign_id"]), leader_order
    fits_phone_width(phone)
    snap(shoot, phone, "shop-group-open")

    # The friend: the shared link on a phone whose clock is three hours fast.
    context, friend, friend_errors = new_phone(browser, stack)
    try:
        context.clock.install(time=datetime.now() + timedelta(hours=3))
        friend.goto(share_link)
        expect(friend.locator("[data-test=places-left]")).to_have_text(re.compile(r"还差\s*1\s*人成团"))
        expect(friend.get_by_role("timer")).to_contain_text(re.compile(r"00:5\d:\d\d"))  # not 00:00:00
        expect(friend.get_by_role("list", name="团员")).to_contain_text("团长")
        snap(shoot, friend, "shop-group-share-page")
        friend.get_by_role("button", name=re.compile("参团")).click()
        log_in(friend, "group-friend")
        expect(friend.locator("[data-test=group-summary]")).to_contain_text("参加拼团")
        fill_address(friend)
        friend.get_by_role("button", name="提交订单").click()
        pay_in_sandbox(friend)
        expect(friend.locator("[data-test=group-status]")).to_have_text("拼团成功")
        snap(shoot, friend, "shop-group-succeeded")
        assert not friend_errors, f"uncaught errors in the friend's page: {friend_errors}"
    finally:
        context.close()

    # The leader's page looks again by itself and shows the group complete.
    expect(phone.locator("[data-test=group-status]")).to_have_text("拼团成功", timeout=15_000)
    group = mall.call("GET", f"/groupbuy/groups/{group_id}")
    assert (group["status"], group["paid_members"], group["places_left"]) == ("SUCCEEDED", 2, 0), group


def test_a_finished_or_unknown_group_link_says_so(phone, stack):
    phone.goto(f"{SHOP}pages/group/group?id=01ZZZZZZZZZZZZZZZZZZZZZZZZ")
    expect(phone.get_by_role("alert")).to_have_text("找不到这个团")
    expect(phone.get_by_role("button", name=re.compile("参团"))).to_have_count(0)
