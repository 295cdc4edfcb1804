"""Submitting and previewing orders: pricing from the catalog, all-or-nothing reservation, idempotency."""
from __future__ import annotations

from tests.checkout.conftest import new_key, stock_of


def test_order_reserves_stock_and_prices_from_the_catalog(shop, alice):
    sku = shop.sku(price=2500, stock=5)
    response = alice.order({sku: 2})
    assert response.status_code == 201, response.data
    order = response.data
    assert order["status"] == "PENDING_PAYMENT"
    assert order["items"][0]["price"] == 2500 and order["items"][0]["line_total"] == 5000
    assert (order["items_total"], order["discount_total"], order["shipping_fee"], order["payable"]) == (5000, 0, 1000, 6000)
    assert order["expires_at"] == "2026-11-25T04:15:00.000Z"
    assert order["address"]["name"] == "张三" and order["address"]["address_id"] == alice.address_id
    assert stock_of(sku) == {"available": 3, "reserved": 2, "sold": 0}


def test_client_cannot_set_the_price(shop, alice):
    sku = shop.sku(price=2500)
    response = alice.api.post("/orders", {"items": [{"sku_id": sku, "quantity": 1, "price": 1}],
                                          "address_id": alice.address_id}, headers={"Idempotency-Key": new_key()})
    assert response.status_code == 400 and response.data["error"]["code"] == "VALIDATION_ERROR"


def test_shipping_is_free_from_the_threshold(shop, alice, monkeypatch):
    monkeypatch.setenv("MALL_FREE_SHIPPING_THRESHOLD", "5000")
    monkeypatch.setenv("MALL_SHIPPING_FEE", "800")
    cheap, dear = shop.sku(price=4999), shop.sku(price=5000)
    assert alice.placed({cheap: 1})["shipping_fee"] == 800
    assert alice.placed({dear: 1})["shipping_fee"] == 0


def test_duplicate_lines_are_merged_into_one(shop, alice):
    sku = shop.sku(stock=10)
    response = alice.api.post("/orders", {"items": [{"sku_id": sku, "quantity": 2}, {"sku_id": sku, "quantity": 3}],
                                          "address_id": alice.address_id}, headers={"Idempotency-Key": new_key()})
    assert response.status_code == 201, response.data
    assert [(line["sku_id"], line["quantity"]) for line in response.data["items"]] == [(sku, 5)]
    assert stock_of(sku)["reserved"] == 5


def test_merged_quantity_above_the_line_limit_is_refused(shop, alice):
    sku = shop.sku(stock=500)
    response = alice.api.post("/orders", {"items": [{"sku_id": sku, "quantity": 60}, {"sku_id": sku, "quantity": 60}],
                                          "address_id": alice.address_id}, headers={"Idempotency-Key": new_key()})
    assert response.status_code == 400 and response.data["error"]["code"] == "QUANTITY_TOO_LARGE"
    assert stock_of(sku)["reserved"] == 0


def test_one_short_sku_reserves_nothing_and_names_what_is_short(shop, alice):
    plenty, scarce = shop.sku(stock=10), shop.sku(stock=1)
    response = alice.order({plenty: 2, scarce: 3})
    assert response.status_code == 409, response.data
    error = response.data["error"]
    assert error["code"] == "OUT_OF_STOCK"
    assert error["details"]["lines"] == [{"sku_id": scarce, "requested": 3, "available": 1}]
    assert stock_of(plenty) == {"available": 10, "reserved": 0, "sold": 0}
    assert stock_of(scarce) == {"available": 1, "reserved": 0, "sold": 0}
    assert alice.api.get("/orders").data["items"] == []


def test_unknown_sku_is_404_and_off_sale_sku_is_409(shop, alice):
    gone = alice.order({"01ARZ3NDEKTSV4RRFFQ69G5FAV": 1})
    assert gone.status_code == 404 and gone.data["error"]["code"] == "SKU_NOT_FOUND"
    off = shop.sku(on_sale=False)
    refused = alice.order({off: 1})
    assert refused.status_code == 409 and refused.data["error"]["code"] == "SKU_NOT_ON_SALE"
    assert refused.data["error"]["details"] == {"sku_ids": [off]}


def test_more_distinct_skus_than_one_transaction_holds_is_400(shop, alice):
    from chalicelib.checkout.service import MAX_ORDER_SKUS

    skus = shop.skus(MAX_ORDER_SKUS + 1, stock=5)
    response = alice.order({sku: 1 for sku in skus})
    assert response.status_code == 400 and response.data["error"]["code"] == "TOO_MANY_LINES"
    assert all(stock_of(sku)["reserved"] == 0 for sku in skus[:3])


def test_largest_allowed_order_commits_from_the_cart(shop, alice):
    from chalicelib.checkout.service import MAX_ORDER_SKUS

    skus = shop.skus(MAX_ORDER_SKUS, price=100, stock=3)
    for sku in skus:
        assert alice.api.post("/cart/items", {"sku_id": sku, "quantity": 2}).status_code == 200
    response = alice.order(from_cart=True)
    assert response.status_code == 201, response.data
    assert len(response.data["items"]) == MAX_ORDER_SKUS and response.data["items_total"] == MAX_ORDER_SKUS * 200
    assert alice.api.get("/cart").data["line_count"] == 0


