"""Flash-sale races with real threads against moto (each DynamoDB call atomic), repeated: one buyer's parallel
requests stay within the limit, a crowd never oversells and never drives a shard below zero, expiry and the end
of a sale give units back exactly once, and after the sell-out no request reaches a transaction."""
from __future__ import annotations

from collections import Counter

import pytest

from chalicelib.checkout import lifecycle, service, sweeper
from chalicelib.checkout.inputs import OrderSubmission
from tests.checkout.conftest import Buyer, stock_of
from tests.checkout.test_races import race
from tests.marketing.flash import flash_order, new_sale, pool, quota, totals

ROUNDS = 4


@pytest.fixture(autouse=True)
def fresh_cache():
    from chalicelib.marketing import flash_stock

    flash_stock.forget_cached()
    yield
    flash_stock.forget_cached()


def buy(buyer: Buyer, sale: dict, key: str, quantity: int = 1):
    request = OrderSubmission.model_validate({"address_id": buyer.address_id, "flash_sale_id": sale["sale_id"],
                                              "items": [{"sku_id": sale["sku_id"], "quantity": quantity}]})
    return lambda: service.submit_order(buyer.user_id, request, key)


def orders_of(outcomes: list) -> list:
    return [outcome for outcome in outcomes if not isinstance(outcome, str)]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_twenty_parallel_requests_by_one_buyer_get_at_most_the_limit(owner, shop, client, atomic_dynamodb, round_):
    sale = new_sale(owner, shop.sku(stock=100), stock=50, per_user_limit=2, shards=4)
    greedy = Buyer(client, f"U-greedy-{round_}")
    outcomes = race([buy(greedy, sale, f"greedy-{round_}-{n}") for n in range(20)])
    assert len(orders_of(outcomes)) == 2, f"expected the limit of 2 orders, got {outcomes}"
    assert Counter(o for o in outcomes if isinstance(o, str)) == {"LIMIT_REACHED": 18}
    assert quota(sale["sale_id"], greedy.user_id) == 2 and totals(sale["sale_id"])["reserved"] == 2


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_crowd_buys_exactly_the_pool_and_no_shard_goes_below_zero(owner, shop, client, atomic_dynamodb, round_):
    sku = shop.sku(stock=40)
    sale = new_sale(owner, sku, stock=10, per_user_limit=1, shards=4)
    buyers = [Buyer(client, f"U-crowd-{round_}-{n}") for n in range(30)]
    outcomes = race([buy(b, sale, f"crowd-{round_}-{n}") for n, b in enumerate(buyers)])
    assert len(orders_of(outcomes)) == 10, f"expected 10 orders for 10 units, got {len(orders_of(outcomes))}"
    assert Counter(o for o in outcomes if isinstance(o, str)) == {"SOLD_OUT": 20}
    shards = pool(sale["sale_id"])
    assert all(shard["available"] >= 0 for shard in shards) and sum(s["reserved"] for s in shards) == 10
    assert stock_of(sku)["available"] == 30, "regular stock is not sold by the sale"


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_sweepers_and_the_buyer_racing_give_back_units_and_quota_once(owner, shop, client, atomic_dynamodb,
                                                                           frozen_clock, round_):
    sale = new_sale(owner, shop.sku(), stock=5, per_user_limit=1, shards=2, payment_timeout_seconds=30)
    buyers = [Buyer(client, f"U-late-{round_}-{n}") for n in range(5)]
    placed = [flash_order(b, sale).data for b in buyers]
    frozen_clock.advance(seconds=31)
    cancels = [lambda o=o, b=b: lifecycle.cancel_unpaid(o["order_id"], "BUYER", user_id=b.user_id)
               for o, b in zip(placed, buyers, strict=True)]
    race([sweeper.sweep_due_orders, sweeper.sweep_due_orders, *cancels])
    assert totals(sale["sale_id"]) == {"available": 5, "reserved": 0, "sold": 0, "returned": 0}
    assert all(quota(sale["sale_id"], b.user_id) == 0 for b in buyers)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_ending_a_sale_while_orders_race_returns_every_unit_once(owner, shop, client, atomic_dynamodb, pump,
                                                                  round_):
    from chalicelib.marketing import flash_sales

    sku = shop.sku(stock=30)
    sale = new_sale(owner, sku, stock=20, per_user_limit=1, shards=4)
    buyers = [Buyer(client, f"U-end-{round_}-{n}") for n in range(12)]
    outcomes = race([*(buy(b, sale, f"end-key-{round_}-{n}") for n, b in enumerate(buyers)),
                     lambda: flash_sales.end_sale(sale["sale_id"]), lambda: flash_sales.end_sale(sale["sale_id"])])
    sold = len([o for o in orders_of(outcomes) if hasattr(o, "order_id")])
    assert set(o for o in outcomes if isinstance(o, str)) <= {"SALE_NOT_RUNNING"}
    pump.drain()
    after = totals(sale["sale_id"])
    assert after["reserved"] == sold and after["available"] == 0 and after["returned"] == 20 - sold
    assert stock_of(sku)["available"] == 10 + 20 - sold
    for order in (o for o in orders_of(outcomes) if hasattr(o, "order_id")):
        lifecycle.cancel_unpaid(order.order_id, "BUYER")
    pump.drain()
    pump.drain()
    assert stock_of(sku)["available"] == 30, "every unit back in regular stock, none twice"
    assert totals(sale["sale_id"]) == {"available": 0, "reserved": 0, "sold": 0, "returned": 20}


