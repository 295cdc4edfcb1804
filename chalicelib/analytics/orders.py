"""What the orders stream tells the dashboard: orders created, status moves, payments and settled refunds.

The orders table's one stream reader (chalicelib/checkout/order_stream.py) hands each batch here. Every
fact is read off the order's old and new images and named by what identifies it in the business, never
by the delivery:

    order#<id>#created        the order was placed: `orders`, `status#<status>`, campaigns' `o#`, on its day
    order#<id>#v<version>     a status move: `status#<old>` - 1, `status#<new>` + 1 on the order's creation day
                              (so `orders_by_status` is the orders placed in the range, by where they are now);
                              its marker keeps `<old>`, from which a backfill of an order placed before analytics
                              counted it tells the status the live count started from (replay.py)
    order#<id>#paid           PENDING_PAYMENT -> PAID or AWAITING_GROUP: `gmv` + payable, `paid_orders`, the
                              products' units and amounts, the campaigns' `p#`, `a#`, `d#`, on the payment's day
    refund#<out_refund_no>    a buyer's refund (not the return of a payment the order never took) reached
                              SUCCESS: `refunds` + amount on the day it settled, which lowers that day's net GMV
    buyer#<user_id>           the buyer's first payment ever counted: `new_buyers` on its day (kept for good)

and the distinct steps (distinct.py): the creator and the payer (and so the visitor) of the day, and a
payer whose order was not their first a repeat buyer.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from chalicelib.analytics import counters, distinct, sink
from chalicelib.analytics.campaigns import Lookups, shares_of
from chalicelib.analytics.counters import Fact
from chalicelib.analytics.days import day_of
from chalicelib.analytics.distinct import Sighting
from chalicelib.analytics.models import CAMPAIGNS, TOTALS, product_slot
from chalicelib.core import clock
from chalicelib.core.events import image

UNPAID = "PENDING_PAYMENT"
PAID_STATES = frozenset({"PAID", "AWAITING_GROUP"})
BUYER_REFUND, SUCCESS = "BUYER", "SUCCESS"


def count_order_changes(records: Iterable[Any]) -> int:
    """Counts the facts of a batch of orders stream records not counted before; returns how many counted now."""
    return count_changes((image(record, "old") or {}, image(record, "new")) for record in records)


def count_changes(changes: Iterable[tuple[dict[str, Any], dict[str, Any] | None]]) -> int:
    """`count_order_changes` on (old image, new image) pairs, as plain values."""
    batch = Batch()
    for old, new in changes:
        if new is not None:
            batch.read(old, new)
    counted = counters.commit(batch.facts)
    batch.sightings += repeat_buyers(batch.payments, counted)
    distinct.record(batch.sightings)
    if batch.events:
        sink.current().put(batch.events)
    return len(counted)


class Batch:
    """The facts, sightings and raw events of a batch of order changes (the backfill builds one too: replay.py)."""

    def __init__(self) -> None:
        self.facts: list[Fact] = []
        self.sightings: list[Sighting] = []
        self.events: list[dict[str, Any]] = []
        self.payments: list[tuple[str, str, str]] = []  # (user_id, order_id, day)
        self.lookups = Lookups()

    def read(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if not old:
            self.created(new)
        elif old.get("status") != new.get("status"):
            self.moved(old, new)
        if old.get("status") == UNPAID and new.get("status") in PAID_STATES:
            self.paid(new)
        for refund in settled_refunds(old, new):
            self.refunded(new, refund)

    def created(self, order: dict[str, Any]) -> None:
        day, user = day_of(as_time(order["created_at"])), order["user_id"]
        fact = Fact(f"order#{order['order_id']}#created").add(day, TOTALS, "orders", 1) \
            .add(day, TOTALS, f"status#{order['status']}", 1)
        for share in shares_of(order, self.lookups):
            fact.add(day, CAMPAIGNS, f"o#{share.key}", 1).name(day, CAMPAIGNS, f"n#{share.key}", share.name)
        self.facts.append(fact)
        self.sightings += [Sighting(day, step, distinct.buyer(user))
                           for step in (distinct.VISITORS, distinct.ORDER_CREATORS)]
        self.event(fact.key, "ORDER_CREATED", order, order["created_at"], day, amount=int(order["payable"]),
                   product_ids=sorted({line["product_id"] for line in order.get("lines", [])}))

    def moved(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        day = day_of(as_time(new["created_at"]))
        fact = Fact(f"order#{new['order_id']}#v{new.get('version', 0)}", note=old["status"]) \
            .add(day, TOTALS, f"status#{old['status']}", -1).add(day, TOTALS, f"status#{new['status']}", 1)
        self.facts.append(fact)
        self.event(fact.key, "ORDER_STATUS_CHANGED", new, new.get("updated_at") or new["created_at"], day,
                   status_from=old["status"], status_to=new["status"])

    def paid(self, order: dict[str, Any]) -> None:
        paid_at = order.get("paid_at") or (order.get("payment") or {}).get("paid_at") or order["updated_at"]
        day, user, payable = day_of(as_time(paid_at)), order["user_id"], int(order["payable"])
        fact = Fact(f"order#{order['order_id']}#paid").add(day, TOTALS, "gmv", payable) \
            .add(day, TOTALS, "paid_orders", 1)
        for line in order.get("lines", []):
            product = line["product_id"]
            fact.add(day, product_slot(product), f"u#{product}", int(line["quantity"]))
            fact.add(day, product_slot(product), f"a#{product}", line_paid(line))
        for share in shares_of(order, self.lookups):
            fact.add(day, CAMPAIGNS, f"p#{share.key}", 1).add(day, CAMPAIGNS, f"a#{share.key}", payable)
            fact.add(day, CAMPAIGNS, f"d#{share.key}", share.discount)
            fact.name(day, CAMPAIGNS, f"n#{share.key}", share.name)
        first = Fact(f"buyer#{user}", keep_forever=True, order_id=order["order_id"], day=day) \
            .add(day, TOTALS, "new_buyers", 1)
        self.facts += [fact, first]
        self.payments.append((user, order["order_id"], day))
        self.sightings += [Sighting(day, step, distinct.buyer(user)) for step in (distinct.VISITORS, distinct.PAYERS)]
        self.event(fact.key, "ORDER_PAID", order, paid_at, day, amount=payable,
                   provider=(order.get("payment") or {}).get("provider"))

    def refunded(self, order: dict[str, Any], refund: dict[str, Any]) -> None:
        day = day_of(as_time(refund["updated_at"]))
        fact = Fact(f"refund#{refund['out_refund_no']}").add(day, TOTALS, "refunds", int(refund["amount"]))
        self.facts.append(fact)
        self.event(fact.key, "REFUND_SETTLED", order, refund["updated_at"], day, amount=int(refund["amount"]),
                   out_refund_no=refund["out_refund_no"])

    def event(self, event_id: str, kind: str, order: dict[str, Any], at: Any, day: str, **fields: Any) -> None:
        self.events.append({"event_id": event_id, "type": kind, "source": "orders", "day": day,
                            "at": clock.iso(as_time(at)), "visitor": distinct.buyer(order["user_id"]),
                            "user_id": order["user_id"], "order_id": order["order_id"],
                            **{key: value for key, value in fields.items() if value is not None}})


def settled_refunds(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The buyer's refunds that reached SUCCESS in this change. A returned payment (kind RETURN: money the
    order never took, a second or late payment) is not a refund of GMV and is left out."""
    before = {refund["out_refund_no"]: refund.get("status") for refund in old.get("refunds") or []}
    return [refund for refund in new.get("refunds") or []
            if refund.get("status") == SUCCESS and before.get(refund["out_refund_no"]) != SUCCESS
            and is_buyer_refund(new["order_id"], refund)]


