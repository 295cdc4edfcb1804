"""A checkout costs the same DynamoDB calls for 1 line or 20, with a coupon and points or without: its reads
by key are one BatchGetItem; the sweeper reads an index, never scans.

Counted on every botocore client (`dynamodb_calls`), so a call made through a
model that missed the shared connection is counted too.
"""
from __future__ import annotations

import pytest

from chalicelib.checkout import service, sweeper
from chalicelib.checkout.models import SHARDS
from chalicelib.core import config, db

# the key, address, cards, member account, level table (and coupon) in one BatchGetItem; the commit
SUBMIT_BY_ITEMS = {"BatchGetItem": 1, "TransactWriteItems": 1}
SUBMIT_FROM_CART = {**SUBMIT_BY_ITEMS, "Query": 1}  # + the cart's lines, which name the SKUs to read
SWEEP_KINDS = 2  # EXPIRE and CONFIRM, each over every shard


@pytest.mark.parametrize("line_count", [1, 5, 20, service.MAX_ORDER_SKUS])
def test_buy_now_costs_one_batch_get_and_one_transaction_whatever_the_lines(
        shop, alice, dynamodb_calls, line_count):
    items = {sku_id: 1 for sku_id in shop.skus(line_count, stock=5)}
    dynamodb_calls.clear()

    response = alice.order(items)

    assert response.status_code == 201 and len(response.data["items"]) == line_count, response.data
    assert dynamodb_calls.counts() == SUBMIT_BY_ITEMS, \
        f"expected {SUBMIT_BY_ITEMS} for {line_count} line(s), got {dynamodb_calls.counts()}: {dynamodb_calls}"


@pytest.mark.parametrize("line_count", [1, 5, 20])
def test_checkout_from_the_cart_adds_one_query_whatever_the_lines(shop, alice, dynamodb_calls, line_count):
    for sku_id in shop.skus(line_count, stock=5):
        added = alice.api.post("/cart/items", {"sku_id": sku_id, "quantity": 1})
        assert added.status_code in (200, 201), added.data
    dynamodb_calls.clear()

    response = alice.order(from_cart=True)

    assert response.status_code == 201 and len(response.data["items"]) == line_count, response.data
    assert dynamodb_calls.counts() == SUBMIT_FROM_CART, \
        f"expected {SUBMIT_FROM_CART} for {line_count} cart line(s), got {dynamodb_calls.counts()}: {dynamodb_calls}"


def test_a_replayed_submit_is_one_batch_get_and_the_orders_get(shop, alice, dynamodb_calls):
    sku_id = shop.sku(stock=5)
    first = alice.order({sku_id: 1}, key="replayed-key-01")
    dynamodb_calls.clear()

    again = alice.order({sku_id: 1}, key="replayed-key-01")

    assert again.status_code == 201 and again.data["order_id"] == first.data["order_id"], again.data
    expected = {"BatchGetItem": 1, "GetItem": 1}  # the key found in the batch, then its order; nothing written
    assert dynamodb_calls.counts() == expected, f"expected {expected}, got {dynamodb_calls.counts()}"


def test_a_refused_submit_reads_once_and_writes_nothing(shop, alice, dynamodb_calls):
    sku_id = shop.sku(stock=1)
    dynamodb_calls.clear()

    response = alice.order({sku_id: 2})

    assert response.status_code == 409 and response.data["error"]["code"] == "OUT_OF_STOCK", response.data
    assert dynamodb_calls.counts() == {"BatchGetItem": 1}, dynamodb_calls


def test_the_one_batch_reads_each_table_as_consistently_as_its_owner_reads_it_alone(
        shop, alice, owner, dynamodb_calls):
    """Consistent where a stale read would mislead: the key (a twin's order), the address, the points about to
    be spent and the coupon about to be locked; the SKU cards and the level table as before, eventually
    (the reservation's conditions catch a stale price or stock)."""
    from tests.faults import unprocessed_keys
    from tests.marketing.conftest import claimed, new_template

    coupon = claimed(alice, new_template(owner, kind="NO_THRESHOLD", amount_off=100, min_spend=None)["template_id"])
    items = {sku_id: 1 for sku_id in shop.skus(3, stock=5)}

    with unprocessed_keys(db.connection().client, answers=0) as asked:
        dynamodb_calls.clear()
        response = alice.order(items, coupon_id=coupon["coupon_id"])

    assert response.status_code == 201 and response.data["coupon_discount"] == 100, response.data
    assert dynamodb_calls.counts() == SUBMIT_BY_ITEMS, dynamodb_calls
    [request] = asked
    consistency = {table: (len(entry["Keys"]), entry["ConsistentRead"]) for table, entry in request.items()}
    expected = {config.table_name(logical): reads for logical, reads in {
        "idempotency": (1, True), "addresses": (1, True), "inventory": (3, False),
        "member_accounts": (1, True), "member_levels": (1, False), "coupons": (1, True)}.items()}
    assert consistency == expected, f"expected (keys, consistent) per table {expected}, got {consistency}"


