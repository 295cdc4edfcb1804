"""Writes whose reply is lost after they committed (botocore then resends them): each finds its own commit, so
the caller hears success and the change is made once, never twice and never reported as a 404 or 409."""
from __future__ import annotations

import pytest

from tests.catalog.helpers import as_staff
from tests.checkout.conftest import stock_of
from tests.faults import reply_lost_after_commit


def paid(shop, buyer) -> tuple[str, str]:
    from tests.checkout.conftest import pay

    sku = shop.sku(stock=5)
    order = buyer.placed({sku: 1})
    pay(order["order_id"])
    return sku, order["order_id"]


def cart_quantity(buyer, sku: str) -> int:
    return {line["sku_id"]: line["quantity"] for line in buyer.api.get("/cart").data["lines"]}[sku]


@pytest.mark.parametrize("operation, already", [("TransactWriteItems", 0), ("UpdateItem", 1)])
def test_adding_to_the_cart_adds_once(shop, alice, operation, already):
    sku = shop.sku(stock=20)
    if already:
        alice.api.post("/cart/items", {"sku_id": sku, "quantity": already})
    with reply_lost_after_commit(operation) as lost:
        response = alice.api.post("/cart/items", {"sku_id": sku, "quantity": 2})
    assert lost and response.status_code in (200, 201), response.data
    assert cart_quantity(alice, sku) == already + 2, "the resent add must not add its units again"


def test_a_resent_cancel_is_the_cancel(shop, alice):
    sku = shop.sku(stock=5)
    order = alice.placed({sku: 2})
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = alice.api.post(f"/orders/{order['order_id']}/cancel")
    assert lost and response.status_code == 200 and response.data["status"] == "CANCELLED", response.data
    assert stock_of(sku) == {"available": 5, "reserved": 0, "sold": 0}, "released once"


def test_a_resent_refund_request_and_shipment_are_theirs(shop, alice, staff):
    _, asked = paid(shop, alice)
    with reply_lost_after_commit("TransactWriteItems"):
        response = alice.api.post(f"/orders/{asked}/refund", {"reason": "拍错了"})
    assert response.status_code == 200 and response.data["status"] == "REFUND_REQUESTED", response.data
    _, shipped = paid(shop, alice)
    with reply_lost_after_commit("TransactWriteItems"):
        response = staff.post(f"/admin/orders/{shipped}/ship", {"carrier": "顺丰", "tracking_no": "SF1"})
    assert response.status_code == 200 and response.data["status"] == "SHIPPED", response.data


def test_a_resent_stock_adjustment_counts_once(client, shop):
    sku = shop.sku(stock=5)
    boss = as_staff(client, "boss")
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = boss.post(f"/admin/skus/{sku}/stock-adjustments", {"delta": 2, "reason": "到货"})
    assert lost and response.status_code in (200, 201), response.data
    assert stock_of(sku)["available"] == 7, "2 units arrived, not 4"


def test_a_resent_cart_delete_is_the_delete(shop, alice):
    sku = shop.sku(stock=5)
    alice.api.post("/cart/items", {"sku_id": sku, "quantity": 1})
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = alice.api.delete(f"/cart/items/{sku}")
    assert lost and response.status_code == 200, response.data
    assert response.data["lines"] == [] and response.data["line_count"] == 0
    assert alice.api.delete(f"/cart/items/{sku}").status_code == 404, "a line that was never there is still 404"
