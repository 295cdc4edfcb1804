"""Moving orders through their statuses: every move one transaction, conditioned on the status read.

A move reads the order, checks the table of allowed moves (statuses.py), then
commits an update on condition that the status is still the one it read,
together with the stock movement that belongs to the move (a cancel releases
the reservation, a payment turns it into a sale). Two moves racing on one order
cannot both commit: the loser's condition fails, it re-reads, and it either
finds its move no longer allowed (409) or tries again from the new status. That
is what makes a release happen exactly once when the sweeper, the buyer and a
payment all race for the same unpaid order.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.catalog import reservations
from chalicelib.checkout import statuses
from chalicelib.checkout.models import (
    SHARDS,
    OrderModel,
    PaymentRecord,
    RefundRecord,
    RefundRequest,
    Shipment,
    shard_of,
)
from chalicelib.checkout.orders import load_order
from chalicelib.checkout.views import OrderView, order_view
from chalicelib.core import clock, config, metrics
from chalicelib.core.db import batch_get, commit_if_conditions_hold, get_or_none, until_committed
from chalicelib.core.errors import Conflict
from chalicelib.core.ids import new_id

log = logging.getLogger("micromall.checkout")

CHANGE_ATTEMPTS = 5
DEFAULT_AUTO_CONFIRM_DAYS = 7
EXPIRE, CONFIRM = "EXPIRE", "CONFIRM"
SWEEP_PAGE = 100

Actions = Callable[[OrderModel, datetime], list[Any]]
Writes = Callable[[Any, OrderModel], None]
# Before an unpaid order is cancelled, the payment provider's trade is closed so the buyer can no longer pay it
# (payments.service.close_trade, wired by the routes). False: the provider says it was paid first, and the
# payment has been applied instead; the cancel then finds a PAID order.
TradeCloser = Callable[[OrderModel], bool]


def auto_confirm_after() -> timedelta:
    days = config.env_int("MALL_ORDER_AUTO_CONFIRM_DAYS", DEFAULT_AUTO_CONFIRM_DAYS)
    if days < 1:
        raise config.ConfigError(f"MALL_ORDER_AUTO_CONFIRM_DAYS must be at least 1, got {days}")
    return timedelta(days=days)


# --- the moves ------------------------------------------------------------------------

def cancel_unpaid(order_id: str, reason: str, *, user_id: str | None = None,
                  close_trade: TradeCloser | None = None) -> OrderView:
    """PENDING_PAYMENT -> CANCELLED, the reserved stock back to available in the same transaction; with
    `close_trade`, only once the provider's trade is closed (an order paid meanwhile is 409, and PAID)."""
    return order_view(_change(order_id, statuses.CANCELLED, user_id=user_id, actions=_cancel_actions(reason),
                              writes=_release_order, before=close_trade))


def confirm_receipt(user_id: str, order_id: str) -> OrderView:
    """SHIPPED -> COMPLETED by the buyer."""
    return order_view(_change(order_id, statuses.COMPLETED, user_id=user_id, actions=_complete_actions))


def request_refund(user_id: str, order_id: str, reason: str) -> OrderView:
    """PAID, SHIPPED, or COMPLETED within MALL_REFUND_WINDOW_DAYS (after-sales) -> REFUND_REQUESTED; the
    merchant approves or rejects (payments)."""
    def actions(order: OrderModel, now: datetime) -> list[Any]:
        if order.status == statuses.COMPLETED and now > order.completed_at + config.refund_window():
            raise Conflict(f"order {order.order_id} completed more than {config.refund_window().days} days ago; "
                           "its refund window has closed", code="REFUND_WINDOW_CLOSED")
        ask = RefundRequest(reason=reason, requested_at=now, from_status=order.status)
        return [OrderModel.refund_request.set(ask)]

    return order_view(_change(order_id, statuses.REFUND_REQUESTED, user_id=user_id, actions=actions))


def ship(order_id: str, carrier: str, tracking_no: str, *, actor: str) -> OrderView:
    """PAID -> SHIPPED by staff; the buyer has MALL_ORDER_AUTO_CONFIRM_DAYS to confirm before it completes itself."""
    def actions(order: OrderModel, now: datetime) -> list[Any]:
        shipment = Shipment(carrier=carrier, tracking_no=tracking_no, shipped_at=now, shipped_by=actor)
        return [OrderModel.shipment.set(shipment)]

    return order_view(_change(order_id, statuses.SHIPPED, actions=actions, allowed_from={statuses.PAID}))


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
        _sell_stock(tx, order)
        if order.coupon is not None:
            _coupons().add_use(tx, order.user_id, order.coupon.coupon_id, order.order_id)
        if also is not None:
            also(tx, order)

    return metrics.count_if(_commit(order, statuses.PAID, actions, writes), "OrdersPaid", provider=provider)


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


# --- refunds (decided by the merchant, carried out by payments) -----------------------

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
                OrderModel.refund_request.decided_by.set(actor), _append_refunds([refund], now)]

    return _commit(order, statuses.REFUNDING, actions, also)


