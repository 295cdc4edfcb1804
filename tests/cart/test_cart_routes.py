"""The cart over HTTP: add, merge, change, remove, totals, and every refusal."""
from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import buyer_token, staff_token


def add(buyer, sku_id, quantity=1):
    return buyer.post("/cart/items", {"sku_id": sku_id, "quantity": quantity})


def assert_error(response, status, code=None):
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.data}"
    if code is not None:
        assert response.data["error"]["code"] == code, response.data


def only_line(cart):
    assert len(cart["lines"]) == 1, cart
    return cart["lines"][0]


# --- adding -----------------------------------------------------------------------

def test_add_returns_the_new_line_priced_from_the_catalog(shop, alice):
    sku_id = shop.sku(price=2590, stock=7)
    response = add(alice, sku_id, 2)
    assert response.status_code == 200, response.data
    line = response.data
    assert line["sku_id"] == sku_id
    assert (line["quantity"], line["price"], line["added_price"]) == (2, 2590, 2590)
    assert line["title"].startswith("商品") and line["specs"] == {"尺码": "36"}
    assert (line["selected"], line["on_sale"], line["available"], line["stock"]) == (True, True, True, 7)
    assert line["added_at"] == "2026-11-25T04:00:00.000Z"


def test_adding_a_sku_already_in_the_cart_adds_to_its_quantity(shop, alice):
    sku_id = shop.sku()
    add(alice, sku_id, 2)
    response = add(alice, sku_id, 3)
    assert response.status_code == 200, response.data
    assert response.data["quantity"] == 5
    cart = alice.get("/cart").data
    assert only_line(cart)["quantity"] == 5 and cart["line_count"] == 1


def test_adding_again_selects_a_line_the_buyer_had_unselected(shop, alice):
    sku_id = shop.sku()
    add(alice, sku_id)
    alice.put(f"/cart/items/{sku_id}", {"selected": False})
    assert add(alice, sku_id).data["selected"] is True


def test_merged_quantity_may_reach_99(shop, alice):
    sku_id = shop.sku()
    add(alice, sku_id, 90)
    assert add(alice, sku_id, 9).data["quantity"] == 99


def test_merged_quantity_over_99_is_refused_and_the_line_is_unchanged(shop, alice):
    sku_id = shop.sku()
    add(alice, sku_id, 90)
    response = add(alice, sku_id, 10)
    assert_error(response, 409, "QUANTITY_LIMIT")
    assert response.data["error"]["details"] == {"in_cart": 90, "max_quantity": 99}
    assert only_line(alice.get("/cart").data)["quantity"] == 90


def test_unknown_sku_is_404(shop, alice):
    assert_error(add(alice, "01NOSUCHSKU0000000000000000"), 404, "SKU_NOT_FOUND")


def test_off_sale_sku_is_409(shop, alice):
    assert_error(add(alice, shop.sku(on_sale=False)), 409, "SKU_NOT_ON_SALE")
    assert alice.get("/cart").data["lines"] == []


def test_the_101st_different_sku_is_refused_as_cart_full(shop, alice):
    for sku_id in shop.skus(100):
        assert add(alice, sku_id).status_code == 200
    assert_error(add(alice, shop.sku()), 409, "CART_FULL")
    assert alice.get("/cart").data["line_count"] == 100


def test_a_full_cart_still_merges_into_its_lines(shop, alice, monkeypatch):
    monkeypatch.setenv("MALL_CART_MAX_LINES", "2")
    first, second = shop.skus(2)
    add(alice, first)
    add(alice, second)
    assert_error(add(alice, shop.sku()), 409, "CART_FULL")
    assert add(alice, first, 4).data["quantity"] == 5


def test_removing_a_line_frees_its_slot(shop, alice, monkeypatch):
    monkeypatch.setenv("MALL_CART_MAX_LINES", "2")
    first, second, third = shop.skus(3)
    add(alice, first)
    add(alice, second)
    alice.delete(f"/cart/items/{first}")
    assert add(alice, third).status_code == 200
    assert {line["sku_id"] for line in alice.get("/cart").data["lines"]} == {second, third}


