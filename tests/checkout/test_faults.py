"""Checkout under DynamoDB faults: bounded jittered retries, then 503 BUSY; never a partial or second order.

Moto never throttles nor reports a TransactionConflict, so those are injected
with botocore `before-call` hooks (tests/faults.py): the client raises exactly
what DynamoDB would have sent, and nothing reaches the table. A failure after the
commit (the response lost on the way back, an error while building the answer)
is made by letting the real call through and failing afterwards.
"""
from __future__ import annotations

import pytest
from botocore.exceptions import ReadTimeoutError

from chalicelib.catalog.models import MAIN_SHARD, InventoryModel
from chalicelib.checkout import service
from chalicelib.checkout.models import OrderModel
from chalicelib.core import config, db
from chalicelib.core.db import get_or_none
from chalicelib.core.models import IdempotencyRecord
from tests.checkout.conftest import stock_of
from tests.faults import failing_calls, throttled, transaction_cancelled, unprocessed_keys

CONFLICT = transaction_cancelled("None", "TransactionConflict", "None")


@pytest.fixture
def backoffs(monkeypatch) -> list[tuple[float, float]]:
    """The (low, high) window of each jittered backoff run_transaction draws; every nap is 0 s."""
    windows: list[tuple[float, float]] = []

    def no_wait(low: float, high: float) -> float:
        windows.append((low, high))
        return 0.0

    monkeypatch.setattr(db.random, "uniform", no_wait)
    return windows


def dynamodb():
    return db.connection().client


def stored_orders() -> list[OrderModel]:
    return list(OrderModel.scan())  # the test is about what the table holds, whatever the indexes say


def key_record(user_id: str, key: str) -> IdempotencyRecord | None:
    return get_or_none(IdempotencyRecord, f"checkout#{user_id}#{key}")


def assert_nothing_left(sku_id: str, user_id: str, key: str, stock: int) -> None:
    assert stock_of(sku_id) == {"available": stock, "reserved": 0, "sold": 0}, \
        f"expected nothing reserved, got {stock_of(sku_id)}"
    assert stored_orders() == [], f"expected no order stored, got {[o.order_id for o in stored_orders()]}"
    assert key_record(user_id, key) is None, "expected no idempotency record for the key"


def assert_busy(response) -> None:
    assert response.status_code == 503, f"expected 503, got {response.status_code}: {response.data}"
    assert response.data["error"]["code"] == "BUSY", f"expected code BUSY, got {response.data}"
    assert response.headers.get("Retry-After") == "1", f"expected Retry-After: 1, got {dict(response.headers)}"


# --- faults before the commit: retried, then refused cleanly ---------------------------

@pytest.mark.parametrize("fault", [CONFLICT, throttled()], ids=["TransactionConflict", "throttled"])
def test_a_checkout_transaction_failing_every_attempt_is_503_busy_after_bounded_jittered_retries(
        shop, alice, backoffs, fault):
    sku_id = shop.sku(stock=5)
    with failing_calls(dynamodb(), "TransactWriteItems", [fault] * db.TRANSACTION_ATTEMPTS) as attempts:
        response = alice.order({sku_id: 2}, key="faulty-key-0001")

    assert_busy(response)
    assert len(attempts) == db.TRANSACTION_ATTEMPTS, \
        f"expected {db.TRANSACTION_ATTEMPTS} attempts, got {len(attempts)}"
    expected_windows = [(0, 0.05 * 2**n) for n in range(db.TRANSACTION_ATTEMPTS - 1)]
    assert backoffs == expected_windows, f"expected jittered backoff windows {expected_windows}, got {backoffs}"
    assert_nothing_left(sku_id, alice.user_id, "faulty-key-0001", stock=5)


def test_the_same_key_after_a_busy_answer_places_exactly_one_order(shop, alice, backoffs):
    sku_id = shop.sku(stock=5)
    with failing_calls(dynamodb(), "TransactWriteItems", [CONFLICT] * db.TRANSACTION_ATTEMPTS):
        assert_busy(alice.order({sku_id: 2}, key="faulty-key-0002"))

    retried = alice.order({sku_id: 2}, key="faulty-key-0002")

    assert retried.status_code == 201, f"expected the retry to place the order, got {retried.status_code}"
    assert [order.order_id for order in stored_orders()] == [retried.data["order_id"]], "expected exactly one order"
    assert stock_of(sku_id) == {"available": 3, "reserved": 2, "sold": 0}, "expected 2 reserved once"


