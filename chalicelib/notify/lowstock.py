"""Low-stock alerts from the inventory stream: one alert per crossing below a SKU's threshold.

A SKU is low while its regular stock (shard 0) has `available < low_stock_threshold`.
Only a record whose old and new images disagree about that is looked at (a flash sale
moves stock thousands of times a second without crossing anything). Each SKU has a
`STATE` item; a crossing below moves it to low *and* writes the alert and its LOW_STOCK
outbox items in one transaction, on condition that it was not low: a redelivered
record finds it low already and raises nothing, and no second alert comes until a
record shows the stock back at or above the threshold (which moves it to not low).
Setting a threshold above the current stock is a crossing too: it alerts at once.

Each move also stores the stream record's sequence number and is conditioned on it
being newer: a retried batch replays records after the state has moved on (a crossing
below, then the recovery, then the batch fails on a later record), and the old
crossing must not alert again.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from chalicelib.core import clock, db, ids, metrics
from chalicelib.core.events import image
from chalicelib.notify import outbox
from chalicelib.notify.kinds import KINDS
from chalicelib.notify.models import ALERTS, STATE, LowStockModel
from chalicelib.notify.templates import TemplateCache

log = logging.getLogger("micromall.notify")

MAIN_SHARD = 0
SEQUENCE_WIDTH = 48  # stream sequence numbers are up to 40 digits: zero-padded, they compare as strings


def is_low(stock: dict[str, Any] | None) -> bool:
    if not stock or stock.get("low_stock_threshold") is None:
        return False
    return int(stock.get("available", 0)) < int(stock["low_stock_threshold"])


def watch(records: Iterable[Any]) -> int:
    """Raise an alert for each SKU that crossed below its threshold; returns the alerts raised."""
    templates = TemplateCache()
    raised = 0
    for record in records:
        old, new = image(record, "old"), image(record, "new")
        stock = new or old
        if stock is None or int(stock.get("shard", MAIN_SHARD)) != MAIN_SHARD or is_low(old) == is_low(new):
            continue
        sequence = str(record.sequence_number).zfill(SEQUENCE_WIDTH)
        if is_low(new):
            raised += _raise(new, sequence, templates)
        else:
            _recover(stock["sku_id"], sequence)
    return raised


def _newer(sequence: str) -> Any:
    return LowStockModel.sequence.does_not_exist() | (LowStockModel.sequence < sequence)


def _raise(stock: dict[str, Any], sequence: str, templates: TemplateCache) -> int:
    now = clock.now()
    alert_id = ids.new_id()
    title = " ".join([str(stock.get("title") or ""), *map(str, (stock.get("specs") or {}).values())]).strip()
    alert = LowStockModel(stock["sku_id"], alert_id, listing=ALERTS, product_id=stock.get("product_id"),
                          title=title, available=int(stock["available"]),
                          threshold=int(stock["low_stock_threshold"]), at=now)
    values = {"sku_id": stock["sku_id"], "product_title": title or stock["sku_id"],
              "available": alert.available, "threshold": alert.threshold, "raised_at": clock.iso(now)}
    items = outbox.plan(KINDS["LOW_STOCK"], alert_id, values, templates, sku_id=stock["sku_id"])
    not_low = LowStockModel.low.does_not_exist() | (LowStockModel.low == False)  # noqa: E712 - PynamoDB condition

    def build(tx: Any) -> None:
        tx.update(LowStockModel(stock["sku_id"], STATE),
                  actions=[LowStockModel.low.set(True), LowStockModel.alerts.add(1), LowStockModel.at.set(now),
                           LowStockModel.sequence.set(sequence)],
                  condition=not_low & _newer(sequence))
        tx.save(alert, condition=LowStockModel.alert_id.does_not_exist())
        outbox.add_to(tx, items)

    if not db.commit_if_conditions_hold(build):
        log.info("SKU %s is low already, or this record is older than its state: no alert", stock["sku_id"])
        return 0
    metrics.count("LowStockAlerts")
    return 1


def _recover(sku_id: str, sequence: str) -> None:
    try:
        LowStockModel(sku_id, STATE).update(
            actions=[LowStockModel.low.set(False), LowStockModel.at.set(clock.now()),
                     LowStockModel.sequence.set(sequence)],
            condition=(LowStockModel.low == True) & _newer(sequence))  # noqa: E712
    except Exception as exc:
        if not db.condition_failed(exc):
            raise