def test_from_cart_buys_selected_lines_and_removes_only_them(shop, alice):
    chosen, kept = shop.sku(price=300), shop.sku(price=700)
    alice.api.post("/cart/items", {"sku_id": chosen, "quantity": 2})
    alice.api.post("/cart/items", {"sku_id": kept, "quantity": 1})
    alice.api.put(f"/cart/items/{kept}", {"selected": False})
    response = alice.order(from_cart=True)
    assert response.status_code == 201, response.data
    assert [(line["sku_id"], line["quantity"]) for line in response.data["items"]] == [(chosen, 2)]
    cart = alice.api.get("/cart").data
    assert [line["sku_id"] for line in cart["lines"]] == [kept] and cart["line_count"] == 1


def test_from_cart_with_nothing_selected_is_400(shop, alice):
    response = alice.order(from_cart=True)
    assert response.status_code == 400 and response.data["error"]["code"] == "CART_EMPTY"


def test_items_and_from_cart_together_or_neither_are_refused(shop, alice):
    sku = shop.sku()
    both = alice.order({sku: 1}, from_cart=True)
    neither = alice.api.post("/orders", {"address_id": alice.address_id}, headers={"Idempotency-Key": new_key()})
    assert both.status_code == 400 and neither.status_code == 400


def test_buy_now_leaves_the_cart_alone(shop, alice):
    sku = shop.sku()
    alice.api.post("/cart/items", {"sku_id": sku, "quantity": 1})
    alice.placed({sku: 1})
    assert alice.api.get("/cart").data["line_count"] == 1


def test_address_must_be_the_buyers_own(shop, alice, bob):
    sku = shop.sku()
    response = alice.order({sku: 1}, address_id=bob.address_id)
    assert response.status_code == 404 and response.data["error"]["code"] == "ADDRESS_NOT_FOUND"
    assert stock_of(sku)["reserved"] == 0


def test_submit_without_an_address_is_400(shop, alice):
    sku = shop.sku()
    response = alice.api.post("/orders", {"items": [{"sku_id": sku, "quantity": 1}]},
                              headers={"Idempotency-Key": new_key()})
    assert response.status_code == 400 and response.data["error"]["code"] == "ADDRESS_REQUIRED"


def test_address_snapshot_survives_later_edits(shop, alice):
    from chalicelib.members import service as members

    order = alice.placed({shop.sku(): 1})
    members.delete_address(alice.user_id, alice.address_id)
    again = alice.api.get(f"/orders/{order['order_id']}").data
    assert again["address"]["detail"] == "科技园 1 号"


def test_price_change_after_ordering_does_not_touch_the_order(shop, alice):
    product = shop.product(prices=[1000])
    sku = product.skus[0]
    order = alice.placed({sku.sku_id: 1})
    shop.change_price(product.product_id, sku.sku_id, sku.specs, 9999)
    assert alice.api.get(f"/orders/{order['order_id']}").data["items_total"] == 1000


def test_price_changed_between_read_and_commit_is_charged_at_the_new_price(shop, alice, monkeypatch):
    """The reservation is conditioned on the quoted price: a change in between makes checkout re-read."""
    from chalicelib.checkout import service

    product = shop.product(prices=[1000])
    sku = product.skus[0]
    real_plan = service._plan
    changed = []

    def plan_then_change(*args, **kwargs):
        plan = real_plan(*args, **kwargs)
        if not changed:
            changed.append(True)
            shop.change_price(product.product_id, sku.sku_id, sku.specs, 1200)
        return plan

    monkeypatch.setattr(service, "_plan", plan_then_change)
    order = alice.placed({sku.sku_id: 1})
    assert order["items_total"] == 1200
    assert stock_of(sku.sku_id)["reserved"] == 1


def test_units_added_to_the_cart_while_checking_out_are_never_lost(shop, alice, monkeypatch):
    """A from-cart order racing an add of 5 more units: the line is deleted only with the quantity that was priced,
    so the order is re-read and buys all 6, or the 5 stay in the cart; they never vanish."""
    from chalicelib.cart import service as cart
    from chalicelib.checkout import service

    sku = shop.sku(stock=20)
    cart.add_item(alice.user_id, sku, 1)
    real_plan = service._plan
    added = []

    def plan_then_add(*args, **kwargs):
        plan = real_plan(*args, **kwargs)
        if not added:
            added.append(True)
            cart.add_item(alice.user_id, sku, 5)  # the buyer's other tab, acknowledged before the commit
        return plan

    monkeypatch.setattr(service, "_plan", plan_then_add)
    order = alice.placed(None, from_cart=True)
    left = {line.sku_id: line.quantity for line in cart.get_cart(alice.user_id).lines}
    ordered = sum(line["quantity"] for line in order["items"])
    assert ordered + left.get(sku, 0) == 6, f"ordered {ordered}, left in the cart {left}: acknowledged units lost"
    assert stock_of(sku)["reserved"] == ordered


