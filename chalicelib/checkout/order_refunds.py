"""Refunds on an order: decided by the merchant and carried out by payments, recorded here.

Each is a move (moves.py): one transaction conditioned on the status read, with
payments' ledger writes added (`also`). The buyer asks with lifecycle.request_refund.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.checkout import statuses
from chalicelib.checkout.holdings import return_coupon, return_stock
from chalicelib.checkout.models import OrderModel, RefundRecord
from chalicelib.checkout.moves import CHANGE_ATTEMPTS, Writes, commit, commit_changes, require_allowed
from chalicelib.checkout.orders import load_order
from chalicelib.checkout.views import OrderView, order_view
from chalicelib.core import clock
from chalicelib.core.db import until_committed

BUYER_REFUND, RETURN_REFUND = "BUYER", "RETURN"
# A refund of an order refunded from one of these returns its stock: it never left the warehouse.
NEVER_SHIPPED = frozenset({statuses.PAID, statuses.AWAITING_GROUP})
REFUND_FAILURES = frozenset({"CLOSED", "ABNORMAL", "FAILED"})


@dataclass(frozen=True)
class NewRefund:
    """A refund to record on an order (payments decides it and carries it out)."""
    out_refund_no: str
    amount: int  # fen
    reason: str | None
    kind: str  # BUYER_REFUND or RETURN_REFUND


def is_buyer_refund(order: OrderModel, refund: Any) -> bool:
    """Whether `refund` is one the buyer asked for: only those finish REFUNDING (records without a kind predate
    the distinction, when the buyer's refund was always `<order_id>-R1`)."""
    if refund.kind is not None:
        return refund.kind == BUYER_REFUND
    return refund.out_refund_no == f"{order.order_id}-R1"


def approve_refund(order: OrderModel, refund: NewRefund, *, actor: str, also: Writes | None = None) -> bool:
    """REFUND_REQUESTED -> REFUNDING with the refund recorded on the order; False if the status moved."""
    if order.status != statuses.REFUND_REQUESTED:
        return False

    def actions(order: OrderModel, now: datetime) -> list[Any]:
        return [OrderModel.refund_request.decision.set("APPROVED"), OrderModel.refund_request.decided_at.set(now),
                OrderModel.refund_request.decided_by.set(actor), append_refunds([refund], now)]

    return commit(order, statuses.REFUNDING, actions, also)


def retry_refunds(order: OrderModel, refunds: list[NewRefund], *, also: Writes | None = None) -> bool:
    """Record new refunds replacing failed ones; a REFUND_FAILED order goes back to REFUNDING (when one of them
    is the buyer's). False if the order changed since it was read."""
    now = clock.now()
    if order.status == statuses.REFUND_FAILED and any(refund.kind == BUYER_REFUND for refund in refunds):
        return commit(order, statuses.REFUNDING, lambda order, now: [append_refunds(refunds, now)], also)
    return commit_changes(order, [append_refunds(refunds, now), OrderModel.updated_at.set(now)], also)


def reject_refund(order_id: str, *, reason: str, actor: str) -> OrderView:
    """REFUND_REQUESTED -> the status the order had when the buyer asked (PAID or SHIPPED)."""
    def actions(order: OrderModel, now: datetime) -> list[Any]:
        return [OrderModel.refund_request.decision.set("REJECTED"), OrderModel.refund_request.decided_at.set(now),
                OrderModel.refund_request.decided_by.set(actor), OrderModel.refund_request.reject_reason.set(reason)]

    def attempt() -> OrderView | None:
        order = load_order(order_id)
        require_allowed(order, statuses.REFUNDING, {statuses.REFUND_REQUESTED})  # 409 unless a request waits
        return order_view(load_order(order_id)) if commit(order, order.refund_request.from_status, actions,
                                                          None) else None

    return until_committed(attempt, attempts=CHANGE_ATTEMPTS)


def record_refund(order: OrderModel, refund: NewRefund, *, also: Writes | None = None) -> bool:
    """Record a refund on an order whose status it does not change (a late payment on a cancelled order), with
    the caller's writes in the same transaction; False if the order changed since it was read."""
    now = clock.now()
    return commit_changes(order, [append_refunds([refund], now), OrderModel.updated_at.set(now)], also)


def settle_refund(order: OrderModel, out_refund_no: str, status: str, *, refund_id: str | None,
                  also: Writes | None = None) -> bool:
    """A refund's final answer onto the order: its entry's status and, for the buyer's own refund only,
    REFUNDING (or REFUND_FAILED) -> REFUNDED on success (stock back when the order never shipped) or
    REFUNDING -> REFUND_FAILED on a failure. A refund of a payment the order could not take (RETURN) never
    moves the order. False if the order changed since it was read."""
    index = next((i for i, refund in enumerate(order.refunds or []) if refund.out_refund_no == out_refund_no), None)
    if index is None:
        raise ValueError(f"order {order.order_id} has no refund {out_refund_no}")
    entry = OrderModel.refunds[index]
    now = clock.now()
    changes = [entry.status.set(status), entry.updated_at.set(now)] + ([entry.refund_id.set(refund_id)]
                                                                     if refund_id else [])
    buyers = is_buyer_refund(order, order.refunds[index])
    if buyers and status == "SUCCESS" and order.status in (statuses.REFUNDING, statuses.REFUND_FAILED):
        def writes(tx: Any, order: OrderModel) -> None:
            if order.refund_request is not None and order.refund_request.from_status in NEVER_SHIPPED:
                return_stock(tx, order)
            return_coupon(tx, order)  # refunded in full: a still-valid coupon comes back (README: refunds)
            if also is not None:
                also(tx, order)

        return commit(order, statuses.REFUNDED, lambda order, now: changes, writes)
    if buyers and status in REFUND_FAILURES and order.status == statuses.REFUNDING:
        return commit(order, statuses.REFUND_FAILED, lambda order, now: changes, also)
    return commit_changes(order, changes + [OrderModel.updated_at.set(now)], also)


def append_refunds(refunds: list[NewRefund], now: datetime) -> Any:
    """The update action that appends `refunds` to the order's list, each PROCESSING until payments hears back."""
    records = [RefundRecord(out_refund_no=refund.out_refund_no, amount=refund.amount, status="PROCESSING",
                            reason=refund.reason, kind=refund.kind, created_at=now, updated_at=now)
               for refund in refunds]
    return OrderModel.refunds.set(OrderModel.refunds.append(records))