def test_after_the_sell_out_requests_are_refused_without_a_transaction(owner, shop, client, pump, frozen_clock,
                                                                        dynamodb_calls):
    sale = new_sale(owner, shop.sku(), stock=2, per_user_limit=1, shards=2)
    first = [flash_order(Buyer(client, f"U-first-{n}"), sale) for n in range(2)]
    assert [r.status_code for r in first] == [201, 201]
    pump.drain()  # the pool's stream handler flags the sale sold out
    frozen_clock.advance(seconds=2)  # past every function's cached copy of the sale
    crowd = [Buyer(client, f"U-crowd-{n}") for n in range(20)]
    dynamodb_calls.clear()
    answers = [flash_order(b, sale) for b in crowd]
    assert {(r.status_code, r.data["error"]["code"]) for r in answers} == {(409, "SOLD_OUT")}
    calls = dynamodb_calls.counts()
    assert calls.get("TransactWriteItems", 0) == 0, f"the sold-out crowd wrote: {calls}"
    assert calls == {"BatchGetItem": 20}, f"one read each (its key; the first one's batch also the sale): {calls}"


def test_the_sold_out_flag_clears_when_units_come_back(owner, shop, client, pump, frozen_clock):
    from chalicelib.marketing.flash_models import FlashSaleModel

    sale = new_sale(owner, shop.sku(), stock=1, per_user_limit=1, shards=1)
    alice = Buyer(client, "U-alice")
    order = flash_order(alice, sale).data
    pump.drain()
    assert FlashSaleModel.get(sale["sale_id"], consistent_read=True).sold_out
    assert client.get(f"/marketing/flash-sales/{sale['sale_id']}").data["status"] == "SOLD_OUT"
    alice.api.post(f"/orders/{order['order_id']}/cancel")
    pump.drain()
    assert not FlashSaleModel.get(sale["sale_id"], consistent_read=True).sold_out
    frozen_clock.advance(seconds=2)
    assert flash_order(Buyer(client, "U-bob"), sale).status_code == 201, "the returned unit is sold again"


def test_an_older_pool_snapshot_never_overwrites_a_newer_flag(owner, shop, client, pump):
    from chalicelib.marketing import flash_stock
    from chalicelib.marketing.flash_models import FlashSaleModel

    sale = new_sale(owner, shop.sku(), stock=1, per_user_limit=1, shards=1)
    flash_order(Buyer(client, "U-alice"), sale)
    pump.drain()
    assert flash_stock.refresh_sold_out(sale["sale_id"]) is None, "the same snapshot again changes nothing"
    row = FlashSaleModel.get(sale["sale_id"], consistent_read=True)
    assert row.sold_out and int(row.pool_version) == 1


def test_admission_is_rate_limited_per_buyer_with_retry_after(owner, shop, client, monkeypatch):
    monkeypatch.setenv("MALL_RATE_LIMITS", "on")
    monkeypatch.setenv("MALL_LIMIT_FLASH_ORDER_BUYER", "2/10")
    sale = new_sale(owner, shop.sku(), stock=10, per_user_limit=5)
    script = Buyer(client, "U-script")
    answers = [flash_order(script, sale) for _ in range(3)]
    assert [r.status_code for r in answers] == [201, 201, 429]
    assert answers[2].data["error"]["code"] == "RATE_LIMITED" and int(answers[2].headers["Retry-After"]) >= 1
    assert totals(sale["sale_id"])["reserved"] == 2


def test_admission_is_rate_limited_per_device(owner, shop, client, monkeypatch):
    monkeypatch.setenv("MALL_RATE_LIMITS", "on")
    monkeypatch.setenv("MALL_LIMIT_FLASH_ORDER_DEVICE", "2/10")
    sale = new_sale(owner, shop.sku(), stock=10, per_user_limit=1)
    buyers = [Buyer(client, f"U-farm-{n}") for n in range(3)]
    answers = [b.api.post("/orders", {"address_id": b.address_id, "flash_sale_id": sale["sale_id"],
                                      "items": [{"sku_id": sale["sku_id"], "quantity": 1}]},
                          headers={"Idempotency-Key": f"farm-key-{n}", "X-Device-Id": "device-farm-1"})
               for n, b in enumerate(buyers)]
    assert [r.status_code for r in answers] == [201, 201, 429]
