"""What the orders stream drives: the products' sales counters.

Delivery is at least once, so each order's effect is guarded by a marker (an
idempotency record `effect#sales#<order_id>`) written in the same transaction
as the counters. Sales are summed per product over the batch first: a flash
sale pays thousands of orders of one product a second, and one counter item
cannot take that many writes; one write per product per batch it can. A batch
whose markers and counters exceed one transaction's 100 actions is committed in
chunks, each idempotent on its own markers.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError

from chalicelib.catalog import reservations
from chalicelib.checkout import statuses
from chalicelib.core import clock
from chalicelib.core.db import condition_failed, run_transaction
from chalicelib.core.events import image
from chalicelib.core.models import IdempotencyRecord

log = logging.getLogger("micromall.checkout")

# Markers outlive any redelivery: a stream keeps records for 24 hours.
MARKER_TTL = timedelta(days=2)
TRANSACTION_ACTIONS = 100  # DynamoDB's limit per TransactWriteItems: one marker per order + one counter per product


def count_sales(records: Iterable[Any]) -> int:
    """Add the units of orders that just became PAID to their products' sales; returns orders counted."""
    paid = [order for order in (_newly_paid(record) for record in records) if order is not None]
    counted = 0
    for chunk in _chunks(paid):
        if _commit(chunk):
            counted += len(chunk)
        else:
            # Some order of the chunk was counted before (a redelivery): count the others one by one.
            counted += sum(_commit([order]) for order in chunk)
    return counted


def _chunks(orders: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive groups of orders whose markers and distinct products fit one transaction.

    An order alone always fits: it has at most 45 distinct SKUs (checkout's limit), so 46 actions.
    """
    chunks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    products: set[str] = set()
    for order in orders:
        mine = {line["product_id"] for line in order["lines"]}
        if current and len(current) + 1 + len(products | mine) > TRANSACTION_ACTIONS:
            chunks.append(current)
            current, products = [], set()
        current.append(order)
        products |= mine
    if current:
        chunks.append(current)
    return chunks


def _newly_paid(record: Any) -> dict[str, Any] | None:
    old, new = image(record, "old") or {}, image(record, "new") or {}
    if new.get("status") == statuses.PAID and old.get("status") in (statuses.PENDING_PAYMENT, statuses.AWAITING_GROUP):
        return new
    return None


def _commit(orders: list[dict[str, Any]]) -> bool:
    units: Counter[str] = Counter()
    for order in orders:
        for line in order["lines"]:
            units[line["product_id"]] += int(line["quantity"])
    expires = clock.now() + MARKER_TTL

    def build(tx: Any) -> None:
        for order in orders:
            marker = IdempotencyRecord(f"effect#sales#{order['order_id']}", expiration=expires, status="COMPLETED")
            tx.save(marker, condition=IdempotencyRecord.id.does_not_exist())
        for product_id, quantity in units.items():
            reservations.add_sales(tx, product_id, quantity)

    try:
        run_transaction(build)
        return True
    except TransactWriteError as exc:
        if not condition_failed(exc):
            raise
        if len(orders) == 1:
            log.info("sales of order %s were counted before", orders[0]["order_id"])
        return False
