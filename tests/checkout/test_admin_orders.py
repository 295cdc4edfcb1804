"""The merchant's orders console: lists across index shards, shipping, cancelling unpaid orders."""
from __future__ import annotations

import pytest

from tests.checkout.conftest import pay, stock_of
from tests.conftest import buyer_token, staff_token


def test_admin_lists_every_buyers_orders_newest_first_across_shards(shop, alice, bob, staff, frozen_clock):
    sku = shop.sku(stock=50)
    placed = []
    for number in range(12):
        buyer = alice if number % 2 else bob
        placed.append(buyer.placed({sku: 1})["order_id"])
        frozen_clock.advance(1)
    seen, cursor = [], None
    while True:
        page = staff.get("/admin/orders?limit=5" + (f"&cursor={cursor}" if cursor else "")).data
        seen += [order["order_id"] for order in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == placed[::-1]


def test_admin_lists_by_status(shop, alice, staff):
    sku = shop.sku(stock=10)
    paid = [alice.placed({sku: 1})["order_id"] for _ in range(3)]
    for order_id in paid:
        pay(order_id)
    alice.placed({sku: 1})
    listed = staff.get("/admin/orders?status=PAID").data["items"]
    assert [order["order_id"] for order in listed] == paid[::-1]
    assert len(staff.get("/admin/orders?status=PENDING_PAYMENT").data["items"]) == 1


def test_ship_moves_paid_to_shipped_with_tracking(shop, alice, staff):
    order_id = alice.placed({shop.sku(): 1})["order_id"]
    unpaid = staff.post(f"/admin/orders/{order_id}/ship", {"carrier": "顺丰", "tracking_no": "SF100"})
    assert unpaid.status_code == 409 and unpaid.data["error"]["code"] == "INVALID_ORDER_STATUS"
    pay(order_id)
    shipped = staff.post(f"/admin/orders/{order_id}/ship", {"carrier": "顺丰", "tracking_no": "SF100"})
    assert shipped.status_code == 200, shipped.data
    assert shipped.data["status"] == "SHIPPED"
    assert shipped.data["shipment"] == {"carrier": "顺丰", "tracking_no": "SF100", "shipped_at": "2026-11-25T04:00:00.000Z"}
    twice = staff.post(f"/admin/orders/{order_id}/ship", {"carrier": "顺丰", "tracking_no": "SF100"})
    assert twice.status_code == 409


@pytest.mark.parametrize("body", [{}, {"carrier": "顺丰"}, {"carrier": "", "tracking_no": "1"},
                                  {"carrier": "顺丰", "tracking_no": "has space"}, {"carrier": "x", "tracking_no": 5}])
def test_ship_needs_carrier_and_tracking_number(shop, alice, staff, body):
    order_id = alice.placed({shop.sku(): 1})["order_id"]
    pay(order_id)
    response = staff.post(f"/admin/orders/{order_id}/ship", body)
    assert response.status_code == 400, response.data


def test_admin_cancels_an_unpaid_order_and_stock_returns(shop, alice, staff):
    sku = shop.sku(stock=4)
    order_id = alice.placed({sku: 4})["order_id"]
    response = staff.post(f"/admin/orders/{order_id}/cancel")
    assert response.status_code == 200 and response.data["cancel_reason"] == "ADMIN"
    assert stock_of(sku) == {"available": 4, "reserved": 0, "sold": 0}


def test_admin_cannot_cancel_a_paid_order(shop, alice, staff):
    order_id = alice.placed({shop.sku(): 1})["order_id"]
    pay(order_id)
    assert staff.post(f"/admin/orders/{order_id}/cancel").status_code == 409


def test_admin_views_any_order_and_404s_unknown_ones(shop, alice, staff):
    order_id = alice.placed({shop.sku(): 1})["order_id"]
    assert staff.get(f"/admin/orders/{order_id}").data["user_id"] == alice.user_id
    assert staff.get("/admin/orders/01ARZ3NDEKTSV4RRFFQ69G5FAV").status_code == 404


@pytest.mark.parametrize("method,path", [("GET", "/admin/orders"), ("GET", "/admin/orders/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
                                         ("POST", "/admin/orders/01ARZ3NDEKTSV4RRFFQ69G5FAV/ship"),
                                         ("POST", "/admin/orders/01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel")])
def test_order_console_needs_active_staff(client, method, path):
    body = {"carrier": "顺丰", "tracking_no": "SF1"} if path.endswith("/ship") else None
    assert client.call(method, path, body).status_code == 401
    assert client.as_token(buyer_token()).call(method, path, body).status_code == 403
    # a well-signed token for an account that does not exist (deleted or never created)
    assert client.as_token(staff_token("ghost", "operator")).call(method, path, body).status_code == 401