def test_conflicts_and_throttles_short_of_the_limit_are_retried_into_one_order(shop, alice, backoffs):
    sku_id = shop.sku(stock=5)
    faults = [CONFLICT, throttled(), CONFLICT]
    with failing_calls(dynamodb(), "TransactWriteItems", faults) as attempts:
        response = alice.order({sku_id: 2}, key="faulty-key-0003")

    assert response.status_code == 201, f"expected 201 after {len(faults)} retried faults, got {response.data}"
    assert len(attempts) == len(faults) + 1, f"expected {len(faults) + 1} attempts, got {len(attempts)}"
    assert [order.order_id for order in stored_orders()] == [response.data["order_id"]], "expected exactly one order"
    assert stock_of(sku_id) == {"available": 3, "reserved": 2, "sold": 0}, "expected 2 reserved once"


@pytest.mark.parametrize("operation", ["BatchGetItem", "Query"])  # the reads by key; a from-cart order's lines
def test_throttled_reads_before_the_commit_are_503_busy_and_leave_nothing_behind(shop, alice, operation):
    sku_id = shop.sku(stock=5)
    assert alice.api.post("/cart/items", {"sku_id": sku_id, "quantity": 2}).status_code in (200, 201)
    with failing_calls(dynamodb(), operation, [throttled()] * 10) as calls:
        response = alice.order(None, key="faulty-key-0004", from_cart=True)

    assert_busy(response)
    assert calls, f"expected the submit to make a {operation} call"
    assert_nothing_left(sku_id, alice.user_id, "faulty-key-0004", stock=5)


def test_a_throttled_read_batch_is_503_busy_sent_once_and_the_same_key_then_orders_once(shop, alice):
    """botocore retries a throttled call before the mall sees it (the injected fault skips those retries); the
    batch adds no loop of its own on top, which would multiply the load on a throttled table."""
    sku_id = shop.sku(stock=5)
    with failing_calls(dynamodb(), "BatchGetItem", [throttled()]) as calls:
        busy = alice.order({sku_id: 2}, key="faulty-key-0005")
    retried = alice.order({sku_id: 2}, key="faulty-key-0005")

    assert_busy(busy)
    assert calls == ["BatchGetItem"], f"expected the throttled batch sent once, got {calls}"
    assert retried.status_code == 201, f"expected the retry to place the order, got {retried.data}"
    assert [order.order_id for order in stored_orders()] == [retried.data["order_id"]], "expected exactly one order"
    assert stock_of(sku_id) == {"available": 3, "reserved": 2, "sold": 0}, "expected 2 reserved once"


# --- keys the read batch leaves unprocessed: asked again with backoff, as asked ---------

def test_keys_left_unprocessed_are_asked_again_with_backoff_each_table_as_consistently(shop, alice, backoffs):
    skus = shop.skus(3, stock=5)
    with unprocessed_keys(dynamodb(), answers=3, keep=1) as asked:
        response = alice.order({sku_id: 1 for sku_id in skus}, key="unprocessed-0001")

    assert response.status_code == 201 and len(response.data["items"]) == 3, response.data
    assert response.data["address"]["address_id"] == alice.address_id, response.data["address"]
    assert len(asked) == 4, f"expected the first ask and 3 asks of what was left, got {len(asked)}"
    assert backoffs == [(0, 0.025), (0, 0.05), (0, 0.1)], f"expected growing jittered backoffs, got {backoffs}"
    first = asked[0]
    for again in asked[1:]:
        assert set(again) <= set(first), f"expected only tables asked before, got {set(again)}"
        for table, entry in again.items():
            assert entry["ConsistentRead"] == first[table]["ConsistentRead"], f"{table} asked again differently"
            assert all(key in first[table]["Keys"] for key in entry["Keys"]), f"{table}: keys never asked"
    assert stock_of(skus[0]) == {"available": 4, "reserved": 1, "sold": 0}


def test_keys_never_processed_are_503_busy_after_bounded_asks_and_leave_nothing_behind(shop, alice, backoffs):
    sku_id = shop.sku(stock=5)
    with unprocessed_keys(dynamodb(), answers=db.BATCH_GET_ATTEMPTS, keep=0) as asked:
        response = alice.order({sku_id: 2}, key="unprocessed-0002")

    assert_busy(response)
    assert len(asked) == db.BATCH_GET_ATTEMPTS, f"expected {db.BATCH_GET_ATTEMPTS} asks, got {len(asked)}"
    assert_nothing_left(sku_id, alice.user_id, "unprocessed-0002", stock=5)


