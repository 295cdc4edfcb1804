"""Group-buy orders: what checkout does for an order that belongs to a group.

Groupbuy decides the rules of a group; checkout still owns the order, so every
move of a group order is a move (moves.py: one transaction, conditioned on the
status read) that carries groupbuy's own writes:

- created by groupbuy's transaction (`add_group_order`: the stock reservation and
  the order), at the group's price, with `group_id`;
- paid into AWAITING_GROUP while its group is incomplete, or straight to PAID by the
  payment that completes it (`pay_group_order`); a payment its group cannot take
  raises `PaymentCannotCount` and payments returns the money;
- cancelled unpaid (its own timeout, the buyer, its group's failure): the place is
  given back in the cancel's transaction (`release_place`, called by holdings.release_order);
- AWAITING_GROUP -> PAID when its group succeeds (`complete_group_order`), or
  AWAITING_GROUP -> REFUNDING with the buyer's refund when it fails (`refund_group_order`).

The group's side of each write is groupbuy's (`chalicelib.groupbuy.hooks`), imported
only when a group order moves, so ordinary checkout never loads it.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.catalog import reservations
from chalicelib.catalog.models import MAIN_SHARD
from chalicelib.catalog.reads import SkuCard
from chalicelib.checkout import statuses
from chalicelib.checkout.holdings import sell_stock
from chalicelib.checkout.models import OrderLine, OrderModel, PaymentRecord, RefundRequest, ShippingAddress, shard_of
from chalicelib.checkout.moves import Writes, commit
from chalicelib.checkout.order_refunds import NewRefund, append_refunds
from chalicelib.checkout.orders import load_order
from chalicelib.checkout.pricing import free_shipping_threshold, shipping_fee
from chalicelib.core import clock, config, metrics
from chalicelib.core.ids import new_id

DEFAULT_GROUP_PAYMENT_TIMEOUT = 300  # seconds: a held place is scarce, so an unpaid holder lets it go sooner
GROUP_FAILED_REASON = "GROUP_FAILED"
GROUPBUY_ACTOR = "groupbuy"


class PaymentCannotCount(Exception):
    """A payment for a group order whose group cannot take it (failed, expired, complete): payments returns it."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


def group_payment_timeout() -> timedelta:
    seconds = config.env_int("MALL_GROUPBUY_PAYMENT_TIMEOUT", DEFAULT_GROUP_PAYMENT_TIMEOUT)
    if seconds < 1:
        raise config.ConfigError(f"MALL_GROUPBUY_PAYMENT_TIMEOUT must be positive, got {seconds}")
    return timedelta(seconds=seconds)


# --- creating ---------------------------------------------------------------------------

def new_group_order(user_id: str, *, card: SkuCard, price: int, group_id: str,
                    address: ShippingAddress) -> OrderModel:
    """One unit of the campaign's SKU at the group's price, unpaid: the shop's shipping rule applies, no coupon."""
    now = clock.now()
    order_id = new_id()
    shard = shard_of(order_id)
    fee = 0 if price >= free_shipping_threshold() else shipping_fee()
    expires_at = now + group_payment_timeout()
    line = OrderLine(sku_id=card.sku_id, shard=MAIN_SHARD, product_id=card.product_id, title=card.title,
                     specs=dict(card.specs), image=card.image, price=price, quantity=1, line_total=price)
    return OrderModel(
        order_id, user_id=user_id, status=statuses.PENDING_PAYMENT, lines=[line], items_total=price,
        discount_total=0, shipping_fee=fee, payable=price + fee, address=address, note="", created_at=now,
        updated_at=now, expires_at=expires_at, refunds=[], group_id=group_id,
        buyer_status=f"{user_id}#{statuses.PENDING_PAYMENT}", status_shard=f"{statuses.PENDING_PAYMENT}#{shard}",
        listing_shard=f"ALL#{shard}", due_shard=f"EXPIRE#{shard}", due_at=expires_at)


def add_group_order(tx: Any, order: OrderModel, regular_price: int) -> None:
    """The order and its unit reserved from the SKU's regular stock (conditioned on the regular price read, so
    a price edit meanwhile makes groupbuy read again), added to groupbuy's transaction."""
    line = order.lines[0]
    reservations.add_reservation(tx, line.sku_id, MAIN_SHARD, 1, regular_price)
    tx.save(order, condition=OrderModel.order_id.does_not_exist())


def shipping_address(address: Any) -> ShippingAddress:
    return ShippingAddress(address_id=address.address_id, name=address.name, phone=address.phone,
                           province=address.province, city=address.city, district=address.district,
                           detail=address.detail)


# --- paying -----------------------------------------------------------------------------

def pay_group_order(order: OrderModel, *, provider: str, transaction_id: str, amount: int, paid_at: datetime,
                    also: Writes | None = None) -> bool:
    """PENDING_PAYMENT -> AWAITING_GROUP (or PAID when this payment completes the group), the unit sold and the
    group's writes (place paid, group opened or completed) in the same transaction. False when the order or the
    group changed since read; PaymentCannotCount when the group cannot take the payment."""
    from chalicelib.groupbuy import hooks

    decision = hooks.payment(order, paid_at)

    def actions(order: OrderModel, now: datetime) -> list[Any]:
        record = PaymentRecord(provider=provider, transaction_id=transaction_id, paid_at=paid_at, amount=amount)
        return [OrderModel.payment.set(record), OrderModel.paid_at.set(paid_at)]

    def writes(tx: Any, order: OrderModel) -> None:
        sell_stock(tx, order)
        decision.writes(tx)
        if also is not None:
            also(tx, order)

    return metrics.count_if(commit(order, decision.target, actions, writes), "OrdersPaid", provider=provider)


# --- the group's outcome ----------------------------------------------------------------

def release_place(tx: Any, order: OrderModel) -> None:
    """An unpaid group order is being cancelled: its place, campaign unit and buyer quota go back."""
    from chalicelib.groupbuy import hooks

    hooks.release(tx, order)


def complete_group_order(order_id: str) -> bool:
    """AWAITING_GROUP -> PAID (shippable): its group succeeded. False when it is not waiting (moved already)."""
    order = load_order(order_id)
    if order.status != statuses.AWAITING_GROUP:
        return False
    return commit(order, statuses.PAID, None, None) or load_order(order_id).status != statuses.AWAITING_GROUP


def refund_group_order(order: OrderModel, refund: NewRefund, *, also: Writes | None = None) -> bool:
    """AWAITING_GROUP -> REFUNDING with the buyer's refund recorded (approved by the group's failure), the campaign
    unit and quota back; payments' `also` adds its ledger entry. False when the order changed since read."""
    if order.status != statuses.AWAITING_GROUP:
        return False
    from chalicelib.groupbuy import hooks

    def actions(order: OrderModel, now: datetime) -> list[Any]:
        ask = RefundRequest(reason=GROUP_FAILED_REASON, requested_at=now, from_status=statuses.AWAITING_GROUP,
                            decision="APPROVED", decided_at=now, decided_by=GROUPBUY_ACTOR)
        return [OrderModel.refund_request.set(ask), append_refunds([refund], now)]

    def writes(tx: Any, order: OrderModel) -> None:
        hooks.refunded(tx, order)
        if also is not None:
            also(tx, order)

    return commit(order, statuses.REFUNDING, actions, writes)
