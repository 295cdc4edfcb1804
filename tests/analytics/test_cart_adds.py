"""Cart adds come from the carts stream: each add once, and nothing that is not an add."""
from __future__ import annotations

from tests.analytics.conftest import dashboard

DAY = "2026-11-25"


def add(buyer, sku_id: str, quantity: int = 1) -> None:
    response = buyer.api.post("/cart/items", {"sku_id": sku_id, "quantity": quantity})
    assert response.status_code in (200, 201), response.data


def test_each_add_counts_once_and_each_adder_once_a_day(app, shop, alice, bob, owner, pump, raw_events):
    from infra.local.pump import EventPump

    first, second = shop.product(prices=[1000]), shop.product(prices=[2000])
    add(alice, first.skus[0].sku_id)
    add(alice, first.skus[0].sku_id, 2)  # the line grows: a second add
    add(alice, second.skus[0].sku_id)
    add(bob, first.skus[0].sku_id)
    pump.drain()
    EventPump(app, raise_errors=True).drain()  # every record again

    figures = dashboard(owner, DAY, DAY)
    assert figures["totals"]["cart_adds"] == 4
    assert figures["funnel"]["cart_adders"] == 2 and figures["funnel"]["visitors"] == 2
    adds = {product["product_id"]: product["cart_adds"] for product in figures["top_products"]}
    assert adds == {first.product_id: 3, second.product_id: 1}
    assert [event["quantity"] for event in raw_events.events if event["type"] == "CART_ADD"][:4] == [1, 2, 1, 1]


def test_changing_selecting_removing_and_checking_out_are_not_adds(shop, alice, owner, pump):
    sku = shop.sku(price=1000)
    add(alice, sku)
    assert alice.api.put(f"/cart/items/{sku}", {"quantity": 5}).status_code == 200
    assert alice.api.put(f"/cart/items/{sku}", {"selected": False}).status_code == 200
    assert alice.api.put(f"/cart/items/{sku}", {"selected": True}).status_code == 200
    response = alice.order(from_cart=True)
    assert response.status_code == 201, response.data
    add(alice, sku)  # a new line after checkout cleared the old one: an add
    assert alice.api.delete(f"/cart/items/{sku}").status_code == 200
    pump.drain()

    assert dashboard(owner, DAY, DAY)["totals"]["cart_adds"] == 2