@pytest.mark.parametrize("body", [
    {"sku_id": "S1", "quantity": 0},
    {"sku_id": "S1", "quantity": 100},
    {"sku_id": "S1", "quantity": -1},
    {"sku_id": "S1", "quantity": "2"},
    {"sku_id": "S1", "quantity": 1.5},
    {"sku_id": "S1", "quantity": True},
    {"sku_id": 123, "quantity": 1},
    {"sku_id": "", "quantity": 1},
    {"sku_id": "#CART", "quantity": 1},
    {"sku_id": "S1"},
    {"quantity": 1},
    {"sku_id": "S1", "quantity": 1, "price": 1},
])
def test_add_refuses_malformed_bodies(alice, body):
    assert_error(alice.post("/cart/items", body), 400, "VALIDATION_ERROR")


def test_add_refuses_a_body_that_is_not_json(alice):
    assert_error(alice.post("/cart/items", raw="quantity=1"), 400, "INVALID_JSON")


# --- reading ----------------------------------------------------------------------

def test_an_empty_cart_has_no_lines_and_zero_totals(alice):
    response = alice.get("/cart")
    assert response.status_code == 200, response.data
    assert response.data == {"lines": [], "line_count": 0, "selected_count": 0,
                             "selected_quantity": 0, "items_total": 0}


def test_totals_count_only_selected_lines(shop, alice):
    kept, unselected = shop.sku(price=1200), shop.sku(price=999)
    add(alice, kept, 3)
    add(alice, unselected, 2)
    alice.put(f"/cart/items/{unselected}", {"selected": False})
    cart = alice.get("/cart").data
    assert (cart["selected_count"], cart["selected_quantity"], cart["items_total"]) == (1, 3, 3600)
    assert cart["line_count"] == 2


def test_totals_leave_out_selected_lines_that_cannot_be_bought(shop, alice):
    plenty, scarce = shop.sku(price=500, stock=10), shop.sku(price=700, stock=2)
    add(alice, plenty, 4)
    add(alice, scarce, 3)
    cart = alice.get("/cart").data
    by_sku = {line["sku_id"]: line for line in cart["lines"]}
    assert by_sku[scarce]["available"] is False
    assert by_sku[scarce]["unavailable_reason"] == "INSUFFICIENT_STOCK"
    assert by_sku[plenty]["available"] is True and by_sku[plenty]["unavailable_reason"] is None
    assert (cart["selected_count"], cart["selected_quantity"], cart["items_total"]) == (1, 4, 2000)


def test_lines_are_listed_newest_first(shop, alice, frozen_clock):
    older, newer = shop.skus(2)
    add(alice, older)
    frozen_clock.advance(60)
    add(alice, newer)
    assert [line["sku_id"] for line in alice.get("/cart").data["lines"]] == [newer, older]


def test_cart_shows_the_current_price_next_to_the_price_when_added(shop, alice):
    product = shop.product(prices=[3000])
    sku = product.skus[0]
    add(alice, sku.sku_id, 2)
    shop.change_price(product.product_id, sku.sku_id, sku.specs, 2500)
    cart = alice.get("/cart").data
    line = only_line(cart)
    assert (line["price"], line["added_price"]) == (2500, 3000)
    assert cart["items_total"] == 5000


def test_a_sku_taken_off_sale_stays_in_the_cart_but_out_of_the_totals(shop, alice):
    product = shop.product(prices=[1500])
    add(alice, product.skus[0].sku_id)
    shop.take_off_sale(product.product_id)
    cart = alice.get("/cart").data
    line = only_line(cart)
    assert (line["on_sale"], line["available"], line["unavailable_reason"]) == (False, False, "NOT_ON_SALE")
    assert (cart["selected_count"], cart["items_total"]) == (0, 0)


# --- changing -------------------------------------------------------------------

def test_put_sets_quantity_and_returns_the_cart(shop, alice):
    sku_id = shop.sku(price=100)
    add(alice, sku_id, 2)
    response = alice.put(f"/cart/items/{sku_id}", {"quantity": 7})
    assert response.status_code == 200, response.data
    assert only_line(response.data)["quantity"] == 7 and response.data["items_total"] == 700


def test_put_sets_quantity_and_selection_together(shop, alice):
    sku_id = shop.sku()
    add(alice, sku_id, 2)
    line = only_line(alice.put(f"/cart/items/{sku_id}", {"quantity": 99, "selected": False}).data)
    assert (line["quantity"], line["selected"]) == (99, False)


def test_put_on_a_line_not_in_the_cart_is_404(shop, alice):
    assert_error(alice.put(f"/cart/items/{shop.sku()}", {"quantity": 1}), 404, "CART_LINE_NOT_FOUND")
    assert alice.get("/cart").data["lines"] == []


