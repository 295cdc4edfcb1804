"""A product page costs exactly two DynamoDB calls, however many SKUs; a cart's cards cost one."""
from __future__ import annotations

import pytest

from chalicelib.catalog import service
from tests.catalog.helpers import new_category, new_product, skus_for


@pytest.mark.parametrize("sku_count", [1, 30])
def test_product_page_is_one_get_and_one_batch_get(client, dynamodb_calls, sku_count):
    product = new_product(client, new_category(client), skus=skus_for(sku_count))
    dynamodb_calls.clear()

    response = client.get(f"/catalog/products/{product['product_id']}")

    assert response.status_code == 200 and len(response.data["skus"]) == sku_count
    assert dynamodb_calls == ["GetItem", "BatchGetItem"], dynamodb_calls


def test_sku_cards_for_a_cart_are_one_batch_get(client, dynamodb_calls):
    product = new_product(client, new_category(client), skus=skus_for(30))
    dynamodb_calls.clear()

    cards = service.sku_cards([s["sku_id"] for s in product["skus"]])

    assert len(cards) == 30
    assert dynamodb_calls == ["BatchGetItem"], dynamodb_calls