def test_an_unknown_coupon_or_points_the_buyer_lacks_reserve_nothing(shop, alice):
    sku = shop.sku()
    coupon = alice.order({sku: 1}, coupon_id="C-1")
    points = alice.order({sku: 1}, points=100)
    assert coupon.status_code == 404 and coupon.data["error"]["code"] == "COUPON_NOT_FOUND"
    assert points.status_code == 422 and points.data["error"]["code"] == "INSUFFICIENT_POINTS"
    assert stock_of(sku)["reserved"] == 0


# --- idempotency --------------------------------------------------------------------------

def test_second_submit_with_same_key_returns_first_order(shop, alice):
    sku = shop.sku(stock=5)
    first = alice.order({sku: 1}, key="same-key-001")
    second = alice.order({sku: 1}, key="same-key-001")
    assert second.status_code == 201
    assert second.data["order_id"] == first.data["order_id"]
    assert stock_of(sku)["reserved"] == 1
    assert len(alice.api.get("/orders").data["items"]) == 1


def test_same_key_returns_the_order_even_after_stock_ran_out(shop, alice, bob):
    sku = shop.sku(stock=1)
    first = alice.order({sku: 1}, key="retry-key-01")
    assert bob.order({sku: 1}).status_code == 409
    again = alice.order({sku: 1}, key="retry-key-01")
    assert again.status_code == 201 and again.data["order_id"] == first.data["order_id"]


def test_same_key_with_a_different_body_is_422(shop, alice):
    sku = shop.sku(stock=5)
    alice.order({sku: 1}, key="reused-key-1")
    response = alice.order({sku: 2}, key="reused-key-1")
    assert response.status_code == 422 and response.data["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert stock_of(sku)["reserved"] == 1


def test_the_key_answers_before_anything_else_the_one_read_found(shop, alice):
    """The key is read in the same batch as the address, cards and discounts, and answers first: a replay after
    the cart was emptied by its order, the address deleted and the SKU taken off sale is still the first order;
    a reused key with another body is still 422, not the empty cart."""
    from chalicelib.members import service as members

    product = shop.product(prices=[1000], stock=5)
    sku = product.skus[0].sku_id
    assert alice.api.post("/cart/items", {"sku_id": sku, "quantity": 2}).status_code in (200, 201)
    first = alice.placed(None, from_cart=True, key="cart-key-0001")
    members.delete_address(alice.user_id, alice.address_id)
    shop.take_off_sale(product.product_id)

    again = alice.order(None, from_cart=True, key="cart-key-0001")
    reused = alice.order(None, from_cart=True, note="another body", key="cart-key-0001")

    assert again.status_code == 201 and again.data["order_id"] == first["order_id"], again.data
    assert reused.status_code == 422 and reused.data["error"]["code"] == "IDEMPOTENCY_KEY_REUSED", reused.data
    assert stock_of(sku)["reserved"] == 2


def test_two_buyers_may_use_the_same_key(shop, alice, bob):
    sku = shop.sku(stock=5)
    first = alice.order({sku: 1}, key="shared-key-1")
    second = bob.order({sku: 1}, key="shared-key-1")
    assert second.status_code == 201 and second.data["order_id"] != first.data["order_id"]
    assert second.data["user_id"] == bob.user_id


def test_idempotency_key_is_required_and_checked(shop, alice):
    sku = shop.sku()
    body = {"items": [{"sku_id": sku, "quantity": 1}], "address_id": alice.address_id}
    missing = alice.api.post("/orders", body)
    bad = alice.api.post("/orders", body, headers={"Idempotency-Key": "short"})
    assert missing.status_code == 400 and missing.data["error"]["code"] == "IDEMPOTENCY_KEY_REQUIRED"
    assert bad.status_code == 400 and bad.data["error"]["code"] == "INVALID_IDEMPOTENCY_KEY"
    assert stock_of(sku)["reserved"] == 0


# --- preview ------------------------------------------------------------------------------

def test_preview_prices_without_reserving(shop, alice):
    sku = shop.sku(price=5000, stock=2)
    response = alice.api.post("/orders/preview", {"items": [{"sku_id": sku, "quantity": 2}]})
    assert response.status_code == 200, response.data
    preview = response.data
    assert (preview["items_total"], preview["shipping_fee"], preview["payable"]) == (10000, 0, 10000)
    assert preview["address"] is None and preview["free_shipping_threshold"] == 9900
    assert stock_of(sku) == {"available": 2, "reserved": 0, "sold": 0}


def test_preview_refuses_what_submit_would(shop, alice):
    sku = shop.sku(stock=1)
    response = alice.api.post("/orders/preview", {"items": [{"sku_id": sku, "quantity": 2}],
                                                  "address_id": alice.address_id})
    assert response.status_code == 409 and response.data["error"]["code"] == "OUT_OF_STOCK"