def test_put_cannot_reach_the_cart_header(alice, shop):
    add(alice, shop.sku())
    assert_error(alice.put("/cart/items/%23CART", {"quantity": 5}), 404, "CART_LINE_NOT_FOUND")


@pytest.mark.parametrize("body", [
    {},
    {"quantity": 0},
    {"quantity": 100},
    {"quantity": "2"},
    {"selected": "yes"},
    {"selected": 1},
    {"quantity": 2, "sku_id": "other"},
])
def test_put_refuses_malformed_bodies(shop, alice, body):
    sku_id = shop.sku()
    add(alice, sku_id, 3)
    assert_error(alice.put(f"/cart/items/{sku_id}", body), 400, "VALIDATION_ERROR")
    assert only_line(alice.get("/cart").data)["quantity"] == 3


# --- removing ---------------------------------------------------------------------

def test_delete_removes_the_line_and_returns_the_cart(shop, alice):
    kept, removed = shop.skus(2)
    add(alice, kept)
    add(alice, removed)
    response = alice.delete(f"/cart/items/{removed}")
    assert response.status_code == 200, response.data
    assert [line["sku_id"] for line in response.data["lines"]] == [kept]
    assert response.data["line_count"] == 1


def test_delete_of_a_line_not_in_the_cart_is_404(shop, alice):
    sku_id = shop.sku()
    add(alice, sku_id)
    alice.delete(f"/cart/items/{sku_id}")
    assert_error(alice.delete(f"/cart/items/{sku_id}"), 404, "CART_LINE_NOT_FOUND")


def test_delete_cannot_remove_the_cart_header(shop, alice):
    add(alice, shop.sku())
    assert_error(alice.delete("/cart/items/%23CART"), 404, "CART_LINE_NOT_FOUND")
    assert alice.get("/cart").data["line_count"] == 1


# --- whose cart -------------------------------------------------------------------

def test_buyers_never_see_each_others_carts(shop, alice, bob):
    sku_id = shop.sku()
    add(alice, sku_id, 2)
    assert bob.get("/cart").data["lines"] == []
    assert_error(bob.put(f"/cart/items/{sku_id}", {"quantity": 9}), 404, "CART_LINE_NOT_FOUND")
    assert_error(bob.delete(f"/cart/items/{sku_id}"), 404, "CART_LINE_NOT_FOUND")
    assert only_line(alice.get("/cart").data)["quantity"] == 2


def test_adding_the_same_sku_fills_separate_carts(shop, alice, bob):
    sku_id = shop.sku()
    add(alice, sku_id, 2)
    add(bob, sku_id, 5)
    assert only_line(alice.get("/cart").data)["quantity"] == 2
    assert only_line(bob.get("/cart").data)["quantity"] == 5


def token_claiming_another_user(token: str, user_id: str) -> str:
    """The same header and signature over a payload naming someone else."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = user_id
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


ROUTES = [("GET", "/cart", None), ("POST", "/cart/items", {"sku_id": "S1", "quantity": 1}),
          ("PUT", "/cart/items/S1", {"quantity": 1}), ("DELETE", "/cart/items/S1", None)]


@pytest.mark.parametrize("method,path,body", ROUTES)
def test_every_route_needs_a_token(client, method, path, body):
    assert_error(client.call(method, path, body), 401, "UNAUTHENTICATED")


@pytest.mark.parametrize("method,path,body", ROUTES)
def test_every_route_refuses_a_tampered_token(client, method, path, body):
    tampered = token_claiming_another_user(buyer_token("U-alice"), "U-bob")
    assert_error(client.as_token(tampered).call(method, path, body), 401, "INVALID_TOKEN")


@pytest.mark.parametrize("method,path,body", ROUTES)
def test_every_route_refuses_an_expired_token(client, frozen_clock, method, path, body):
    token = buyer_token("U-alice")
    frozen_clock.advance(days=8)
    assert_error(client.as_token(token).call(method, path, body), 401, "TOKEN_EXPIRED")


@pytest.mark.parametrize("method,path,body", ROUTES)
def test_every_route_is_for_buyers_not_staff(client, method, path, body):
    assert_error(client.as_token(staff_token()).call(method, path, body), 403, "FORBIDDEN")


def test_openapi_documents_every_cart_route(client):
    paths = client.get("/openapi.json").data["paths"]
    assert set(paths["/cart"]) == {"get"}
    assert set(paths["/cart/items"]) == {"post"}
    assert set(paths["/cart/items/{sku_id}"]) == {"put", "delete"}
    add_responses = paths["/cart/items"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(add_responses)
