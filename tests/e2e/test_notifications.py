"""Over real HTTP on the local stack: a paid order is announced once, through the outbox, the queue and the
sandbox WeChat, and the merchant sees exactly one ORDER_PAID notification."""
from __future__ import annotations

import time

DEADLINE_SECONDS = 30


def test_paying_an_order_makes_exactly_one_order_paid_notification(stack):
    status, staff = stack.request("POST", "/admin/login", {"username": "admin", "password": "admin"})
    assert status == 200, staff
    admin = staff["token"]
    template = {"template_id": "e2e-order-paid", "page": "pages/order/detail",
                "fields": [{"key": "character_string1", "source": "order_id"},
                           {"key": "thing2", "source": "product_title"},
                           {"key": "amount3", "source": "payable"}, {"key": "time4", "source": "paid_at"}]}
    status, saved = stack.request("PUT", "/admin/notification-templates/ORDER_PAID", template, token=admin)
    assert status == 200 and saved["enabled"], saved

    status, login = stack.request("POST", "/auth/login", {"code": "dev:e2e-notified"})
    assert status == 200, login
    buyer = login["token"]
    status, credits = stack.request("POST", "/me/subscriptions", {"results": {"e2e-order-paid": "accept"}},
                                    token=buyer)
    assert status == 200 and credits["subscriptions"][0]["credits"] == 1, credits
    address = {"name": "赵六", "phone": "13600136000", "province": "北京市", "city": "北京市", "district": "海淀区",
               "detail": "中关村 1 号"}
    status, saved_address = stack.request("POST", "/me/addresses", address, token=buyer)
    assert status in (200, 201), saved_address
    status, page = stack.request("GET", "/catalog/products?limit=3")
    status, product = stack.request("GET", f"/catalog/products/{page['items'][-1]['product_id']}")
    sku = next(s for s in product["skus"] if s["stock"] > 0)
    status, order = stack.request("POST", "/orders", {"items": [{"sku_id": sku["sku_id"], "quantity": 1}],
                                                      "address_id": saved_address["address_id"]},
                                  token=buyer, headers={"Idempotency-Key": "e2e-notify-order-0001"})
    assert status == 201, order
    status, paid = stack.request("POST", "/payments/sandbox/pay", {"order_id": order["order_id"]}, token=buyer)
    assert status == 200 and paid["status"] == "PAID", paid

    def announced() -> list[dict]:
        status, listed = stack.request("GET", "/admin/notifications?limit=100", token=admin)
        assert status == 200, listed
        return [item for item in listed["items"]
                if item["kind"] == "ORDER_PAID" and item["order_id"] == order["order_id"]]

    deadline = time.monotonic() + DEADLINE_SECONDS
    while not [item for item in announced() if item["status"] == "SENT"]:
        assert time.monotonic() < deadline, f"no ORDER_PAID sent within {DEADLINE_SECONDS} s: {announced()}"
        time.sleep(0.3)
    time.sleep(2)  # a second notification, were one coming, has had the same time to appear

    [item] = announced()
    assert item["status"] == "SENT" and item["template_id"] == "e2e-order-paid", item
    assert item["data"]["character_string1"] == order["order_id"]
    assert item["data"]["amount3"] == f"¥{order['payable'] // 100}.{order['payable'] % 100:02d}"
    status, credits = stack.request("POST", "/me/subscriptions", {"results": {"e2e-order-paid": "reject"}},
                                    token=buyer)
    assert credits["subscriptions"][0]["credits"] == 0, "the send did not spend the credit"
