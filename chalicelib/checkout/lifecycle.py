"""The moves a buyer, staff and a payment make on an order: each one transaction, conditioned on the status read.

How a move commits, and why racing moves cannot both win, is moves.py; what a
move carries with it (stock, coupon, group place) is holdings.py. The merchant's
refund decisions are order_refunds.py, the deadlines sweeper.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.checkout import statuses
from chalicelib.checkout.holdings import release_order, sell_stock, use_coupon
from chalicelib.checkout.models import OrderModel, PaymentRecord, RefundRequest, Shipment
from chalicelib.checkout.moves import (
    CHANGE_ATTEMPTS,
    TradeCloser,
    Writes,
    cancel_actions,
    change,
    commit,
    complete_actions,
)
from chalicelib.checkout.orders import load_order
from chalicelib.checkout.views import OrderView, order_view
from chalicelib.core import config, metrics
from chalicelib.core.db import until_committed
from chalicelib.core.errors import Conflict


def cancel_unpaid(order_id: str, reason: str, *, user_id: str | None = None,
                  close_trade: TradeCloser | None = None) -> OrderView:
    """PENDING_PAYMENT -> CANCELLED, the reserved stock back to available in the same transaction; with
    `close_trade`, only once the provider's trade is closed (an order paid meanwhile is 409, and PAID)."""
    return order_view(change(order_id, statuses.CANCELLED, user_id=user_id, actions=cancel_actions(reason),
                             writes=release_order, before=close_trade))


def confirm_receipt(user_id: str, order_id: str) -> OrderView:
    """SHIPPED -> COMPLETED by the buyer."""
    return order_view(change(order_id, statuses.COMPLETED, user_id=user_id, actions=complete_actions))


def request_refund(user_id: str, order_id: str, reason: str) -> OrderView:
    """PAID, SHIPPED, or COMPLETED within MALL_REFUND_WINDOW_DAYS (after-sales) -> REFUND_REQUESTED; the
    merchant approves or rejects (payments, through order_refunds)."""
    def actions(order: OrderModel, now: datetime) -> list[Any]:
        if order.status == statuses.COMPLETED and now > order.completed_at + config.refund_window():
            raise Conflict(f"order {order.order_id} completed more than {config.refund_window().days} days ago; "
                           "its refund window has closed", code="REFUND_WINDOW_CLOSED")
        ask = RefundRequest(reason=reason, requested_at=now, from_status=order.status)
        return [OrderModel.refund_request.set(ask)]

    return order_view(change(order_id, statuses.REFUND_REQUESTED, user_id=user_id, actions=actions))


def ship(order_id: str, carrier: str, tracking_no: str, *, actor: str) -> OrderView:
    """PAID -> SHIPPED by staff; the buyer has MALL_ORDER_AUTO_CONFIRM_DAYS to confirm before it completes itself."""
    def actions(order: OrderModel, now: datetime) -> list[Any]:
        shipment = Shipment(carrier=carrier, tracking_no=tracking_no, shipped_at=now, shipped_by=actor)
        return [OrderModel.shipment.set(shipment)]

    return order_view(change(order_id, statuses.SHIPPED, actions=actions, allowed_from={statuses.PAID}))


@dataclass(frozen=True)
class PaymentOutcome:
    applied: bool  # this call moved the order to PAID
    order: OrderModel  # as it is now


def pay_order(order: OrderModel, *, provider: str, transaction_id: str, amount: int, paid_at: datetime,
              also: Writes | None = None) -> bool:
    """PENDING_PAYMENT -> PAID for the order as read, the reservation turned into a sale; `also` adds the
    caller's own writes (the payments ledger) to the same transaction.

    False, and nothing written, when the order is not (or no longer) unpaid: a
    payment is a fact, and the caller decides what a payment for a cancelled or
    already-paid order means. Reads nothing: the caller already holds the order.
    """
    if order.status != statuses.PENDING_PAYMENT:
        return False
    if order.group_id is not None:  # its group decides where it goes (group_orders.py); may raise PaymentCannotCount
        from chalicelib.checkout.group_orders import pay_group_order

        return pay_group_order(order, provider=provider, transaction_id=transaction_id, amount=amount,
                               paid_at=paid_at, also=also)

    def actions(order: OrderModel, now: datetime) -> list[Any]:
        record = PaymentRecord(provider=provider, transaction_id=transaction_id, paid_at=paid_at, amount=amount)
        return [OrderModel.payment.set(record), OrderModel.paid_at.set(paid_at)]

    def writes(tx: Any, order: OrderModel) -> None:
        sell_stock(tx, order)
        use_coupon(tx, order)
        if also is not None:
            also(tx, order)

    return metrics.count_if(commit(order, statuses.PAID, actions, writes), "OrdersPaid", provider=provider)


def mark_paid(order_id: str, *, provider: str, transaction_id: str, amount: int, paid_at: datetime,
              also: Writes | None = None) -> PaymentOutcome:
    """`pay_order` from the order id, re-reading when the order changed under it."""
    def attempt() -> PaymentOutcome | None:
        order = load_order(order_id)
        if order.status != statuses.PENDING_PAYMENT:
            return PaymentOutcome(applied=False, order=order)
        if pay_order(order, provider=provider, transaction_id=transaction_id, amount=amount, paid_at=paid_at,
                     also=also):
            return PaymentOutcome(applied=True, order=load_order(order_id))
        return None

    return until_committed(attempt, attempts=CHANGE_ATTEMPTS)


def close_provider_trade(order: OrderModel) -> bool:
    """The TradeCloser the routes and the sweeper use: payments' own function, imported only when a cancel needs it."""
    from chalicelib.payments.service import close_trade

    return close_trade(order)
