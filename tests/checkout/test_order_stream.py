"""The orders stream has one reader that serves every feature acting on order changes."""
from __future__ import annotations

from collections import Counter

import pytest

from tests.checkout.conftest import pay


def test_no_table_stream_has_more_than_two_readers(app):
    """DynamoDB Streams throttles a shard read by more than two processes at once."""
    from chalice.app import DynamoDBEventConfig

    readers = Counter(source.stream_arn for source in app.event_sources if isinstance(source, DynamoDBEventConfig))
    assert readers, "the app reads streams"
    crowded = {arn: count for arn, count in readers.items() if count > 2}
    assert not crowded, f"streams with more than two readers: {crowded}"
    orders = [arn for arn in readers if ":table/test-orders/" in arn or arn.endswith("orders")]
    assert [readers[arn] for arn in orders] == [1], f"the orders stream has one reader: {dict(readers)}"


def test_a_paid_order_counts_its_sales_through_the_one_reader(app, shop, alice):
    from chalicelib.catalog.models import ProductModel
    from infra.local.pump import EventPump

    product = shop.product(prices=[1000], stock=5)
    order = alice.placed({product.skus[0].sku_id: 2})
    pay(order["order_id"])
    pump = EventPump(app, raise_errors=True)
    pump.drain()
    assert int(ProductModel.get(product.product_id, consistent_read=True).sales) == 2


def test_a_failing_subscriber_still_lets_the_others_have_the_batch_then_fails_it(monkeypatch):
    from chalicelib.checkout import order_stream

    seen: list[tuple[str, list]] = []

    def recorder(name):
        def subscriber(records):
            seen.append((name, list(records)))
            return len(records)
        return subscriber

    def broken(records):
        raise RuntimeError("a subscriber's table is throttled")

    subscribers = {"first": recorder("first"), "broken": broken, "last": recorder("last")}
    monkeypatch.setattr(order_stream, "subscriber", lambda target: subscribers[target])
    with pytest.raises(RuntimeError, match="throttled"):
        order_stream.deliver(iter(["r1", "r2"]), (("first", "first"), ("broken", "broken"), ("last", "last")))
    assert order_stream.deliver(["r3"], (("first", "first"), ("last", "last"))) == {"first": 1, "last": 1}
    assert seen == [("first", ["r1", "r2"]), ("last", ["r1", "r2"]), ("first", ["r3"]), ("last", ["r3"])], \
        "each subscriber got the whole batch, the one after the failure too"


def test_every_subscriber_names_a_function_that_exists():
    from chalicelib.checkout.order_stream import SUBSCRIBERS, subscriber

    for label, target in SUBSCRIBERS:
        assert callable(subscriber(target)), label
