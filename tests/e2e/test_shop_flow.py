"""A buyer's first minutes over real HTTP against the local stack: login, browse, search, cart."""
from __future__ import annotations

import urllib.parse

from tests.e2e.stack import eventually


def test_login_browse_search_and_fill_a_cart(stack):
    status, login = stack.request("POST", "/auth/login", {"code": "dev:e2e-buyer"})
    assert status == 200, login
    token = login["token"]
    assert "session_key" not in str(login)

    status, tree = stack.request("GET", "/catalog/categories")
    assert status == 200 and tree, tree

    status, page = stack.request("GET", "/catalog/products?limit=5")
    assert status == 200, page
    assert len(page["items"]) == 5 and page["next_cursor"]
    status, second = stack.request("GET", "/catalog/products?limit=5&cursor="
                                   + urllib.parse.quote(page["next_cursor"]))
    assert status == 200
    assert not {p["product_id"] for p in page["items"]} & {p["product_id"] for p in second["items"]}

    product = page["items"][0]
    status, detail = stack.request("GET", f"/catalog/products/{product['product_id']}")
    assert status == 200 and len(detail["skus"]) >= 2, detail

    fragment = detail["title"][1:3]  # two characters from inside a Chinese title
    found = eventually(lambda: any(
        p["product_id"] == product["product_id"]
        for p in stack.request("GET", "/catalog/products?q=" + urllib.parse.quote(fragment))[1]["items"]),
        timeout=15.0, every=0.2)
    assert found, f"searching {fragment!r} did not find {detail['title']!r}"

    sku = detail["skus"][0]
    status, added = stack.request("POST", "/cart/items", {"sku_id": sku["sku_id"], "quantity": 2}, token=token)
    assert status in (200, 201), added
    status, cart = stack.request("GET", "/cart", token=token)
    assert status == 200, cart
    assert [line["sku_id"] for line in cart["lines"]] == [sku["sku_id"]]
    assert cart["items_total"] == 2 * sku["price"]

    status, other = stack.request("GET", "/cart", token=stack.request(
        "POST", "/auth/login", {"code": "dev:e2e-other"})[1]["token"])
    assert status == 200 and other["lines"] == [], "another buyer sees this buyer's cart"


def test_login_cart_order_prepay_and_sandbox_pay(stack):
    status, login = stack.request("POST", "/auth/login", {"code": "dev:e2e-payer"})
    assert status == 200, login
    token = login["token"]
    address = {"name": "李四", "phone": "13900000000", "province": "浙江省", "city": "杭州市", "district": "西湖区",
               "detail": "文三路 1 号"}
    status, saved = stack.request("POST", "/me/addresses", address, token=token)
    assert status in (200, 201), saved
    status, page = stack.request("GET", "/catalog/products?limit=1")
    status, product = stack.request("GET", f"/catalog/products/{page['items'][0]['product_id']}")
    sku = next(s for s in product["skus"] if s["stock"] > 0)
    status, line = stack.request("POST", "/cart/items", {"sku_id": sku["sku_id"], "quantity": 1}, token=token)
    assert status in (200, 201), line

    status, order = stack.request("POST", "/orders", {"from_cart": True, "address_id": saved["address_id"]},
                                  token=token, headers={"Idempotency-Key": "e2e-pay-order-0001"})
    assert status == 201 and order["status"] == "PENDING_PAYMENT", order
    status, params = stack.request("POST", "/payments/prepay", {"order_id": order["order_id"], "provider": "wechat"},
                                   token=token)
    assert status == 200 and params["package"].startswith("prepay_id=") and params["paySign"], params
    status, paid = stack.request("POST", "/payments/sandbox/pay", {"order_id": order["order_id"]}, token=token)
    assert status == 200 and paid["status"] == "PAID", paid
    status, seen = stack.request("GET", f"/orders/{order['order_id']}", token=token)
    assert seen["status"] == "PAID" and seen["payment"]["transaction_id"], seen
    assert (stack.local_dir / "keys" / "sandbox.json").exists(), "the sandbox keeps its keys for testers"
