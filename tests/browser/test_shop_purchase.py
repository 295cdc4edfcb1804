"""The storefront in a real browser at phone width: a buyer's whole purchase from the home page to PAID with a
coupon and points, the orders pages' cancel, confirm and refund request, the keyboard alone, and the behaviour
events that never hold a page up.
"""
from __future__ import annotations

import json
import re

from playwright.sync_api import expect

from tests.browser.shop_steps import (
    SHOP,
    Mall,
    eventually,
    fill_address,
    fits_phone_width,
    log_in,
    order_id_from,
    pay_in_sandbox,
    snap,
)

BOX = "可折叠收纳箱"  # demo catalog: 规格 中号 ¥59.00 / 大号 ¥69.00


def test_buyer_pays_with_coupon_and_points_from_the_home_page(phone, stack, shoot):
    mall = Mall(stack)
    token, user_id = mall.buyer("mei")
    mall.grant_points(user_id, 500)
    mall.wait_until_searchable("收纳箱", BOX)

    phone.goto(SHOP)
    expect(phone.get_by_role("heading", name="为你推荐")).to_be_visible()
    expect(phone.locator("[data-test=products] li").first).to_be_visible()
    fits_phone_width(phone)
    snap(shoot, phone, "shop-home")

    # The coupon center asks who is claiming, then comes back to it.
    phone.get_by_role("navigation", name="主导航").get_by_role("link", name="领券").click()
    phone.get_by_role("button", name="领取 新人无门槛5元").click()
    log_in(phone, "mei")
    expect(phone.get_by_role("heading", name="领券中心")).to_be_visible()
    phone.get_by_role("button", name="领取 新人无门槛5元").click()
    expect(phone.get_by_text("已领取「新人无门槛5元」")).to_be_visible()
    phone.get_by_role("button", name="领取 满99减10").click()
    expect(phone.get_by_text("已领取「满99减10」")).to_be_visible()
    phone.get_by_role("button", name="领取 新人无门槛5元").click()  # one per buyer: told so in words
    expect(phone.get_by_role("alert")).to_have_text(re.compile("每人限领 1 张"))
    snap(shoot, phone, "shop-coupon-center")

    # Search from the home page, open the product, pick a spec: its price and stock show.
    phone.get_by_role("navigation", name="主导航").get_by_role("link", name="首页").click()
    phone.get_by_role("searchbox", name="搜索商品").fill("收纳箱")
    phone.get_by_role("button", name="搜索").click()
    expect(phone.get_by_role("heading", name="搜索结果")).to_be_visible()
    phone.get_by_role("link", name=re.compile(BOX)).first.click()
    expect(phone.get_by_role("heading", name=BOX, level=2)).to_be_visible()
    expect(phone.get_by_role("button", name="加入购物车")).to_be_disabled()
    expect(phone.locator("[data-test=sku-status]")).to_have_text(re.compile("请选择 规格"))
    large = phone.get_by_role("group", name="规格").get_by_role("button", name="大号")
    large.click()
    expect(large).to_have_attribute("aria-pressed", "true")
    expect(phone.locator("[data-test=price]")).to_have_text("¥69.00")
    expect(phone.locator("[data-test=sku-status]")).to_have_text(re.compile(r"大号，库存 \d+ 件"))
    fits_phone_width(phone)
    snap(shoot, phone, "shop-product")
    phone.get_by_role("button", name="加入购物车").click()
    expect(phone.get_by_text("已加入购物车")).to_be_visible()

    phone.get_by_role("link", name="购物车").click()
    expect(phone.get_by_role("heading", name="购物车")).to_be_visible()
    expect(phone.locator("[data-test=cart-lines] li")).to_have_count(1)
    expect(phone.locator("[data-test=cart-total]")).to_have_text("¥69.00")
    snap(shoot, phone, "shop-cart")
    phone.get_by_role("button", name="去结算").click()

    # Checkout: a first address, the coupon picker (the best applied, the other told why not), points.
    expect(phone.get_by_role("heading", name="确认订单")).to_be_visible()
    fill_address(phone)
    coupons = phone.get_by_role("group", name="选择优惠券")
    expect(coupons.get_by_role("button", name=re.compile("新人无门槛5元"))).to_have_attribute("aria-pressed", "true")
    expect(coupons.get_by_role("button", name=re.compile("满99减10"))).to_be_disabled()
    expect(coupons.locator("[data-test=coupon-reason]")).to_have_text("未满 ¥99.00，不可用")
    amounts = phone.locator("[data-test=amounts]")
    expect(amounts).to_contain_text("-¥5.00")
    phone.get_by_label("使用积分", exact=True).check()
    phone.get_by_label("使用积分数").fill("300")
    phone.get_by_role("button", name="应用积分").click()
    expect(amounts).to_contain_text("积分抵扣")
    expect(amounts).to_contain_text("-¥3.00")
    expect(phone.locator("[data-test=payable]")).to_have_text("¥71.00")  # 69 - 5 - 3 + 10 shipping
    fits_phone_width(phone)
    snap(shoot, phone, "shop-checkout")
    phone.get_by_role("button", name="提交订单").click()

    expect(phone.locator("[data-test=pay-amount]")).to_have_text("¥71.00")
    expect(phone.get_by_role("timer")).to_contain_text(re.compile(r"1[45]:\d\d"))  # the 15 minutes to pay
    snap(shoot, phone, "shop-cashier")
    pay_in_sandbox(phone)

    expect(phone.locator("[data-test=order-status]")).to_have_text("待发货")
    expect(phone.get_by_text("支付成功")).to_be_visible()
    expect(phone.locator("[data-test=coupon-discount]")).to_have_text("-¥5.00")
    expect(phone.locator("[data-test=points-discount]")).to_have_text("-¥3.00")
    snap(shoot, phone, "shop-order-paid")
    order = mall.order(order_id_from(phone), token)
    assert (order["status"], order["payable"], order["coupon_discount"], order["points_discount"]) == \
        ("PAID", 7100, 500, 300), f"expected a PAID order of 7100 with 500 coupon and 300 points off, got {order}"
    assert order["coupon"]["name"] == "新人无门槛5元" and order["payment"] is not None, order

    # The member center: the level, and the points left after spending 300 of 500.
    phone.goto(f"{SHOP}pages/member/member")
    expect(phone.locator("[data-test=member-level]")).to_have_text("Lv1 普通会员")
    expect(phone.locator("[data-test=member-points]")).to_have_text("200")
    expect(phone.locator("[data-test=points-ledger]")).to_contain_text("下单抵扣")
    expect(phone.locator("[data-test=points-ledger]")).to_contain_text("-300")
    expect(phone.get_by_role("progressbar")).to_be_visible()
    snap(shoot, phone, "shop-member")