def retry_refunds(order: OrderModel, refunds: list[NewRefund], *, also: Writes | None = None) -> bool:
    """Record new refunds replacing failed ones; a REFUND_FAILED order goes back to REFUNDING (when one of them
    is the buyer's). False if the order changed since it was read."""
    now = clock.now()
    if order.status == statuses.REFUND_FAILED and any(refund.kind == BUYER_REFUND for refund in refunds):
        return _commit(order, statuses.REFUNDING, lambda order, now: [_append_refunds(refunds, now)], also)
    return _commit_changes(order, [_append_refunds(refunds, now), OrderModel.updated_at.set(now)], also)


def reject_refund(order_id: str, *, reason: str, actor: str) -> OrderView:
    """REFUND_REQUESTED -> the status the order had when the buyer asked (PAID or SHIPPED)."""
    def actions(order: OrderModel, now: datetime) -> list[Any]:
        return [OrderModel.refund_request.decision.set("REJECTED"), OrderModel.refund_request.decided_at.set(now),
                OrderModel.refund_request.decided_by.set(actor), OrderModel.refund_request.reject_reason.set(reason)]

    def attempt() -> OrderView | None:
        order = load_order(order_id)
        _require_allowed(order, statuses.REFUNDING, {statuses.REFUND_REQUESTED})  # 409 unless a request waits
        return order_view(load_order(order_id)) if _commit(order, order.refund_request.from_status, actions,
                                                           None) else None

    return until_committed(attempt, attempts=CHANGE_ATTEMPTS)


def record_refund(order: OrderModel, refund: NewRefund, *, also: Writes | None = None) -> bool:
    """Record a refund on an order whose status it does not change (a late payment on a cancelled order), with
    the caller's writes in the same transaction; False if the order changed since it was read."""
    now = clock.now()
    return _commit_changes(order, [_append_refunds([refund], now), OrderModel.updated_at.set(now)], also)


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
                _return_stock(tx, order)
            _return_coupon(tx, order)  # refunded in full: a still-valid coupon comes back (README: refunds)
            if also is not None:
                also(tx, order)

        return _commit(order, statuses.REFUNDED, lambda order, now: changes, writes)
    if buyers and status in REFUND_FAILURES and order.status == statuses.REFUNDING:
        return _commit(order, statuses.REFUND_FAILED, lambda order, now: changes, also)
    return _commit_changes(order, changes + [OrderModel.updated_at.set(now)], also)


def _append_refunds(refunds: list[NewRefund], now: datetime) -> Any:
    records = [RefundRecord(out_refund_no=refund.out_refund_no, amount=refund.amount, status="PROCESSING",
                            reason=refund.reason, kind=refund.kind, created_at=now, updated_at=now)
               for refund in refunds]
    return OrderModel.refunds.set(OrderModel.refunds.append(records))


# --- the scheduled sweep --------------------------------------------------------------

@dataclass
class SweepReport:
    expired: int = 0
    completed: int = 0
    lost_races: int = 0  # due orders another actor moved first (paid, cancelled, confirmed)


def sweep_due_orders(*, out_of_time: Callable[[], bool] = lambda: False,
                     close_trade: TradeCloser | None = None) -> SweepReport:
    """Cancel unpaid orders past their deadline and complete shipped ones past theirs.

    Reads only the sparse `due` index (never a scan). Safe to run twice at once:
    each move is conditioned on the status, so a second sweeper's move fails and
    is counted as a lost race. With `close_trade`, an unpaid order is cancelled only
    once its provider trade is closed; one the provider cannot close now waits for the next run.
    """
    report = SweepReport()
    now = clock.now()
    for kind, target, actions, writes in ((EXPIRE, statuses.CANCELLED, _cancel_actions(statuses.BY_TIMEOUT),
                                           _release_order),
                                          (CONFIRM, statuses.COMPLETED, _complete_actions, None)):
        for shard in range(SHARDS):
            _sweep_shard(f"{kind}#{shard}", now, target, actions, writes, report, out_of_time,
                         close_trade if kind == EXPIRE else None)
    return report


def _sweep_shard(due_shard: str, now: datetime, target: str, actions: Actions, writes: Writes | None,
                 report: SweepReport, out_of_time: Callable[[], bool], close_trade: TradeCloser | None) -> None:
    while not out_of_time():
        keys = [row.order_id for row in OrderModel.due.query(due_shard, range_key_condition=OrderModel.due_at <= now,
                                                             limit=SWEEP_PAGE)]
        if not keys:
            return
        moved = 0
        for order in batch_get(OrderModel, [(order_id,) for order_id in keys], consistent=True):
            if statuses.allowed(order.status, target) and order.due_at is not None and order.due_at <= now \
                    and _trade_closed(order, close_trade) and _commit(order, target, actions, writes):
                moved += 1
                report.expired += target == statuses.CANCELLED
                report.completed += target == statuses.COMPLETED
            else:
                report.lost_races += 1
        if moved == 0:
            return  # what is left in this page is being moved by someone else; the next run looks again


