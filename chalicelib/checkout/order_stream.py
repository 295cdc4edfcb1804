"""The orders table's one stream reader, and the features it serves.

DynamoDB Streams serves no more than two concurrent readers per shard without throttling
them, and four features act on order changes: checkout counts sales, members credits
growth and points (and gives back spent ones), notify derives its outbox, segments keeps
each buyer's payment facts, analytics counts the dashboard's figures. So one Lambda reads the
stream and hands each batch to every subscriber, each through its own feature's function.
Every subscriber is idempotent (a conditional marker per effect), so a batch retried, split
or redriven from its dead-letter queue applies nothing twice.

A subscriber that fails does not starve the others: each still gets the batch, then the
first error fails it, and Lambda retries it, splits it down to the failing record and
dead-letters that record's description (infra/triggers.py); a redrive replays every
subscriber, and those that already did their part skip it.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("micromall.checkout")

# (what it does, "module:function" taking the batch's records): imported when a batch arrives, so the
# checkout API function's cold start loads none of them.
SUBSCRIBERS: tuple[tuple[str, str], ...] = (
    ("sales counters", "chalicelib.checkout.events:count_sales"),
    ("member growth and points", "chalicelib.members.effects:apply_order_changes"),
    ("notifications", "chalicelib.notify.outbox:derive_from_orders"),
    ("buyer facts for segments", "chalicelib.segments.facts:record_order_changes"),
    ("dashboard counters", "chalicelib.analytics.orders:count_order_changes"),
)


def subscriber(target: str) -> Callable[[Iterable[Any]], Any]:
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def deliver(records: Iterable[Any], subscribers: tuple[tuple[str, str], ...] = SUBSCRIBERS) -> dict[str, Any]:
    """Hands the batch to every subscriber; raises the first failure once all have had their turn."""
    batch = list(records)
    results: dict[str, Any] = {}
    failure: Exception | None = None
    for label, target in subscribers:
        try:
            results[label] = subscriber(target)(batch)
        except Exception as exc:  # noqa: BLE001 - the others still get the batch; this one is retried with it
            log.exception("orders stream: %s failed on a batch of %d record(s)", label, len(batch))
            failure = failure or exc
    if failure is not None:
        raise failure
    return results