def test_a_replay_whose_key_comes_back_unprocessed_still_answers_the_first_order(shop, alice, backoffs):
    sku_id = shop.sku(stock=5)
    first = alice.placed({sku_id: 2}, key="unprocessed-0003")
    with unprocessed_keys(dynamodb(), answers=1, keep=0) as asked:
        again = alice.order({sku_id: 2}, key="unprocessed-0003")

    assert again.status_code == 201 and again.data["order_id"] == first["order_id"], again.data
    held_back = asked[1].get(config.table_name("idempotency"), {}).get("Keys")
    assert held_back, f"expected the key record held back and asked again, got {asked[1]}"
    assert [order.order_id for order in stored_orders()] == [first["order_id"]], "expected exactly one order"
    assert stock_of(sku_id) == {"available": 3, "reserved": 2, "sold": 0}, "expected 2 reserved once"


# --- failures after the commit: the key finds the order, never a second one -----------

@pytest.fixture
def after_commit(monkeypatch):
    """`after_commit(fail)`: the first TransactWriteItems reaches DynamoDB, then `fail(real_call, args)` decides
    what its caller sees (raise, or call again and answer that)."""
    import botocore.client

    real_call = botocore.client.BaseClient._make_api_call

    def install(fail):
        state = {"done": False}

        def call(client, operation_name, api_params):
            result = real_call(client, operation_name, api_params)
            if operation_name == "TransactWriteItems" and not state["done"]:
                state["done"] = True
                return fail(lambda: real_call(client, operation_name, api_params))
            return result

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)
    return install


def lost_response(_resend):
    raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/")


def test_a_response_lost_after_the_commit_is_a_503_and_the_retry_returns_the_same_order(shop, alice, after_commit):
    sku_id = shop.sku(stock=5)
    after_commit(lost_response)

    first = alice.order({sku_id: 2}, key="lost-reply-0001")
    retries = [alice.order({sku_id: 2}, key="lost-reply-0001") for _ in range(2)]

    assert first.status_code == 503 and first.data["error"]["code"] == "BUSY" and first.headers.get("Retry-After"), \
        f"expected 503 BUSY with Retry-After when the outcome is unknown, got {first.status_code}: {first.data}"
    stored = [order.order_id for order in stored_orders()]
    assert len(stored) == 1, f"expected the one committed order, got {stored}"
    assert [r.status_code for r in retries] == [201, 201], f"expected the retries answered, got {retries}"
    assert {r.data["order_id"] for r in retries} == set(stored), \
        f"expected every retry to answer the committed order {stored}, got {[r.data['order_id'] for r in retries]}"
    assert stock_of(sku_id) == {"available": 3, "reserved": 2, "sold": 0}, "expected 2 units reserved once"


def test_a_commit_resent_after_a_lost_response_answers_the_order_it_made(shop, alice, after_commit):
    """What the SDK does on a read timeout: send the same TransactWriteItems again. Without a
    ClientRequestToken the resend fails its conditions, and the submit finds its own key's order."""
    sku_id = shop.sku(stock=5)
    after_commit(lambda resend: resend())

    response = alice.order({sku_id: 2}, key="resent-0001")

    stored = [order.order_id for order in stored_orders()]
    assert response.status_code == 201, f"expected 201, got {response.status_code}: {response.data}"
    assert stored == [response.data["order_id"]], f"expected the answer to be the one stored order, got {stored}"
    assert stock_of(sku_id) == {"available": 3, "reserved": 2, "sold": 0}, "expected 2 units reserved once"


def test_an_error_building_the_answer_after_the_commit_never_makes_a_second_order(shop, alice, monkeypatch):
    sku_id = shop.sku(stock=5)
    real_view = service.order_view
    calls = {"count": 0}

    def view_failing_once(order):
        calls["count"] += 1
        if calls["count"] == 1:
            raise RuntimeError("rendering failed after the commit")
        return real_view(order)

    monkeypatch.setattr(service, "order_view", view_failing_once)

    first = alice.order({sku_id: 2}, key="bad-view-0001")
    retry = alice.order({sku_id: 2}, key="bad-view-0001")

    assert first.status_code == 500 and first.data["error"]["code"] == "INTERNAL", \
        f"expected 500 INTERNAL without details, got {first.status_code}: {first.data}"
    stored = [order.order_id for order in stored_orders()]
    assert retry.status_code == 201 and stored == [retry.data["order_id"]], \
        f"expected the retry to answer the one stored order {stored}, got {retry.status_code}: {retry.data}"
    assert stock_of(sku_id) == {"available": 3, "reserved": 2, "sold": 0}, "expected 2 units reserved once"
    row = InventoryModel.get(sku_id, MAIN_SHARD, consistent_read=True)
    assert int(row.available) + int(row.reserved) + int(row.sold) == 5
