"""The buyer's order routes: ownership, listing with status and cursor, auth."""
from __future__ import annotations

import pytest

from tests.checkout.conftest import pay
from tests.conftest import staff_token


def test_another_buyers_order_is_404_everywhere(shop, alice, bob):
    order_id = alice.placed({shop.sku(): 1})["order_id"]
    pay(order_id)
    for method, path, body in [("GET", f"/orders/{order_id}", None), ("POST", f"/orders/{order_id}/cancel", None),
                               ("POST", f"/orders/{order_id}/confirm", None),
                               ("POST", f"/orders/{order_id}/refund", {"reason": "x"})]:
        response = bob.api.call(method, path, body)
        assert response.status_code == 404, (path, response.data)
        assert response.data["error"]["code"] == "ORDER_NOT_FOUND"
    assert bob.api.get("/orders").data["items"] == []
    assert alice.api.get(f"/orders/{order_id}").data["status"] == "PAID"


def test_malformed_order_id_is_404(alice):
    response = alice.api.get("/orders/not-an-order")
    assert response.status_code == 404 and response.data["error"]["code"] == "ORDER_NOT_FOUND"


def test_orders_are_listed_newest_first_with_a_cursor(shop, alice, frozen_clock):
    sku = shop.sku(stock=20)
    placed = []
    for _ in range(5):
        placed.append(alice.placed({sku: 1})["order_id"])
        frozen_clock.advance(1)
    first = alice.api.get("/orders?limit=2").data
    assert [o["order_id"] for o in first["items"]] == placed[::-1][:2]
    second = alice.api.get(f"/orders?limit=2&cursor={first['next_cursor']}").data
    third = alice.api.get(f"/orders?limit=2&cursor={second['next_cursor']}").data
    assert [o["order_id"] for o in second["items"] + third["items"]] == placed[::-1][2:]
    assert third["next_cursor"] is None


def test_orders_filtered_by_status(shop, alice):
    sku = shop.sku(stock=20)
    paid = alice.placed({sku: 1})["order_id"]
    pay(paid)
    pending = alice.placed({sku: 1})["order_id"]
    cancelled = alice.placed({sku: 1})["order_id"]
    alice.api.post(f"/orders/{cancelled}/cancel")
    for status, expected in [("PAID", [paid]), ("PENDING_PAYMENT", [pending]), ("CANCELLED", [cancelled]),
                             ("SHIPPED", [])]:
        listed = alice.api.get(f"/orders?status={status}").data["items"]
        assert [o["order_id"] for o in listed] == expected, status


@pytest.mark.parametrize("query", ["status=LOST", "limit=0", "limit=51", "cursor=%%%", "colour=red"])
def test_bad_list_queries_are_400(alice, query):
    response = alice.api.get(f"/orders?{query}")
    assert response.status_code == 400, response.data
    assert response.data["error"]["code"] in ("VALIDATION_ERROR", "INVALID_CURSOR")


@pytest.mark.parametrize("method,path", [("GET", "/orders"), ("POST", "/orders"), ("POST", "/orders/preview"),
                                         ("GET", "/orders/01ARZ3NDEKTSV4RRFFQ69G5FAV")])
def test_order_routes_need_a_buyer(client, method, path):
    anonymous = client.call(method, path, {})
    assert anonymous.status_code == 401
    as_staff = client.as_token(staff_token()).call(method, path, {})
    assert as_staff.status_code == 403


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '{"items": [{"sku_id": 1, "quantity": 1}]}',
                                 '{"items": [{"sku_id": "A", "quantity": "1"}], "address_id": "x"}',
                                 '{"items": [], "address_id": "x"}',
                                 '{"items": [{"sku_id": "A", "quantity": 100}], "address_id": "x"}',
                                 '{"from_cart": true, "note": "' + "长" * 201 + '"}'])
def test_malformed_submissions_are_400(alice, raw):
    response = alice.api.call("POST", "/orders", raw=raw, headers={"Idempotency-Key": "malformed-0001"})
    assert response.status_code == 400, response.data
    assert response.data["error"]["code"] in ("INVALID_JSON", "VALIDATION_ERROR")


def test_note_is_kept(shop, alice):
    order = alice.placed({shop.sku(): 1}, note="请下午送")
    assert alice.api.get(f"/orders/{order['order_id']}").data["note"] == "请下午送"
