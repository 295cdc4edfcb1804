"""WeChat Pay inside WeChat's browser: a buyer who logged in on the storefront with WeChat (the sandbox official
account) is offered WeChat Pay again; the page prepays with scene wechat_browser and, with no WeixinJSBridge on the
local stack, the sandbox's cashier plays WeChat's browser: the twin checks the getBrandWCPayRequest parameters and
pays that trade through its signed notification to the mall's webhook. The order ends PAID."""
from __future__ import annotations

import json
import re

from playwright.sync_api import expect

from tests.browser.shop_steps import SHOP, WECHAT_BROWSER, Mall, eventually, new_phone, snap
from tests.browser.test_shop_web_login import stored_token, web_login_from_orders

BOX = "可折叠收纳箱"
SANDBOX_OA_APPID = "wx-sandbox-official-account"  # chalicelib/members/official_account.py


def test_buyer_logged_in_inside_wechat_pays_with_wechat_pay(browser, stack, shoot):
    mall = Mall(stack)
    context, page, errors = new_phone(browser, stack, user_agent=WECHAT_BROWSER)
    try:
        web_login_from_orders(page, "微信登录")
        token = stored_token(page)
        sku = mall.product(BOX)["skus"][0]["sku_id"]
        order = mall.call("POST", "/orders", {"items": [{"sku_id": sku, "quantity": 1}],
                                              "address_id": mall.add_address(token)},
                          token=token, headers={"Idempotency-Key": "wechat-browser-order-0001"})
        page.goto(SHOP + f"pages/pay/pay?order_id={order['order_id']}")
        expect(page.get_by_role("heading", name="收银台")).to_be_visible()
        expect(page.get_by_role("button", name="支付宝支付")).to_be_visible()
        snap(shoot, page, "shop-wechat-browser-pay-choice")
        with page.expect_request(lambda request: request.url.endswith("/payments/prepay")) as prepay:
            page.get_by_role("button", name="微信支付").click()
        assert json.loads(prepay.value.post_data) == {"order_id": order["order_id"], "provider": "wechat",
                                                      "scene": "wechat_browser"}
        cashier = page.get_by_role("region", name="沙箱收银台")
        expect(cashier).to_contain_text("WeixinJSBridge")
        snap(shoot, page, "shop-wechat-browser-cashier")
        with page.expect_request(lambda request: request.url.endswith("/payments/sandbox/pay")) as paying:
            cashier.get_by_role("button", name=re.compile("确认付款")).click()
        jsapi = json.loads(paying.value.post_data)["wechat_jsapi"]
        assert jsapi["appId"] == SANDBOX_OA_APPID and jsapi["package"].startswith("prepay_id=")
        expect(page).to_have_url(re.compile(r"/pages/order/order\?id=.*paid=1"))

        def paid() -> None:
            answer = mall.order(order["order_id"], token)
            assert answer["status"] == "PAID", f"expected the order PAID, got {answer['status']}"
            assert answer["payment"]["provider"] == "wechat"
        eventually(paid, timeout=20, page=page)
        trades = json.loads((stack.local_dir / "keys" / "sandbox-trades.json").read_text())
        trade = trades["wechatpay"][order["order_id"]]
        assert (trade["appid"], trade["trade_state"]) == (SANDBOX_OA_APPID, "SUCCESS"), trade
        assert trade["payer_openid"].startswith("sandbox-oa-openid-"), "paid by the official-account openid"
        snap(shoot, page, "shop-wechat-browser-paid")
    finally:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