def test_a_sweep_with_nothing_due_is_one_index_query_per_shard_however_many_orders_wait(
        shop, alice, frozen_clock, dynamodb_calls):
    sku_id = shop.sku(stock=50)
    for _ in range(30):
        alice.placed({sku_id: 1})
    dynamodb_calls.clear()

    report = sweeper.sweep_due_orders()

    assert report.expired == 0, f"expected nothing due yet, got {report}"
    expected = {"Query": SWEEP_KINDS * SHARDS}
    assert dynamodb_calls.counts() == expected, f"expected {expected} (no Scan), got {dynamodb_calls.counts()}"


def test_a_sweep_reads_the_due_index_and_never_scans(shop, alice, frozen_clock, dynamodb_calls, monkeypatch):
    from chalicelib.checkout.models import OrderModel

    queried: list[str] = []
    real_query = OrderModel.due.query

    def recording_query(hash_key, **kwargs):
        queried.append(hash_key)
        return real_query(hash_key, **kwargs)

    monkeypatch.setattr(OrderModel.due, "query", recording_query)
    sku_id = shop.sku(stock=50)
    orders = [alice.placed({sku_id: 1})["order_id"] for _ in range(12)]
    frozen_clock.advance(seconds=service.DEFAULT_PAYMENT_TIMEOUT + 1)
    dynamodb_calls.clear()

    report = sweeper.sweep_due_orders()

    assert report.expired == len(orders), f"expected {len(orders)} expired, got {report}"
    calls = dynamodb_calls.counts()
    assert "Scan" not in calls, f"expected no Scan, got {calls}"
    assert set(calls) <= {"Query", "BatchGetItem", "TransactWriteItems"}, f"expected index reads and moves, got {calls}"
    assert calls["TransactWriteItems"] == len(orders), f"expected one transaction per expired order, got {calls}"
    assert set(queried) == {f"{kind}#{shard}" for kind in ("EXPIRE", "CONFIRM") for shard in range(SHARDS)}, \
        f"expected the sweep to query every due shard, got {sorted(set(queried))}"


# --- flash-sale orders ----------------------------------------------------------------------

FLASH_SUBMIT = {"BatchGetItem": 1, "TransactWriteItems": 1}  # the key, sale, quota and address; the reservation


@pytest.fixture
def flash_cache():
    from chalicelib.marketing import flash_stock

    flash_stock.forget_cached()
    yield flash_stock
    flash_stock.forget_cached()


def test_a_flash_order_reads_in_one_batch_get_whether_or_not_the_sale_is_cached(
        owner, shop, client, dynamodb_calls, flash_cache):
    from tests.checkout.conftest import Buyer
    from tests.marketing.flash import flash_order, new_sale

    sale = new_sale(owner, shop.sku(), stock=4, per_user_limit=1, shards=2)
    for user_id in ("U-first", "U-second"):  # the sale read in the first one's batch, cached for the second
        buyer = Buyer(client, user_id)
        dynamodb_calls.clear()

        response = flash_order(buyer, sale)

        assert response.status_code == 201, response.data
        assert dynamodb_calls.counts() == FLASH_SUBMIT, f"{user_id}: {dynamodb_calls.counts()}"
    assert flash_cache.cached_sale(sale["sale_id"]) is not None


def test_a_flash_preview_reads_the_sale_and_the_address_in_one_batch_get_and_a_cached_sale_not_at_all(
        owner, shop, alice, dynamodb_calls, flash_cache):
    from tests.marketing.flash import new_sale

    sale = new_sale(owner, shop.sku(), stock=4, per_user_limit=1, shards=2)
    body = {"address_id": alice.address_id, "flash_sale_id": sale["sale_id"],
            "items": [{"sku_id": sale["sku_id"], "quantity": 1}]}
    flash_cache.forget_cached()
    dynamodb_calls.clear()

    response = alice.api.post("/orders/preview", body)

    assert response.status_code == 200 and response.data["address"]["address_id"] == alice.address_id, response.data
    assert dynamodb_calls.counts() == {"BatchGetItem": 1}, dynamodb_calls.counts()
    dynamodb_calls.clear()
    response = alice.api.post("/orders/preview", {key: value for key, value in body.items() if key != "address_id"})
    assert response.status_code == 200 and response.data["address"] is None, response.data
    assert dynamodb_calls.counts() == {}, f"the sale cached by the first preview, no address: {dynamodb_calls.counts()}"


