"""What the mall notifies about: one declared `Kind` per notification, nothing else to wire.

A kind says when it happened (a test on its source table's stream record: the old
and new images), what identifies that one event (the same for every delivery of the
record, so the outbox item is written once), who gets it, and the variables the
merchant may map onto a template's fields. Adding a kind is adding an entry here
(and, for a new source table, one stream handler in routes.py that calls
`outbox.derive(records, kinds_of(<table>))`). The group-buy kinds (GROUP_SUCCEEDED,
GROUP_FAILED, source `groupbuys`) join this way when that feature lands.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.checkout import statuses
from chalicelib.notify.models import BUYER, STAFF

Image = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    name: str
    audience: str  # BUYER: the users the event names; STAFF: the users the merchant lists for the kind
    variables: tuple[str, ...]  # what a template field may show
    values: Callable[[Image], dict[str, Any]]  # the variables' values from the event's image
    source: str | None = None  # the table whose stream it comes from; None: raised by the mall's own code
    happened: Callable[[Image, Image], bool] | None = None  # (old image, new image) of a source record
    occurrence: Callable[[Image], str] | None = None  # the event's identity within its kind
    buyers: Callable[[Image], list[str]] = lambda image: [image["user_id"]]


def _status_moved(into: tuple[str, ...], out_of: tuple[str, ...] | None = None) -> Callable[[Image, Image], bool]:
    def happened(old: Image, new: Image) -> bool:
        before, after = old.get("status"), new.get("status")
        return after in into and before != after and (out_of is None or before in out_of)
    return happened


def _title(order: Image) -> str:
    lines = order.get("lines") or []
    if not lines:
        return ""
    first = str(lines[0].get("title", ""))
    units = sum(int(line.get("quantity", 0)) for line in lines)
    return first if len(lines) == 1 else f"{first}等{units}件"


def _order_values(order: Image) -> dict[str, Any]:
    return {"order_id": order["order_id"], "product_title": _title(order), "payable": order.get("payable", 0),
            "item_count": sum(int(line.get("quantity", 0)) for line in order.get("lines") or []),
            "created_at": order.get("created_at")}


ORDER_VARIABLES = ("order_id", "product_title", "payable", "item_count", "created_at", "status_text")


def _paid(order: Image) -> dict[str, Any]:
    paid_at = (order.get("payment") or {}).get("paid_at") or order.get("paid_at") or order.get("updated_at")
    return {**_order_values(order), "paid_at": paid_at, "status_text": "已支付"}


def _shipped(order: Image) -> dict[str, Any]:
    shipment = order.get("shipment") or {}
    return {**_order_values(order), "carrier": shipment.get("carrier", ""),
            "tracking_no": shipment.get("tracking_no", ""),
            "shipped_at": shipment.get("shipped_at") or order.get("updated_at"), "status_text": "已发货"}


def _refunded(order: Image) -> dict[str, Any]:
    settled = [refund for refund in order.get("refunds") or []
               if refund.get("status") == "SUCCESS" and refund.get("kind", "BUYER") == "BUYER"]
    return {**_order_values(order), "refund_amount": sum(int(refund.get("amount", 0)) for refund in settled),
            "refunded_at": order.get("updated_at"), "status_text": "已退款"}


def _low_stock(alert: Image) -> dict[str, Any]:
    return {key: alert.get(key) for key in ("sku_id", "product_title", "available", "threshold", "raised_at")}


KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    # Paid by the buyer: straight to PAID, or to AWAITING_GROUP for a group order (a group's completion,
    # AWAITING_GROUP -> PAID, is GROUP_SUCCEEDED's news, not a second payment).
    Kind("ORDER_PAID", BUYER, ORDER_VARIABLES + ("paid_at",), _paid, source="orders",
         happened=_status_moved((statuses.PAID, statuses.AWAITING_GROUP), (statuses.PENDING_PAYMENT,)),
         occurrence=lambda order: order["order_id"]),
    # PAID -> SHIPPED only: a rejected refund request also returns an order to SHIPPED, and that is no shipment.
    Kind("ORDER_SHIPPED", BUYER, ORDER_VARIABLES + ("carrier", "tracking_no", "shipped_at"), _shipped,
         source="orders", happened=_status_moved((statuses.SHIPPED,), (statuses.PAID,)),
         occurrence=lambda order: order["order_id"]),
    # REFUNDED is final: an order is refunded (REFUNDING or a late success after REFUND_FAILED) once.
    Kind("REFUND_SETTLED", BUYER, ORDER_VARIABLES + ("refund_amount", "refunded_at"), _refunded,
         source="orders", happened=_status_moved((statuses.REFUNDED,)),
         occurrence=lambda order: order["order_id"]),
    # Raised by lowstock.py when a SKU's available stock crosses below its threshold; the alert is the event.
    Kind("LOW_STOCK", STAFF, ("sku_id", "product_title", "available", "threshold", "raised_at"), _low_stock),
)}


def kinds_of(source: str) -> list[Kind]:
    """The kinds derived from `source`'s stream, in declaration order."""
    return [kind for kind in KINDS.values() if kind.source == source]