def test_buyer_cancels_confirms_and_asks_for_a_refund_from_the_order_pages(phone, stack, shoot):
    mall = Mall(stack)
    token, _ = mall.buyer("jun")
    address_id = mall.add_address(token)
    sku = mall.product(BOX)["skus"][0]["sku_id"]

    def order(key: str) -> str:
        return mall.call("POST", "/orders", {"items": [{"sku_id": sku, "quantity": 1}], "address_id": address_id},
                         token=token, headers={"Idempotency-Key": key})["order_id"]

    unpaid, shipped = order("browser-unpaid-1"), order("browser-shipped-1")
    mall.call("POST", "/payments/sandbox/pay", {"order_id": shipped}, token=token)
    mall.call("POST", f"/admin/orders/{shipped}/ship", {"carrier": "顺丰", "tracking_no": "SF1234567890"},
              token=mall.staff())

    phone.goto(f"{SHOP}pages/orders/orders")
    log_in(phone, "jun")
    expect(phone.get_by_role("heading", name="我的订单")).to_be_visible()
    expect(phone.locator("[data-test=orders] > li")).to_have_count(2)
    phone.get_by_role("button", name="待付款").click()
    expect(phone.locator("[data-test=orders] > li")).to_have_count(1)
    fits_phone_width(phone)
    snap(shoot, phone, "shop-orders")

    phone.locator("[data-test=orders] a").first.click()
    expect(phone.locator("[data-test=order-status]")).to_have_text("待付款")
    expect(phone.get_by_role("timer")).to_be_visible()
    phone.get_by_role("button", name="取消订单").click()
    expect(phone.locator("[data-test=order-status]")).to_have_text("已取消")
    expect(phone.get_by_text("你取消了订单")).to_be_visible()
    assert mall.order(unpaid, token)["status"] == "CANCELLED"

    phone.goto(f"{SHOP}pages/order/order?id={shipped}")
    expect(phone.locator("[data-test=order-status]")).to_have_text("待收货")
    expect(phone.get_by_text("顺丰 SF1234567890")).to_be_visible()
    phone.get_by_role("button", name="确认收货").click()
    expect(phone.locator("[data-test=order-status]")).to_have_text("已完成")
    phone.get_by_role("button", name="申请退款").click()
    phone.get_by_role("button", name="提交退款申请").click()
    expect(phone.get_by_role("alert")).to_have_text("请填写退款原因")  # checked before asking the server
    phone.get_by_label("退款原因").fill("尺寸不合适")
    phone.get_by_role("button", name="提交退款申请").click()
    expect(phone.locator("[data-test=order-status]")).to_have_text("退款申请中")
    expect(phone.get_by_text("退款原因：尺寸不合适")).to_be_visible()
    snap(shoot, phone, "shop-refund-requested")
    refunded = mall.order(shipped, token)
    assert (refunded["status"], refunded["refund_request"]["reason"]) == ("REFUND_REQUESTED", "尺寸不合适"), refunded


