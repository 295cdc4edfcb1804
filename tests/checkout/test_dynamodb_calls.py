"""A checkout costs the same DynamoDB calls for 1 line or 20; the sweeper reads an index, never scans.

Counted on every botocore client (`dynamodb_calls`), so a call made through a
model that missed the shared connection is counted too.
"""
from __future__ import annotations

import pytest

from chalicelib.checkout import service, sweeper
from chalicelib.checkout.models import SHARDS

# key, address; cards; the buyer's member account with the level table (one BatchGetItem); the commit
SUBMIT_BY_ITEMS = {"GetItem": 2, "BatchGetItem": 2, "TransactWriteItems": 1}
SUBMIT_FROM_CART = {**SUBMIT_BY_ITEMS, "Query": 1}  # + the cart's lines
SWEEP_KINDS = 2  # EXPIRE and CONFIRM, each over every shard


@pytest.mark.parametrize("line_count", [1, 5, 20])
def test_buy_now_costs_two_gets_two_batch_gets_and_one_transaction_whatever_the_lines(
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
