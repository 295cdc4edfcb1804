"""Concurrent adds cannot push a cart past its line limit or a line past 99 units.

Real threads call the cart service against moto, with each DynamoDB call made
atomic (the `atomic_dynamodb` fixture) as real DynamoDB requests are. Each race
runs several rounds: a race that passes once proves little.
"""
from __future__ import annotations

import threading

import pytest

from chalicelib.cart import service
from chalicelib.cart.models import HEADER_KEY, CartHeader
from chalicelib.core.errors import MallError

ROUNDS = 3
THREADS = 16


def race(actions) -> list[str]:
    """Run every action at once; return 'ok' or the error code of each."""
    outcomes: list[str] = []
    start = threading.Barrier(len(actions))

    def run(action):
        start.wait()
        try:
            action()
            outcomes.append("ok")
        except MallError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def header_line_count(user_id: str) -> int:
    return int(CartHeader.get(user_id, HEADER_KEY, consistent_read=True).line_count)


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_concurrent_adds_of_different_skus_stop_at_the_line_limit(shop, atomic_dynamodb, monkeypatch,
                                                                  round_number):
    monkeypatch.setenv("MALL_CART_MAX_LINES", "10")
    sku_ids = shop.skus(THREADS)
    outcomes = race([lambda sku_id=sku_id: service.add_item("U-racer", sku_id, 1) for sku_id in sku_ids])
    assert sorted(outcomes) == ["CART_FULL"] * 6 + ["ok"] * 10, outcomes
    assert service.get_cart("U-racer").line_count == 10
    assert header_line_count("U-racer") == 10


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_concurrent_adds_of_one_sku_stop_at_99_units(shop, atomic_dynamodb, round_number):
    sku_id = shop.sku()
    outcomes = race([lambda: service.add_item("U-racer", sku_id, 10)] * THREADS)
    assert sorted(outcomes) == ["QUANTITY_LIMIT"] * 7 + ["ok"] * 9, outcomes
    cart = service.get_cart("U-racer")
    assert [line.quantity for line in cart.lines] == [90]
    assert header_line_count("U-racer") == 1


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_adds_racing_removals_keep_the_line_count_exact(shop, atomic_dynamodb, round_number):
    sku_ids = shop.skus(4)
    for sku_id in sku_ids:
        service.add_item("U-racer", sku_id, 1)
    removals = [lambda sku_id=sku_id: service.remove_item("U-racer", sku_id) for sku_id in sku_ids] * 2
    adds = [lambda sku_id=sku_id: service.add_item("U-racer", sku_id, 1) for sku_id in sku_ids] * 2
    outcomes = race(removals + adds)
    assert set(outcomes) <= {"ok", "CART_LINE_NOT_FOUND"}, outcomes
    assert header_line_count("U-racer") == service.get_cart("U-racer").line_count



def test_a_line_that_never_settles_answers_busy_and_adds_nothing(shop, alice):
    from chalicelib.core.db import connection
    from tests.faults import failing_calls

    sku = shop.sku()
    assert alice.post("/cart/items", {"sku_id": sku, "quantity": 1}).status_code == 200
    # Another request changes the line between every read and conditional update of ours: each update fails.
    changed = {"Error": {"Code": "ConditionalCheckFailedException", "Message": "The conditional request failed"}}
    with failing_calls(connection().client, "UpdateItem", [changed] * 50) as updates:
        response = alice.post("/cart/items", {"sku_id": sku, "quantity": 2})
    assert response.status_code == 503 and response.data["error"]["code"] == "BUSY", response.data
    assert response.headers.get("Retry-After"), "a BUSY answer says when to retry"
    assert len(updates) == service.ADD_ATTEMPTS, f"one update per attempt, then BUSY: {updates}"
    assert [line["quantity"] for line in alice.get("/cart").data["lines"]] == [1], "nothing was added"