def test_a_flash_order_the_buyers_limit_refuses_reads_once_and_writes_nothing(
        owner, shop, alice, dynamodb_calls, flash_cache):
    from tests.marketing.flash import flash_order, new_sale

    sale = new_sale(owner, shop.sku(), stock=4, per_user_limit=1, shards=2)
    assert flash_order(alice, sale).status_code == 201
    dynamodb_calls.clear()

    again = flash_order(alice, sale)

    assert (again.status_code, again.data["error"]["code"]) == (409, "LIMIT_REACHED"), again.data
    assert dynamodb_calls.counts() == {"BatchGetItem": 1}, dynamodb_calls


@pytest.mark.parametrize("after", ["sold out", "ended"])
def test_a_flash_replay_after_the_sale_sold_out_or_ended_answers_its_earlier_order(
        owner, shop, client, pump, frozen_clock, dynamodb_calls, flash_cache, after):
    from tests.checkout.conftest import Buyer
    from tests.marketing.flash import flash_order, new_sale

    sale = new_sale(owner, shop.sku(), stock=1, per_user_limit=1, shards=1)
    alice = Buyer(client, "U-alice")
    first = flash_order(alice, sale, key="flash-replay-01")
    assert first.status_code == 201, first.data
    pump.drain()  # the pool's stream handler flags the sale sold out
    frozen_clock.advance(seconds=2 if after == "sold out" else 3601)
    refused = flash_order(Buyer(client, "U-bob"), sale)  # reads the sale again: this function caches its refusal
    assert refused.status_code in (409, 422), refused.data
    dynamodb_calls.clear()

    again = flash_order(alice, sale, key="flash-replay-01")

    assert again.status_code == 201 and again.data["order_id"] == first.data["order_id"], again.data
    expected = {"BatchGetItem": 1, "GetItem": 1}  # the key alone in the batch (the sale is cached), then its order
    assert dynamodb_calls.counts() == expected, f"expected {expected}, got {dynamodb_calls.counts()}"


def test_after_a_flash_sell_out_a_request_reads_its_key_alone_and_reserves_nothing(
        owner, shop, client, pump, frozen_clock, dynamodb_calls, flash_cache):
    from chalicelib.core.batch_reads import ReadBatch
    from tests.checkout.conftest import Buyer
    from tests.marketing.flash import flash_order, new_sale

    sale = new_sale(owner, shop.sku(), stock=1, per_user_limit=1, shards=1)
    assert flash_order(Buyer(client, "U-first"), sale).status_code == 201
    pump.drain()
    assert flash_order(Buyer(client, "U-second"), sale).status_code == 409  # the sold-out sale cached here
    asked: list[int] = []
    real_run = ReadBatch.run

    def counting_run(batch, **kwargs):
        asked.append(len(batch._wanted))
        return real_run(batch, **kwargs)

    third = Buyer(client, "U-third")
    dynamodb_calls.clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ReadBatch, "run", counting_run)
        response = flash_order(third, sale)

    assert (response.status_code, response.data["error"]["code"]) == (409, "SOLD_OUT"), response.data
    assert dynamodb_calls.counts() == {"BatchGetItem": 1}, dynamodb_calls
    assert asked == [1], "the key alone: no quota or address read for an order the sale refuses"


def test_after_a_refused_reservation_the_key_and_quota_are_one_batch_get_then_the_pool(
        owner, shop, client, dynamodb_calls, flash_cache, monkeypatch):
    from chalicelib.checkout import flash
    from tests.checkout.conftest import Buyer
    from tests.marketing.flash import flash_order, new_sale, pool

    monkeypatch.setattr(flash.random, "randrange", lambda *args: 0)  # every first try on shard 0
    sale = new_sale(owner, shop.sku(), stock=5, shards=2, per_user_limit=2)
    assert flash_order(Buyer(client, "U-first"), sale, 2).status_code == 201  # shard 0: 1 left
    second = Buyer(client, "U-second")
    dynamodb_calls.clear()

    response = flash_order(second, sale, 2)  # shard 0 refuses 2: the reads say why, shard 1 takes it

    assert response.status_code == 201, response.data
    expected = {"BatchGetItem": 3, "TransactWriteItems": 2}  # the reads; the refusal; key + quota; the pool; the order
    assert dynamodb_calls.counts() == expected, f"expected {expected}, got {dynamodb_calls.counts()}"
    assert [shard["reserved"] for shard in pool(sale["sale_id"])] == [2, 2]
