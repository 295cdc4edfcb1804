"""GET /cart costs two DynamoDB calls whatever the cart holds: one Query, one catalog BatchGetItem."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("line_count", [1, 50, 100])
def test_reading_the_cart_costs_exactly_two_dynamodb_calls(shop, alice, dynamodb_calls, line_count):
    for sku_id in shop.skus(line_count):
        assert alice.post("/cart/items", {"sku_id": sku_id, "quantity": 1}).status_code == 200
    dynamodb_calls.clear()

    response = alice.get("/cart")

    assert response.status_code == 200, response.data
    assert len(response.data["lines"]) == line_count
    assert dynamodb_calls.counts() == {"Query": 1, "BatchGetItem": 1}, (
        f"expected one Query and one BatchGetItem, got {dynamodb_calls.counts()}")


def test_an_empty_cart_costs_one_query(alice, dynamodb_calls):
    assert alice.get("/cart").status_code == 200
    assert dynamodb_calls.counts() == {"Query": 1}
