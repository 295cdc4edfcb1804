"""The merchant's dashboard in a real browser shows a purchase a buyer just made: its money, its order, its buyer,
its product among the top sellers and the buyer's way through the funnel (GET /admin/dashboard, counters the
streams keep)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.console_session import buyer, desk_page, paid_order, sign_in, staff_token
from tests.e2e.stack import eventually

TITLE = "看板测试·青瓷茶具套装"


@pytest.fixture
def desk(browser, stack):
    with desk_page(browser, stack) as page:
        yield page


def yuan(fen: int) -> str:
    return f"¥{fen // 100:,}.{fen % 100:02d}"


def test_dashboard_shows_the_purchase_a_buyer_just_made(stack, desk, phone, shoot):
    owner = staff_token(stack)
    status, tree = stack.request("GET", "/admin/categories", token=owner)
    assert status == 200 and tree["items"], tree
    status, product = stack.request("POST", "/admin/products", {
        "title": TITLE, "category_id": tree["items"][0]["category_id"],
        "skus": [{"specs": {"颜色": "青"}, "price": 12_800, "stock": 20}]}, token=owner)
    assert status == 201, product
    sku_id = product["skus"][0]["sku_id"]

    # The buyer's way in: the storefront reports the page and product views, the backend sees the rest.
    token = buyer(stack, "console-dashboard-buyer")
    status, tracked = stack.request("POST", "/track", {"events": [
        {"type": "PAGE_VIEW"}, {"type": "PRODUCT_VIEW", "product_id": product["product_id"]}]}, token=token)
    assert status == 202, tracked
    status, line = stack.request("POST", "/cart/items", {"sku_id": sku_id, "quantity": 2}, token=token)
    assert status in (200, 201), line
    order = paid_order(stack, token, sku_id, quantity=2)
    payable = order["payable"]

    sign_in(desk, "admin", "admin")
    expect(desk.get_by_role("heading", name="经营概况")).to_be_visible()

    def purchase_counted() -> bool:
        desk.reload()
        totals = desk.get_by_test_id("totals")
        totals.wait_for()
        return desk.get_by_test_id("paid-orders").inner_text() == "1"
    assert eventually(purchase_counted, timeout=30, every=1), "the dashboard never counted the paid order"

    expect(desk.get_by_test_id("gmv")).to_have_text(yuan(payable))
    expect(desk.get_by_test_id("net-gmv")).to_have_text(yuan(payable))
    expect(desk.get_by_test_id("orders")).to_have_text("1")
    expect(desk.get_by_test_id("buyers")).to_have_text("1")
    expect(desk.get_by_test_id("chart-gmv").locator(f"rect.bar[data-value='{payable}']")).to_have_count(1)
    expect(desk.get_by_test_id("chart-paid").locator("rect.bar[data-value='1']")).to_have_count(1)
    expect(desk.get_by_test_id("chart-status").locator("dd[data-key='PAID']")).to_have_attribute("data-value", "1")
    funnel = desk.get_by_test_id("chart-funnel")
    for step in ("visitors", "product_viewers", "cart_adders", "order_creators", "payers"):
        expect(funnel.locator(f"dd[data-key='{step}']")).to_have_attribute("data-value", "1")
    top = desk.get_by_test_id("top-products").locator("tbody tr").filter(has_text=TITLE)
    expect(top).to_contain_text("2")
    expect(top).to_contain_text(yuan(payable - order["shipping_fee"]))
    shoot(desk, "console-dashboard")

    # On a phone the same figures, one column, the menu behind a button.
    sign_in(phone, "admin", "admin")
    expect(phone.get_by_test_id("gmv")).to_have_text(yuan(payable))
    expect(phone.get_by_test_id("nav-orders")).to_be_hidden()
    shoot(phone, "console-dashboard-phone")
    phone.get_by_role("button", name="菜单").click()
    phone.get_by_test_id("nav-orders").click()
    expect(phone.get_by_role("heading", name="订单")).to_be_visible()

    # A range that ends before today leaves the purchase out.
    desk.get_by_test_id("from").fill("2020-01-01")
    desk.get_by_test_id("to").fill("2020-01-07")
    desk.get_by_role("button", name="查看").click()
    expect(desk.get_by_test_id("paid-orders")).to_have_text("0")
    expect(desk.get_by_test_id("gmv")).to_have_text("¥0.00")
