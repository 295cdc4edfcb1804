"""Cart adds, from the carts stream (the cart feature says which writes were adds: chalicelib/cart/events.py).

Why the stream and not a tracking message from the cart's own request: the stream carries every committed
add at least once and nothing that did not commit, costs the add request nothing (no queue call on the
buyer's path, no SQS grant for the cart function), and a crash between the add and a message cannot lose
one. An add is named by its buyer, SKU and request token: `cart#<user_id>#<sku_id>#<token>`.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.analytics import counters, distinct, sink
from chalicelib.analytics.counters import Fact
from chalicelib.analytics.days import day_of
from chalicelib.analytics.distinct import Sighting
from chalicelib.analytics.models import TOTALS, product_slot
from chalicelib.core import clock


def count_cart_adds(records: Iterable[Any]) -> int:
    """Counts the batch's adds not counted before; returns how many counted now."""
    from chalicelib.cart.events import adds_in

    facts, sightings, events = [], [], []
    for add in adds_in(records):
        day, visitor = day_of(add.at), distinct.buyer(add.user_id)
        fact = Fact(f"cart#{add.user_id}#{add.sku_id}#{add.request_token}").add(day, TOTALS, "cart_adds", 1) \
            .add(day, product_slot(add.product_id), f"c#{add.product_id}", 1)
        facts.append(fact)
        sightings += [Sighting(day, distinct.VISITORS, visitor), Sighting(day, distinct.CART_ADDERS, visitor)]
        events.append({"event_id": fact.key, "type": "CART_ADD", "source": "cart", "day": day,
                       "at": clock.iso(add.at), "visitor": visitor, "user_id": add.user_id,
                       "product_id": add.product_id, "sku_id": add.sku_id, "quantity": add.quantity})
    if not facts:
        return 0
    counted = counters.commit(facts)
    distinct.record(sightings)
    sink.current().put(events)
    return len(counted)