def test_a_buyer_searches_picks_a_spec_and_adds_to_cart_by_keyboard_alone(phone, stack):
    Mall(stack).buyer("kai")
    Mall(stack).wait_until_searchable("毛毯", "珊瑚绒毛毯")
    phone.goto(f"{SHOP}pages/login/login")
    log_in(phone, "kai")
    phone.goto(SHOP)
    expect(phone.locator("[data-test=products] li").first).to_be_visible()

    def tab_to(locator, limit: int = 60) -> None:
        for _ in range(limit):
            phone.keyboard.press("Tab")
            if locator.evaluate("element => element === document.activeElement"):
                outline = locator.evaluate("element => getComputedStyle(element).outlineStyle")
                assert outline != "none", "expected a visible focus ring on the focused control"
                return
        raise AssertionError(f"expected Tab to reach {locator} within {limit} presses")

    tab_to(phone.get_by_role("searchbox", name="搜索商品"))
    phone.keyboard.type("毛毯")
    phone.keyboard.press("Enter")
    expect(phone.get_by_role("heading", name="搜索结果")).to_be_visible()
    product = phone.locator("[data-test=products] a").first
    expect(product).to_be_visible()
    tab_to(product)
    phone.keyboard.press("Enter")
    picker = phone.locator("[data-test=sku-picker]")
    expect(picker).to_be_visible()
    first_value = picker.get_by_role("button").first
    tab_to(first_value)
    phone.keyboard.press("Space")
    expect(first_value).to_have_attribute("aria-pressed", "true")
    for group in picker.get_by_role("group").all()[1:]:  # any further spec: its first value in stock
        choice = group.locator("button:not([disabled])").first
        tab_to(choice)
        phone.keyboard.press("Enter")
    expect(phone.locator("[data-test=sku-status]")).to_have_text(re.compile(r"库存 \d+ 件"))
    add = phone.get_by_role("button", name="加入购物车")
    tab_to(add)
    phone.keyboard.press("Enter")
    expect(phone.get_by_text("已加入购物车")).to_be_visible()
    fits_phone_width(phone)


def test_behaviour_events_are_posted_without_holding_up_the_page(phone, stack):
    posted: list[tuple[dict, dict]] = []

    def hold_forever(route):  # the tracking route never answers: the pages must not wait for it
        posted.append((json.loads(route.request.post_data), route.request.headers))

    Mall(stack).wait_until_searchable("蜂蜜", "野生土蜂蜜")
    phone.route("**/track", hold_forever)
    phone.goto(SHOP)
    phone.get_by_role("searchbox", name="搜索商品").fill("蜂蜜")
    phone.get_by_role("button", name="搜索").click()
    phone.get_by_role("link", name=re.compile("野生土蜂蜜")).click()
    expect(phone.get_by_role("heading", name="野生土蜂蜜", level=2)).to_be_visible()
    product_id = re.search(r"id=([0-9A-Z]{26})", phone.url).group(1)

    def events():
        sent = [event for body, _ in posted for event in body["events"]]
        kinds = {event["type"] for event in sent}
        assert {"PAGE_VIEW", "SEARCH", "PRODUCT_VIEW"} <= kinds, f"expected page, search and product events, got {sent}"
        return sent

    sent = eventually(events, page=phone)
    assert {"type": "SEARCH", "q": "蜂蜜"}.items() <= next(e for e in sent if e["type"] == "SEARCH").items()
    assert next(e for e in sent if e["type"] == "PRODUCT_VIEW")["product_id"] == product_id
    assert all(re.fullmatch(r"[0-9A-Za-z_.:-]{1,64}", headers.get("x-device-id", "")) for _, headers in posted), \
        f"expected every batch to carry an X-Device-Id, got {[h.get('x-device-id') for _, h in posted]}"
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["at"]) for e in sent), sent
