"""Over real HTTP on the local stack: a visitor browses, a buyer views, adds to the cart, orders and pays, and the
merchant's dashboard shows each step as it happens; the raw events land as JSON lines under the stack's .local/."""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

DEADLINE_SECONDS = 30


def shop_day(offset_days: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(hours=8, days=offset_days)).date().isoformat()  # Asia/Shanghai


def test_each_step_of_a_purchase_shows_on_the_dashboard(stack):
    status, staff = stack.request("POST", "/admin/login", {"username": "admin", "password": "admin"})
    assert status == 200, staff
    # yesterday to tomorrow: the test may run across the shop's midnight
    query = f"/admin/dashboard?from={shop_day(-1)}&to={shop_day(1)}"

    def dashboard() -> dict:
        status, answer = stack.request("GET", query, token=staff["token"])
        assert status == 200, answer
        return answer

    def shows(what: str, check) -> dict:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not check(answer := dashboard()):
            assert time.monotonic() < deadline, f"the dashboard never showed {what}: {answer}"
            time.sleep(0.3)
        return answer

    before = dashboard()
    assert before["funnel"]["visitors"] == 0 and before["totals"]["gmv"] == 0, before

    status, accepted = stack.request("POST", "/track", {"events": [{"type": "PAGE_VIEW"}]},
                                     headers={"X-Device-Id": "e2e-phone"})
    assert status == 202 and accepted["accepted"] == 1, accepted
    shows("the anonymous visitor", lambda d: d["funnel"]["visitors"] == 1 and d["totals"]["page_views"] == 1)

    status, login = stack.request("POST", "/auth/login", {"code": "dev:e2e-dashboard"})
    buyer = login["token"]
    status, page = stack.request("GET", "/catalog/products?limit=3")
    status, product = stack.request("GET", f"/catalog/products/{page['items'][0]['product_id']}")
    status, accepted = stack.request("POST", "/track", {"events": [
        {"type": "PRODUCT_VIEW", "product_id": product["product_id"]}, {"type": "SEARCH", "q": product["title"]}]},
        token=buyer, headers={"X-Device-Id": "e2e-phone"})
    assert status == 202, accepted
    shows("the product viewer", lambda d: d["funnel"]["product_viewers"] == 1 and d["funnel"]["visitors"] == 2)

    sku = next(s for s in product["skus"] if s["stock"] > 0)
    status, line = stack.request("POST", "/cart/items", {"sku_id": sku["sku_id"], "quantity": 1}, token=buyer)
    assert status in (200, 201), line
    shows("the cart adder", lambda d: d["funnel"]["cart_adders"] == 1 and d["totals"]["cart_adds"] == 1)

    status, address = stack.request("POST", "/me/addresses", {
        "name": "钱七", "phone": "13500135000", "province": "上海市", "city": "上海市", "district": "浦东新区",
        "detail": "世纪大道 1 号"}, token=buyer)
    assert status in (200, 201), address
    status, order = stack.request("POST", "/orders", {"from_cart": True, "address_id": address["address_id"]},
                                  token=buyer, headers={"Idempotency-Key": "e2e-dashboard-order-1"})
    assert status == 201, order
    placed = shows("the order", lambda d: d["funnel"]["order_creators"] == 1 and d["totals"]["orders"] == 1)
    assert placed["orders_by_status"]["PENDING_PAYMENT"] == 1 and placed["totals"]["gmv"] == 0, placed

    status, paid = stack.request("POST", "/payments/sandbox/pay", {"order_id": order["order_id"]}, token=buyer)
    assert status == 200 and paid["status"] == "PAID", paid
    after = shows("the payment", lambda d: d["funnel"]["payers"] == 1 and d["totals"]["gmv"] == order["payable"])
    totals = after["totals"]
    assert (totals["paid_orders"], totals["buyers"], totals["new_buyers"], totals["net_gmv"]) == \
        (1, 1, 1, order["payable"]), totals
    assert after["orders_by_status"]["PAID"] == 1 and after["orders_by_status"]["PENDING_PAYMENT"] == 0
    assert after["funnel"] == {"visitors": 2, "product_viewers": 1, "cart_adders": 1, "order_creators": 1,
                               "payers": 1}, after["funnel"]
    [top] = [p for p in after["top_products"] if p["product_id"] == product["product_id"]]
    assert (top["title"], top["views"], top["cart_adds"], top["units"]) == (product["title"], 1, 1, 1), top

    events = [json.loads(line) for path in sorted((stack.local_dir / "events").glob("*.jsonl"))
              for line in path.read_text(encoding="utf-8").splitlines() if line]
    kinds = {event["type"] for event in events}
    assert {"PAGE_VIEW", "PRODUCT_VIEW", "SEARCH", "CART_ADD", "ORDER_CREATED", "ORDER_PAID"} <= kinds, kinds
    assert all(event["day"] in (shop_day(-1), shop_day(), shop_day(1)) for event in events)
