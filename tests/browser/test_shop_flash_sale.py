"""Flash sales in a real browser: a buyer finds the sale on the home page and buys its last unit; another, who
was already at checkout, is told it is sold out and finds the sale page sold out; a sale not started yet counts
down to its start on the server's clock and cannot be bought.
"""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.shop_steps import (
    SHOP,
    Mall,
    eventually,
    fill_address,
    fits_phone_width,
    in_minutes,
    log_in,
    new_phone,
    order_id_from,
    pay_in_sandbox,
    snap,
)

LAMP = "护眼LED台灯"


def test_buyer_buys_the_last_unit_and_the_next_buyer_finds_it_sold_out(phone, browser, stack, shoot):
    mall = Mall(stack)
    sku = mall.product(LAMP)["skus"][0]
    sale = mall.call("POST", "/admin/flash-sales",
                     {"sku_id": sku["sku_id"], "sale_price": 990, "stock": 1, "per_user_limit": 1,
                      "starts_at": in_minutes(0), "ends_at": in_minutes(30)}, token=mall.staff())

    # The late buyer gets as far as the checkout first, on a phone of their own.
    context, late, late_errors = new_phone(browser, stack)
    try:
        late.goto(f"{SHOP}pages/flash/flash?id={sale['sale_id']}")
        late.get_by_role("button", name="立即抢购").click()
        log_in(late, "flash-late")
        fill_address(late)
        expect(late.locator("[data-test=payable]")).to_have_text("¥19.90")  # 9.90 + 10 shipping

        # The first buyer: the home page's flash-sale row, the sale page, checkout, pay.
        phone.goto(SHOP)
        phone.locator("[data-test=home-flash]").get_by_role("link", name=LAMP).click()
        expect(phone.locator("[data-test=flash-status]")).to_have_text("抢购中")
        expect(phone.locator("[data-test=flash-remaining]")).to_have_text("1 件")
        expect(phone.get_by_role("timer")).to_contain_text(re.compile(r"距结束\s*00:(29|30):\d\d"))
        fits_phone_width(phone)
        snap(shoot, phone, "shop-flash-running")
        phone.get_by_role("button", name="立即抢购").click()
        log_in(phone, "flash-first")
        expect(phone.locator("[data-test=coupon-picker]")).to_have_count(0)  # no coupon or points on a sale
        expect(phone.locator("[data-test=points]")).to_have_count(0)
        fill_address(phone)
        phone.get_by_role("button", name="提交订单").click()
        pay_in_sandbox(phone)
        expect(phone.locator("[data-test=order-status]")).to_have_text("待发货")
        token, _ = mall.buyer("flash-first")
        order = mall.order(order_id_from(phone), token)
        assert (order["status"], order["flash_sale_id"], order["items_total"]) == ("PAID", sale["sale_id"], 990), order

        # The late buyer submits: sold out, in words; the sale page then shows it sold out.
        late.get_by_role("button", name="提交订单").click()
        expect(late.get_by_role("alert")).to_have_text("已抢光")
        snap(shoot, late, "shop-flash-sold-out-at-checkout")
        late.goto(f"{SHOP}pages/flash/flash?id={sale['sale_id']}")

        def sold_out_shown():
            status = late.locator("[data-test=flash-status]")
            expect(status).to_be_visible()
            if status.inner_text() != "已抢光":  # the sale's sold-out flag follows its pool by a moment
                late.reload()
            expect(status).to_have_text("已抢光", timeout=1000)

        eventually(sold_out_shown, page=late)
        expect(late.get_by_role("button", name="已抢光")).to_be_disabled()
        expect(late.locator("[data-test=flash-remaining]")).to_have_text("0 件")
        snap(shoot, late, "shop-flash-sold-out")
        assert not late_errors, f"uncaught errors in the late buyer's page: {late_errors}"
    finally:
        context.close()


def test_an_upcoming_sale_counts_down_to_its_start_and_cannot_be_bought_yet(phone, stack, shoot):
    mall = Mall(stack)
    sku = mall.product(LAMP)["skus"][-1]
    sale = mall.call("POST", "/admin/flash-sales",
                     {"sku_id": sku["sku_id"], "sale_price": 1990, "stock": 5, "per_user_limit": 1,
                      "starts_at": in_minutes(60), "ends_at": in_minutes(90)}, token=mall.staff())
    phone.goto(f"{SHOP}pages/flash/flash?id={sale['sale_id']}")
    expect(phone.locator("[data-test=flash-status]")).to_have_text("即将开抢")
    expect(phone.get_by_role("timer")).to_contain_text(re.compile(r"距开抢\s*00:(59|60):\d\d"))
    expect(phone.get_by_role("button", name="即将开抢")).to_be_disabled()
    snap(shoot, phone, "shop-flash-upcoming")