def is_buyer_refund(order_id: str, refund: dict[str, Any]) -> bool:
    """As checkout's lifecycle judges it: refunds recorded before kinds existed were the buyer's `-R1`."""
    if refund.get("kind") is not None:
        return refund["kind"] == BUYER_REFUND
    return refund["out_refund_no"] == f"{order_id}-R1"


def line_paid(line: dict[str, Any]) -> int:
    """What the buyer paid for a line: its total less its share of every discount (shipping is the order's)."""
    discounts = sum(int(line.get(name) or 0) for name in ("member_discount", "coupon_discount", "points_discount"))
    return int(line["line_total"]) - discounts


def repeat_buyers(payments: list[tuple[str, str, str]], counted: list[Fact]) -> list[Sighting]:
    """Payers whose order was not their first counted payment: repeat buyers of the payment's day."""
    first_now = {fact.key: fact.order_id for fact in counted if fact.key.startswith("buyer#")}
    unknown = [f"buyer#{user}" for user, _, _ in payments if f"buyer#{user}" not in first_now]
    if unknown:
        for key, mark in counters.marks_present(unknown, consistent=True).items():
            first_now[key] = mark.get("order_id")
    return [Sighting(day, distinct.REPEAT_BUYERS, distinct.buyer(user)) for user, order_id, day in payments
            if first_now.get(f"buyer#{user}") not in (None, order_id)]


def as_time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
