"""The storefront's own login in a phone browser: Alipay's web authorization in any browser, WeChat's inside WeChat's
(its user agent says MicroMessenger), each through the local stack's sandbox authorize page, back to the page that
asked, with the mall's token; the buyer's orders and payment work after it."""
from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.shop_steps import SHOP, WECHAT_BROWSER, Mall, eventually, new_phone, pay_in_sandbox, snap

BOX = "可折叠收纳箱"


def stored_token(page: Page) -> str:
    """The token the page keeps in its storage."""
    raw = page.evaluate("() => window.localStorage.getItem('mall.token')")
    assert raw, "expected the page to keep the mall's token after the web login"
    return raw


def web_login_from_orders(page: Page, button: str) -> None:
    page.goto(SHOP + "pages/orders/orders")
    expect(page.get_by_role("heading", name="登录微商城")).to_be_visible()
    page.get_by_role("button", name=button).click()
    # the sandbox's authorize page sends the browser back with a code; the page signs in and goes back
    expect(page.get_by_role("heading", name="我的订单")).to_be_visible()
    expect(page.get_by_text("还没有订单")).to_be_visible()
    assert "code=" not in page.url and "state=" not in page.url, f"the code stays out of the address bar: {page.url}"


def _assert_paid(mall: Mall, order_id: str, token: str) -> None:
    status = mall.order(order_id, token)["status"]
    assert status == "PAID", f"expected the web buyer's order PAID, got {status}"


def test_buyer_in_a_phone_browser_logs_in_with_alipay_reaches_the_order_list_and_pays(phone, stack, shoot):
    mall = Mall(stack)
    web_login_from_orders(phone, "支付宝登录")
    snap(shoot, phone, "shop-web-login-orders")
    token = stored_token(phone)
    me = mall.call("GET", "/me", token=token)
    assert me["openid"] == "" and me["nickname"] == "支付宝用户", f"expected an Alipay web buyer, got {me}"

    # An order of theirs (arranged through the API) shows in the list; they pay it where the page offers to.
    sku = mall.product(BOX)["skus"][0]["sku_id"]
    address_id = mall.add_address(token)
    order = mall.call("POST", "/orders", {"items": [{"sku_id": sku, "quantity": 1}], "address_id": address_id},
                      token=token, headers={"Idempotency-Key": "web-login-order-0001"})
    phone.reload()
    expect(phone.locator("[data-test=orders] li")).to_have_count(1)
    phone.locator("[data-test=orders] li").first.click()
    phone.get_by_role("link", name="去支付").click()
    expect(phone.get_by_role("heading", name="收银台")).to_be_visible()
    expect(phone.get_by_role("button", name="微信支付")).to_have_count(0)  # no mini-program openid to pay with
    pay_in_sandbox(phone)
    eventually(lambda: _assert_paid(mall, order["order_id"], token), timeout=20, page=phone)
    snap(shoot, phone, "shop-web-login-paid")

    # The same browser logging in again is the same buyer.
    phone.evaluate("() => window.localStorage.clear()")
    phone.goto(SHOP + "pages/orders/orders")
    phone.get_by_role("button", name="支付宝登录").click()
    expect(phone.locator("[data-test=orders] li")).to_have_count(1)


def test_buyer_in_wechats_browser_logs_in_with_wechat(browser, stack, shoot):
    context, page, errors = new_phone(browser, stack, user_agent=WECHAT_BROWSER)
    try:
        page.goto(SHOP + "pages/orders/orders")
        expect(page.get_by_role("button", name="微信登录")).to_be_visible()
        expect(page.get_by_role("button", name="支付宝登录")).to_have_count(0)
        snap(shoot, page, "shop-web-login-wechat")
        web_login_from_orders(page, "微信登录")
        me = Mall(stack).call("GET", "/me", token=stored_token(page))
        assert me["nickname"] == "微信用户" and me["openid"] == "", f"expected a WeChat web buyer, got {me}"
    finally:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
