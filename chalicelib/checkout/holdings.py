"""What an order holds (stock or flash-sale units, a coupon, a group place), and the writes that move it.

Each is added to the transaction of the status move it belongs to (moves.py): a
payment sells the reserved stock and uses the coupon, a cancel releases both, a
refund of an order that never shipped returns its stock. The other features'
sides of these writes are theirs (catalog.reservations, marketing.redemption,
marketing.flash_stock, checkout.group_orders); marketing's are imported only by
the first move of an order that needs them.
"""
from __future__ import annotations

from typing import Any

from chalicelib.catalog import reservations
from chalicelib.checkout.models import OrderModel


def release_order(tx: Any, order: OrderModel) -> None:
    """What an unpaid order held comes back: its stock and its coupon (its points come back through the
    orders stream: members.effects)."""
    if order.flash_sale_id is not None:
        for line in order.lines:  # its units back to the sale's pool, the buyer's quota back to the buyer
            _flash().add_release(tx, order.flash_sale_id, int(line.shard), order.user_id, int(line.quantity))
    else:
        for line in order.lines:
            reservations.add_release(tx, line.sku_id, int(line.shard), int(line.quantity))
    return_coupon(tx, order)
    if order.group_id is not None:  # a group-buy order's place goes back with its stock, whoever cancels it
        from chalicelib.checkout.group_orders import release_place

        release_place(tx, order)


def use_coupon(tx: Any, order: OrderModel) -> None:
    """The order's coupon (if any), LOCKED by the order, becomes USED: the payment's transaction."""
    if order.coupon is not None:
        _coupons().add_use(tx, order.user_id, order.coupon.coupon_id, order.order_id)


def return_coupon(tx: Any, order: OrderModel) -> None:
    if order.coupon is not None:
        _coupons().add_return(tx, order.user_id, order.coupon.coupon_id, order.coupon.valid_until)


def sell_stock(tx: Any, order: OrderModel) -> None:
    for line in order.lines:
        if order.flash_sale_id is not None:
            _flash().add_sale(tx, order.flash_sale_id, int(line.shard), int(line.quantity))
        else:
            reservations.add_sale(tx, line.sku_id, int(line.shard), int(line.quantity))


def return_stock(tx: Any, order: OrderModel) -> None:
    for line in order.lines:
        if order.flash_sale_id is not None:  # to the pool; a closed pool sends it on to regular stock
            _flash().add_return(tx, order.flash_sale_id, int(line.shard), int(line.quantity))
        else:
            reservations.add_return(tx, line.sku_id, int(line.shard), int(line.quantity))


def _coupons():
    """Marketing's coupon writes, imported by the first move of an order that used a coupon."""
    from chalicelib.marketing import redemption

    return redemption


def _flash():
    """Marketing's flash-sale pool writes, imported by the first move of a flash-sale order."""
    from chalicelib.marketing import flash_stock

    return flash_stock
