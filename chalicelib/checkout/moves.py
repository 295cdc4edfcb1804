"""One order move, read then committed: what every status change of an order is built from.

A move reads the order, checks the table of allowed moves (statuses.py), then
commits an update on condition that the status is still the one it read,
together with the writes that belong to the move (holdings.py: a cancel releases
the reservation, a payment turns it into a sale). Two moves racing on one order
cannot both commit: the loser's condition fails, it re-reads, and it either
finds its move no longer allowed (409) or tries again from the new status. That
is what makes a release happen exactly once when the sweeper, the buyer and a
payment all race for the same unpaid order.

The moves themselves: lifecycle.py (buyer, staff, payment), order_refunds.py
(refunds), sweeper.py (deadlines), group_orders.py (group-buy orders).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.checkout import statuses
from chalicelib.checkout.models import OrderModel, shard_of
from chalicelib.checkout.orders import load_order
from chalicelib.core import clock, config
from chalicelib.core.db import commit_if_conditions_hold, get_or_none, until_committed
from chalicelib.core.errors import Conflict
from chalicelib.core.ids import new_id

CHANGE_ATTEMPTS = 5
DEFAULT_AUTO_CONFIRM_DAYS = 7
# The two deadlines an order can wait on in the sparse `due` index: payment (EXPIRE) and receipt (CONFIRM).
EXPIRE, CONFIRM = "EXPIRE", "CONFIRM"

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


def change(order_id: str, target: str, *, user_id: str | None = None, actions: Actions | None = None,
           writes: Writes | None = None, allowed_from: set[str] | None = None,
           before: TradeCloser | None = None) -> OrderModel:
    """Read the order, move it to `target` (409 when that move is not allowed now), re-reading after a lost race;
    the order as committed."""
    def attempt() -> OrderModel | None:
        order = load_order(order_id, user_id=user_id)
        require_allowed(order, target, allowed_from)
        if before is not None and not before(order):
            order = load_order(order_id, user_id=user_id)  # paid meanwhile: now refused as such
            require_allowed(order, target, allowed_from)
            return None
        return load_order(order_id) if commit(order, target, actions, writes) else None

    return until_committed(attempt, attempts=CHANGE_ATTEMPTS)


def require_allowed(order: OrderModel, target: str, allowed_from: set[str] | None) -> None:
    if statuses.allowed(order.status, target) and (allowed_from is None or order.status in allowed_from):
        return
    raise Conflict(f"order {order.order_id} is {order.status}; it cannot become {target}",
                   code="INVALID_ORDER_STATUS", details={"status": order.status, "wanted": target})


def commit(order: OrderModel, target: str, actions: Actions | None, writes: Writes | None) -> bool:
    """Commit the move; False when the order's status changed since it was read."""
    now = clock.now()
    return commit_changes(order, _status_actions(order, target, now) + (actions(order, now) if actions else []),
                          writes)


def commit_changes(order: OrderModel, changes: list[Any], writes: Writes | None) -> bool:
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


def cancel_actions(reason: str) -> Actions:
    def actions(order: OrderModel, now: datetime) -> list[Any]:
        return [OrderModel.cancel_reason.set(reason), OrderModel.cancelled_at.set(now)]
    return actions


def complete_actions(order: OrderModel, now: datetime) -> list[Any]:
    return [OrderModel.completed_at.set(now)]
