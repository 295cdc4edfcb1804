"""The merchant's dashboard in a real browser shows a purchase a buyer just made: its money, its order, its buyer, its
product among the top sellers and the buyer's way through the funnel (GET /admin/dashboard, counters the streams
keep).

The figures are read through the API before the purchase, and the page must show them moved by exactly this
purchase: the test holds whatever the stack counted before it (its demo data today, each browser module having a
stack of its own, conftest.py; other tests' orders too if the stack is ever shared). The buyer is new to the stack
and the product new, so every count the purchase touches moves by a known amount. Distinct buyers and visitors are
compared over today alone, where the dashboard counts them exactly (over a range of days it estimates them with
HyperLogLog, analytics/sketch.py).
"""
from __future__ import annotations

import secrets
import time

import pytest
from playwright.sync_api import expect

from tests.browser.console_session import buyer, desk_page, paid_order, sign_in, staff_token
from tests.e2e.stack import eventually

TITLE = "看板测试·青瓷茶具套装"
FUNNEL_STEPS = ("visitors", "product_viewers", "cart_adders", "order_creators", "payers")


@pytest.fixture
def desk(browser, stack):
    with desk_page(browser, stack) as page:
        yield page


def yuan(fen: int) -> str:
    return f"¥{fen // 100:,}.{fen % 100:02d}"


def count(number: int) -> str:
    return f"{number:,}"


def dashboard(stack, token: str, day: str | None = None) -> dict:
    """GET /admin/dashboard: the page's default range (the last 7 days), or `day` alone."""
    status, figures = stack.request("GET", f"/admin/dashboard?from={day}&to={day}" if day else "/admin/dashboard",
                                    token=token)
    assert status == 200, figures
    return figures


def settled_dashboard(stack, token: str) -> tuple[dict, dict]:
    """The default range's figures and today's, once two reads a second apart agree: whatever happened on the
    stack before this test has reached the counters (stream handlers count a moment after the write)."""
    def read() -> tuple[dict, dict]:
        week = dashboard(stack, token)
        return week, dashboard(stack, token, week["to"])

    reads = [read()]

    def unchanged() -> bool:
        reads.append(read())
        return reads[-1] == reads[-2]
    time.sleep(1)
    assert eventually(unchanged, timeout=30, every=1), \
        f"the dashboard kept moving: {reads[-2][0]['totals']} then {reads[-1][0]['totals']}"
    return reads[-1]


def test_dashboard_shows_the_purchase_a_buyer_just_made(stack, desk, phone, shoot):
    owner = staff_token(stack)
    status, tree = stack.request("GET", "/admin/categories", token=owner)
    assert status == 200 and tree["items"], tree
    status, product = stack.request("POST", "/admin/products", {
        "title": TITLE, "category_id": tree["items"][0]["category_id"],
        "skus": [{"specs": {"颜色": "青"}, "price": 12_800, "stock": 20}]}, token=owner)
    assert status == 201, product
    sku_id = product["skus"][0]["sku_id"]
    before, before_today = settled_dashboard(stack, owner)
    today = before["to"]

    # The buyer's way in: the storefront reports the page and product views, the backend sees the rest.
    token = buyer(stack, f"dashboard-buyer-{secrets.token_hex(6)}")  # a buyer the stack has never seen
    status, tracked = stack.request("POST", "/track", {"events": [
        {"type": "PAGE_VIEW"}, {"type": "PRODUCT_VIEW", "product_id": product["product_id"]}]}, token=token)
    assert status == 202, tracked
    status, line = stack.request("POST", "/cart/items", {"sku_id": sku_id, "quantity": 2}, token=token)
    assert status in (200, 201), line
    order = paid_order(stack, token, sku_id, quantity=2)
    payable = order["payable"]

    sign_in(desk, "admin", "admin")
    expect(desk.get_by_role("heading", name="经营概况")).to_be_visible()

    paid_orders = before["totals"]["paid_orders"] + 1
    def purchase_counted() -> bool:
        desk.reload()
        totals = desk.get_by_test_id("totals")
        totals.wait_for()
        return desk.get_by_test_id("paid-orders").inner_text() == count(paid_orders)
    assert eventually(purchase_counted, timeout=30, every=1), \
        f"the dashboard never counted the paid order: {paid_orders} paid orders expected"

    # The last 7 days (the page's default, ending today): the purchase added to what was there.
    expect(desk.get_by_test_id("gmv")).to_have_text(yuan(before["totals"]["gmv"] + payable))
    expect(desk.get_by_test_id("net-gmv")).to_have_text(yuan(before["totals"]["net_gmv"] + payable))
    expect(desk.get_by_test_id("orders")).to_have_text(count(before["totals"]["orders"] + 1))
    gmv_bars = desk.get_by_test_id("chart-gmv").locator("rect.bar")
    expect(gmv_bars).to_have_count(len(before["by_day"]))
    expect(gmv_bars.last).to_have_attribute("data-value", str(before["by_day"][-1]["gmv"] + payable))
    paid_bars = desk.get_by_test_id("chart-paid").locator("rect.bar")
    expect(paid_bars.last).to_have_attribute("data-value", str(before["by_day"][-1]["paid_orders"] + 1))
    expect(desk.get_by_test_id("chart-status").locator("dd[data-key='PAID']")).to_have_attribute(
        "data-value", str(before["orders_by_status"]["PAID"] + 1))
    # The product is new: its row is this purchase alone (2 units; the goods, without shipping).
    top = desk.get_by_test_id("top-products").locator("tbody tr").filter(has_text=TITLE)
    expect(top).to_have_count(1)
    expect(top.locator("td").nth(3)).to_have_text("2")
    expect(top.locator("td").nth(4)).to_have_text(yuan(payable - order["shipping_fee"]))
    shoot(desk, "console-dashboard")

    # Today alone, where distinct buyers and visitors are exact: one more buyer, one more at every funnel step.
    desk.get_by_test_id("from").fill(today)
    desk.get_by_test_id("to").fill(today)
    desk.get_by_role("button", name="查看").click()
    expect(desk.get_by_test_id("paid-orders")).to_have_text(count(before_today["totals"]["paid_orders"] + 1))
    expect(desk.get_by_test_id("buyers")).to_have_text(count(before_today["totals"]["buyers"] + 1))
    funnel = desk.get_by_test_id("chart-funnel")
    for step in FUNNEL_STEPS:
        expect(funnel.locator(f"dd[data-key='{step}']")).to_have_attribute(
            "data-value", str(before_today["funnel"][step] + 1))

    # On a phone the same figures, one column, the menu behind a button.
    sign_in(phone, "admin", "admin")
    expect(phone.get_by_test_id("gmv")).to_have_text(yuan(before["totals"]["gmv"] + payable))
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