def close_provider_trade(order: OrderModel) -> bool:
    """The TradeCloser the routes and the sweeper use: payments' own function, imported only when a cancel needs it."""
    from chalicelib.payments.service import close_trade

    return close_trade(order)


def _trade_closed(order: OrderModel, close_trade: TradeCloser | None) -> bool:
    if close_trade is None:
        return True
    try:
        return close_trade(order)
    except Exception:  # noqa: BLE001 - the provider cannot say now; the order stays reserved until the next run
        log.warning("sweep: the trade of order %s could not be closed yet", order.order_id, exc_info=True)
        return False


# --- one move, read then committed ----------------------------------------------------

def _change(order_id: str, target: str, *, user_id: str | None = None, actions: Actions | None = None,
            writes: Writes | None = None, allowed_from: set[str] | None = None,
            before: TradeCloser | None = None) -> OrderModel:
    def attempt() -> OrderModel | None:
        order = load_order(order_id, user_id=user_id)
        _require_allowed(order, target, allowed_from)
        if before is not None and not before(order):
            order = load_order(order_id, user_id=user_id)  # paid meanwhile: now refused as such
            _require_allowed(order, target, allowed_from)
            return None
        return load_order(order_id) if _commit(order, target, actions, writes) else None

    return until_committed(attempt, attempts=CHANGE_ATTEMPTS)


def _require_allowed(order: OrderModel, target: str, allowed_from: set[str] | None) -> None:
    if statuses.allowed(order.status, target) and (allowed_from is None or order.status in allowed_from):
        return
    raise Conflict(f"order {order.order_id} is {order.status}; it cannot become {target}",
                   code="INVALID_ORDER_STATUS", details={"status": order.status, "wanted": target})


def _commit(order: OrderModel, target: str, actions: Actions | None, writes: Writes | None) -> bool:
    """Commit the move; False when the order's status changed since it was read."""
    now = clock.now()
    return _commit_changes(order, _status_actions(order, target, now) + (actions(order, now) if actions else []),
                           writes)


def _commit_changes(order: OrderModel, changes: list[Any], writes: Writes | None) -> bool:
    """Commit `changes` to the order as read, with the caller's `writes`; False when its status changed since.

    The change writes its own token: when its reply was lost and the SDK's resend failed the status
    condition (or a ledger marker's), the order carries that token, and the change is the commit it
    finds, not a lost race.
    """
    token = new_id()

    def build(tx: Any) -> None:
        tx.update(OrderModel(order.order_id), actions=changes + [OrderModel.last_change.set(token)],
                  condition=OrderModel.status == order.status)
        if writes is not None:
            writes(tx, order)

    return commit_if_conditions_hold(build, committed_already=lambda: _changed_by(order.order_id, token))


def _changed_by(order_id: str, token: str) -> bool:
    current = get_or_none(OrderModel, order_id)
    return current is not None and current.last_change == token


def _status_actions(order: OrderModel, target: str, now: datetime) -> list[Any]:
    shard = shard_of(order.order_id)
    changes = [OrderModel.status.set(target), OrderModel.buyer_status.set(f"{order.user_id}#{target}"),
               OrderModel.status_shard.set(f"{target}#{shard}"), OrderModel.updated_at.set(now),
               OrderModel.version.add(1)]
    if target == statuses.SHIPPED:  # the only deadline a move starts: completion without the buyer
        return changes + [OrderModel.due_shard.set(f"{CONFIRM}#{shard}"),
                          OrderModel.due_at.set(now + auto_confirm_after())]
    return changes + [OrderModel.due_shard.remove(), OrderModel.due_at.remove()]


def _cancel_actions(reason: str) -> Actions:
    def actions(order: OrderModel, now: datetime) -> list[Any]:
        return [OrderModel.cancel_reason.set(reason), OrderModel.cancelled_at.set(now)]
    return actions


def _complete_actions(order: OrderModel, now: datetime) -> list[Any]:
    return [OrderModel.completed_at.set(now)]


def _release_order(tx: Any, order: OrderModel) -> None:
    """What an unpaid order held comes back: its stock and its coupon (its points come back through the
    orders stream: members.effects)."""
    for line in order.lines:
        reservations.add_release(tx, line.sku_id, int(line.shard), int(line.quantity))
    _return_coupon(tx, order)
    if order.group_id is not None:  # a group-buy order's place goes back with its stock, whoever cancels it
        from chalicelib.checkout.group_orders import release_place

        release_place(tx, order)


def _return_coupon(tx: Any, order: OrderModel) -> None:
    if order.coupon is not None:
        _coupons().add_return(tx, order.user_id, order.coupon.coupon_id, order.coupon.valid_until)


def _coupons():
    """Marketing's coupon writes, imported by the first move of an order that used a coupon."""
    from chalicelib.marketing import redemption

    return redemption


def _sell_stock(tx: Any, order: OrderModel) -> None:
    for line in order.lines:
        reservations.add_sale(tx, line.sku_id, int(line.shard), int(line.quantity))


def _return_stock(tx: Any, order: OrderModel) -> None:
    for line in order.lines:
        reservations.add_return(tx, line.sku_id, int(line.shard), int(line.quantity))
