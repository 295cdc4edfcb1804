"""Flash sales through the routes: creating one moves stock, buying takes the sale's price and quota, the
rules' refusals, expiry and cancel give units and quota back once, ending returns unsold units once."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.core import clock
from tests.checkout.conftest import Buyer, pay, stock_of
from tests.conftest import buyer_token
from tests.marketing.conftest import operator_of
from tests.marketing.flash import flash_order, new_sale, pool, quota, totals


@pytest.fixture(autouse=True)
def fresh_cache():
    from chalicelib.marketing import flash_stock

    flash_stock.forget_cached()
    yield
    flash_stock.forget_cached()


def test_creating_a_sale_moves_its_stock_out_of_regular_stock_into_the_shards(owner, shop):
    sku = shop.sku(price=5000, stock=30)
    sale = new_sale(owner, sku, stock=10, shards=4, per_user_limit=2)
    assert stock_of(sku)["available"] == 20
    assert [shard["allotted"] for shard in pool(sale["sale_id"])] == [3, 3, 2, 2]
    assert (sale["status"], sale["remaining"], sale["original_price"], sale["sale_price"]) == ("RUNNING", 10, 5000,
                                                                                                990)
    assert sale["payment_timeout_seconds"] == 300


def test_a_sale_bigger_than_regular_stock_is_refused_and_moves_nothing(owner, shop):
    sku = shop.sku(stock=5)
    response = owner.post("/admin/flash-sales", {"sku_id": sku, "sale_price": 100, "stock": 6, "per_user_limit": 1,
                                                 "starts_at": clock.iso(clock.now()),
                                                 "ends_at": clock.iso(clock.now() + timedelta(hours=1))})
    assert (response.status_code, response.data["error"]["code"]) == (409, "INSUFFICIENT_STOCK")
    assert response.data["error"]["details"]["available"] == 5 and stock_of(sku)["available"] == 5


@pytest.mark.parametrize("fields, status, code", [
    ({"sku_id": "01JNOSUCHSKU0000000000000A"}, 404, "SKU_NOT_FOUND"),
    ({"sale_price": 0}, 400, "VALIDATION_ERROR"),
    ({"sale_price": "9"}, 400, "VALIDATION_ERROR"),
    ({"shards": 65}, 400, "VALIDATION_ERROR"),
    ({"ends_at": "2020-01-01T00:00:00Z"}, 400, "VALIDATION_ERROR"),
    ({"starts_at": "0001-01-01T00:00:00+01:00"}, 400, "VALIDATION_ERROR"),  # outside what UTC holds: not a 500
    ({"ends_at": "9999-12-31T23:59:59-05:00"}, 400, "VALIDATION_ERROR"),
])
def test_bad_sales_are_refused(owner, shop, fields, status, code):
    sku = shop.sku(stock=5)
    body = {"sku_id": sku, "sale_price": 100, "stock": 2, "per_user_limit": 1, "starts_at": "2026-01-01T00:00:00Z",
            "ends_at": clock.iso(clock.now() + timedelta(hours=1)), **fields}
    response = owner.post("/admin/flash-sales", body)
    assert (response.status_code, response.data["error"]["code"]) == (status, code), response.data


def test_buyers_and_strangers_cannot_create_end_or_list_sales(client, owner, shop):
    sale = new_sale(owner, shop.sku())
    assert client.as_token(buyer_token()).post("/admin/flash-sales", {}).status_code == 403
    assert client.post(f"/admin/flash-sales/{sale['sale_id']}/end").status_code == 401
    operator = operator_of(client)
    assert client.as_token(buyer_token()).get("/admin/flash-sales").status_code == 403
    assert operator.get("/admin/flash-sales").status_code == 200
    assert operator.post(f"/admin/flash-sales/{sale['sale_id']}/end").status_code == 200, "operators run marketing"


def test_a_flash_order_is_the_sale_price_with_no_discounts_and_the_sales_payment_timeout(owner, shop, alice):
    sku = shop.sku(price=5000, stock=30)
    sale = new_sale(owner, sku, per_user_limit=2, payment_timeout_seconds=120)
    response = flash_order(alice, sale, 2)
    assert response.status_code == 201, response.data
    order = response.data
    assert (order["items_total"], order["discount_total"], order["items"][0]["price"]) == (1980, 0, 990)
    assert order["flash_sale_id"] == sale["sale_id"]
    assert clock.parse_iso(order["expires_at"]) == clock.now() + timedelta(seconds=120)
    assert totals(sale["sale_id"])["reserved"] == 2 and quota(sale["sale_id"], alice.user_id) == 2
    assert stock_of(sku)["reserved"] == 0, "regular stock is untouched by a sale's order"


@pytest.mark.parametrize("more, status, code", [
    ({"coupon_id": "01JCOUPON000000000000000AA"}, 422, "FLASH_SALE_NO_DISCOUNTS"),
    ({"points": 10}, 422, "FLASH_SALE_NO_DISCOUNTS"),
])
def test_a_flash_order_takes_no_coupon_or_points(owner, shop, alice, more, status, code):
    sale = new_sale(owner, shop.sku())
    response = flash_order(alice, sale, **more)
    assert (response.status_code, response.data["error"]["code"]) == (status, code)


def test_a_flash_order_is_one_line_of_the_sales_sku(owner, shop, alice):
    sale = new_sale(owner, shop.sku())
    other = shop.sku()
    body = {"address_id": alice.address_id, "flash_sale_id": sale["sale_id"],
            "items": [{"sku_id": sale["sku_id"], "quantity": 1}, {"sku_id": other, "quantity": 1}]}
    response = alice.api.post("/orders", body, headers={"Idempotency-Key": "flash-two-lines"})
    assert (response.status_code, response.data["error"]["code"]) == (400, "FLASH_SALE_ONE_LINE")
    body["items"] = [{"sku_id": other, "quantity": 1}]
    response = alice.api.post("/orders", body, headers={"Idempotency-Key": "flash-other-sku"})
    assert (response.status_code, response.data["error"]["code"]) == (422, "SKU_NOT_IN_SALE")


def test_an_unknown_sale_is_404(shop, alice):
    response = flash_order(alice, {"sale_id": "01JNOSUCHSALE000000000000A", "sku_id": shop.sku()})
    assert (response.status_code, response.data["error"]["code"]) == (404, "FLASH_SALE_NOT_FOUND")


def test_before_its_start_and_after_its_end_a_sale_is_not_running(owner, shop, alice, frozen_clock):
    now = clock.now()
    sale = new_sale(owner, shop.sku(), starts_at=clock.iso(now + timedelta(minutes=5)),
                    ends_at=clock.iso(now + timedelta(minutes=10)))
    assert owner.get(f"/marketing/flash-sales/{sale['sale_id']}").data["status"] == "UPCOMING"
    response = flash_order(alice, sale)
    assert (response.status_code, response.data["error"]["code"]) == (422, "SALE_NOT_RUNNING")
    frozen_clock.advance(minutes=5)
    assert flash_order(alice, sale).status_code == 201
    frozen_clock.advance(minutes=5)
    response = flash_order(Buyer(owner, "U-late"), sale)
    assert (response.status_code, response.data["error"]["code"]) == (422, "SALE_NOT_RUNNING")
    assert owner.get(f"/marketing/flash-sales/{sale['sale_id']}").data["status"] == "ENDED"


def test_the_per_buyer_limit_counts_over_the_whole_sale(owner, shop, alice):
    sale = new_sale(owner, shop.sku(), per_user_limit=2)
    assert flash_order(alice, sale, 1).status_code == 201
    response = flash_order(alice, sale, 2)
    assert (response.status_code, response.data["error"]["code"]) == (409, "LIMIT_REACHED")
    assert flash_order(alice, sale, 1).status_code == 201
    response = flash_order(alice, sale, 3)
    assert (response.status_code, response.data["error"]["code"]) == (409, "LIMIT_REACHED")
    assert quota(sale["sale_id"], alice.user_id) == 2


def test_the_same_key_returns_the_same_order(owner, shop, alice):
    sale = new_sale(owner, shop.sku(), per_user_limit=1)
    first = flash_order(alice, sale, key="flash-same-key-1")
    again = flash_order(alice, sale, key="flash-same-key-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.data["order_id"] == again.data["order_id"]


def test_when_every_shard_is_empty_the_answer_is_sold_out(owner, shop, client):
    sale = new_sale(owner, shop.sku(), stock=3, shards=3)
    buyers = [Buyer(client, f"U-early-{n}") for n in range(4)]
    assert [flash_order(b, sale).status_code for b in buyers[:3]] == [201, 201, 201]
    response = flash_order(buyers[3], sale)
    assert (response.status_code, response.data["error"]["code"]) == (409, "SOLD_OUT")
    assert [shard["available"] for shard in pool(sale["sale_id"])] == [0, 0, 0]


def test_a_cancelled_order_gives_back_its_units_and_the_quota(owner, shop, alice):
    sale = new_sale(owner, shop.sku(), stock=1, shards=1)
    order = flash_order(alice, sale).data
    response = alice.api.post(f"/orders/{order['order_id']}/cancel")
    assert response.status_code == 200, response.data
    assert totals(sale["sale_id"]) == {"available": 1, "reserved": 0, "sold": 0, "returned": 0}
    assert quota(sale["sale_id"], alice.user_id) == 0
    assert flash_order(alice, sale).status_code == 201, "the buyer may buy again"


def test_an_expired_order_gives_back_once_even_when_the_sweeper_runs_twice(owner, shop, alice, frozen_clock):
    from chalicelib.checkout import sweeper

    sale = new_sale(owner, shop.sku(), stock=2, shards=2, payment_timeout_seconds=60)
    flash_order(alice, sale)
    frozen_clock.advance(seconds=59)
    assert sweeper.sweep_due_orders().expired == 0, "the sale's own timeout, not the shop's"
    frozen_clock.advance(seconds=2)
    assert sweeper.sweep_due_orders().expired == 1
    assert sweeper.sweep_due_orders().expired == 0
    assert totals(sale["sale_id"]) == {"available": 2, "reserved": 0, "sold": 0, "returned": 0}
    assert quota(sale["sale_id"], alice.user_id) == 0


def test_a_paid_order_sells_its_units(owner, shop, alice):
    sale = new_sale(owner, shop.sku(), stock=2, shards=1)
    order = flash_order(alice, sale).data
    assert pay(order["order_id"]).applied
    assert totals(sale["sale_id"]) == {"available": 1, "reserved": 0, "sold": 1, "returned": 0}


def test_ending_a_sale_returns_unsold_units_to_regular_stock_once(owner, shop, alice, pump):
    sku = shop.sku(stock=20)
    sale = new_sale(owner, sku, stock=10, shards=4)
    order = flash_order(alice, sale).data
    ended = owner.post(f"/admin/flash-sales/{sale['sale_id']}/end")
    assert ended.status_code == 200, ended.data
    assert (ended.data["status"], ended.data["returned"], ended.data["reserved"]) == ("ENDED", 9, 1)
    assert stock_of(sku)["available"] == 19
    again = owner.post(f"/admin/flash-sales/{sale['sale_id']}/end")
    assert again.status_code == 200 and stock_of(sku)["available"] == 19, "ending twice returns nothing more"
    response = flash_order(Buyer(owner, "U-after-end"), sale)
    assert (response.status_code, response.data["error"]["code"]) == (422, "SALE_NOT_RUNNING")
    # the unpaid order's unit comes back to the closed pool, and from there to regular stock, once
    alice.api.post(f"/orders/{order['order_id']}/cancel")
    pump.drain()
    pump.drain()
    assert stock_of(sku)["available"] == 20
    assert totals(sale["sale_id"]) == {"available": 0, "reserved": 0, "sold": 0, "returned": 10}


def test_the_closer_ends_sales_past_their_end(owner, shop, frozen_clock, app):
    from infra.local.pump import EventPump

    sku = shop.sku(stock=10)
    sale = new_sale(owner, sku, stock=4, ends_at=clock.iso(clock.now() + timedelta(minutes=1)))
    frozen_clock.advance(minutes=2)
    EventPump(app, raise_errors=True).run_schedules()
    assert stock_of(sku)["available"] == 10
    listed = owner.get("/admin/flash-sales").data["items"]
    assert [(s["sale_id"], s["close_reason"], s["returned"]) for s in listed] == [(sale["sale_id"], "TIME", 4)]


def test_buyers_list_running_and_upcoming_sales(owner, shop, client):
    now = clock.now()
    running = new_sale(owner, shop.sku())
    upcoming = new_sale(owner, shop.sku(), starts_at=clock.iso(now + timedelta(minutes=5)),
                        ends_at=clock.iso(now + timedelta(hours=2)))
    ended = new_sale(owner, shop.sku())
    owner.post(f"/admin/flash-sales/{ended['sale_id']}/end")
    listed = client.get("/marketing/flash-sales").data["items"]
    assert [(s["sale_id"], s["status"], s["remaining"]) for s in listed] == [
        (running["sale_id"], "RUNNING", 10), (upcoming["sale_id"], "UPCOMING", 10)]
    assert client.get(f"/marketing/flash-sales/{ended['sale_id']}").data["status"] == "ENDED"
    assert client.get("/marketing/flash-sales/nope").status_code == 404


CONFLICT = ("TransactionConflict", "None", "None", "None")


def test_a_conflict_on_the_shard_sends_the_order_to_another_shard(owner, shop, alice, monkeypatch):
    from chalicelib.checkout import flash
    from chalicelib.core import db
    from tests.faults import failing_calls, transaction_cancelled

    sale = new_sale(owner, shop.sku(), stock=4, shards=2)
    monkeypatch.setattr(flash.random, "randrange", lambda *args: 0 if len(args) == 1 else 1)
    with failing_calls(db.connection().client, "TransactWriteItems", [transaction_cancelled(*CONFLICT)]) as seen:
        response = flash_order(alice, sale)
    assert response.status_code == 201, response.data
    assert len(seen) == 2, "one conflicting attempt, then one on the other shard"
    assert [shard["reserved"] for shard in pool(sale["sale_id"])] == [0, 1]


def test_conflicts_on_every_attempt_are_503_busy_and_reserve_nothing(owner, shop, alice):
    from chalicelib.checkout import flash
    from chalicelib.core import db
    from tests.faults import failing_calls, transaction_cancelled

    sale = new_sale(owner, shop.sku(), stock=4, shards=2)
    faults = [transaction_cancelled(*CONFLICT)] * flash.COMMIT_ATTEMPTS
    with failing_calls(db.connection().client, "TransactWriteItems", faults):
        response = flash_order(alice, sale)
    assert (response.status_code, response.data["error"]["code"]) == (503, "BUSY")
    assert totals(sale["sale_id"])["reserved"] == 0 and quota(sale["sale_id"], alice.user_id) == 0
    assert flash_order(alice, sale).status_code == 201, "the same buyer succeeds once the shop is calm"


def test_units_left_only_for_smaller_quantities_refuse_the_larger_one_without_stopping_the_rest(owner, shop, client,
                                                                                                monkeypatch):
    from chalicelib.checkout import flash

    monkeypatch.setattr(flash.random, "randrange", lambda *args: 0)  # every first try on shard 0
    sale = new_sale(owner, shop.sku(), stock=5, shards=2, per_user_limit=2)
    assert [shard["allotted"] for shard in pool(sale["sale_id"])] == [3, 2]
    assert flash_order(Buyer(client, "U-first"), sale, 2).status_code == 201  # shard 0: 1 left
    assert flash_order(Buyer(client, "U-second"), sale, 2).status_code == 201  # shard 0 short: shard 1
    response = flash_order(Buyer(client, "U-third"), sale, 2)
    assert (response.status_code, response.data["error"]["code"]) == (409, "SOLD_OUT")
    assert flash_order(Buyer(client, "U-fourth"), sale, 1).status_code == 201, "the last unit still sells"


def test_each_shard_starts_with_at_least_a_buyers_whole_limit(owner, shop):
    sale = new_sale(owner, shop.sku(), stock=10, shards=8, per_user_limit=3)
    assert [shard["allotted"] for shard in pool(sale["sale_id"])] == [4, 3, 3]


def test_a_preview_prices_the_flash_order_without_reserving(owner, shop, alice):
    sale = new_sale(owner, shop.sku(price=5000), stock=3, per_user_limit=2)
    body = {"address_id": alice.address_id, "flash_sale_id": sale["sale_id"],
            "items": [{"sku_id": sale["sku_id"], "quantity": 2}]}
    response = alice.api.post("/orders/preview", body)
    assert response.status_code == 200, response.data
    assert (response.data["items_total"], response.data["shipping_fee"], response.data["payable"]) == (1980, 1000, 2980)
    assert response.data["coupons"] == [] and totals(sale["sale_id"])["reserved"] == 0
    response = alice.api.post("/orders/preview", {**body, "coupon_id": "01JCOUPON000000000000000AA"})
    assert (response.status_code, response.data["error"]["code"]) == (422, "FLASH_SALE_NO_DISCOUNTS")
