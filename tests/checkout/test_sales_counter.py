"""The orders stream adds paid units to the products' sales counters, once per order."""
from __future__ import annotations

from tests.checkout.conftest import pay


def product_sales(product_id: str) -> int:
    from chalicelib.catalog.models import ProductModel

    return int(ProductModel.get(product_id, consistent_read=True).sales)


def test_paid_orders_count_as_sales_once(app, shop, alice, bob):
    from infra.local.pump import EventPump

    product = shop.product(prices=[1000, 2000], stock=10)
    red, blue = (sku.sku_id for sku in product.skus)
    first = alice.placed({red: 2, blue: 1})
    second = bob.placed({red: 3})
    unpaid = alice.placed({blue: 4})
    pump = EventPump(app, raise_errors=True)
    pump.drain()
    pay(first["order_id"])
    pay(second["order_id"])
    alice.api.post(f"/orders/{unpaid['order_id']}/cancel")
    pump.drain()
    assert product_sales(product.product_id) == 6, "2 + 1 + 3 paid units; the cancelled order sold nothing"
    assert alice.api.get(f"/catalog/products/{product.product_id}").data["sales"] == 6


def test_a_redelivered_batch_counts_nothing_twice(app, shop, alice, bob):
    from chalice.app import DynamoDBEvent

    from chalicelib.catalog.reads import sku_cards
    from chalicelib.checkout.events import count_sales
    from chalicelib.core.events import stream_arn

    sku = shop.sku(stock=10)
    orders = [alice.placed({sku: 1}), bob.placed({sku: 2})]
    records = [_paid_record(order) for order in orders]
    event = DynamoDBEvent({"Records": records}, None)
    assert count_sales(event) == 2
    assert count_sales(event) == 0, "every order of the batch was counted already"
    third = alice.placed({sku: 4})
    mixed = DynamoDBEvent({"Records": records + [_paid_record(third)]}, None)
    assert count_sales(mixed) == 1, "the new order is counted, the two old ones are not"
    assert product_sales(sku_cards([sku])[sku].product_id) == 7
    assert stream_arn("orders")  # the handler is declared on the orders stream


def _paid_record(order: dict) -> dict:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()

    def image(status: str) -> dict:
        lines = [{"product_id": item["product_id"], "sku_id": item["sku_id"], "quantity": item["quantity"]}
                 for item in order["items"]]
        return {key: serializer.serialize(value) for key, value in
                {"order_id": order["order_id"], "status": status, "lines": lines}.items()}

    return {"eventName": "MODIFY", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1", "eventID": "1",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/test-orders/stream/local",
            "dynamodb": {"OldImage": image("PENDING_PAYMENT"), "NewImage": image("PAID"), "SequenceNumber": "1",
                         "SizeBytes": 1, "ApproximateCreationDateTime": 1795579200,
                         "StreamViewType": "NEW_AND_OLD_IMAGES"}}


def test_a_batch_larger_than_one_transaction_is_counted_in_chunks(app, shop):
    """55 orders of 55 products are 110 actions: more than DynamoDB's 100 per transaction."""
    from chalice.app import DynamoDBEvent

    from chalicelib.catalog.reads import sku_cards
    from chalicelib.checkout.events import count_sales
    from chalicelib.core import ids

    skus = [shop.sku(stock=5) for _ in range(55)]
    cards = sku_cards(skus)
    orders = [{"order_id": ids.new_id(), "items": [{"product_id": cards[sku].product_id, "sku_id": sku,
                                                     "quantity": 2}]} for sku in skus]
    event = DynamoDBEvent({"Records": [_paid_record(order) for order in orders]}, None)
    assert count_sales(event) == 55
    assert count_sales(event) == 0, "redelivered: nothing counted twice"
    assert {product_sales(cards[sku].product_id) for sku in skus} == {2}
