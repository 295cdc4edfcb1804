"""Reading one order: what every other part of checkout, admin and payments starts from.

Kept apart from service.py (submit), so that a function that only moves or
shows orders (admin, payments) does not import the cart and members features.
"""
from __future__ import annotations

from chalicelib.checkout.models import OrderModel
from chalicelib.checkout.views import AddressView, OrderView, address_view, for_staff, order_view
from chalicelib.core.db import get_or_none
from chalicelib.core.errors import NotFound
from chalicelib.core.ids import looks_like_id, require_id


def load_order(order_id: str, *, user_id: str | None = None) -> OrderModel:
    """The order, consistently read; a buyer (`user_id`) sees only their own: anyone else's is 404."""
    require_id(order_id, "ORDER")
    order = get_or_none(OrderModel, order_id)
    if order is None or (user_id is not None and order.user_id != user_id):
        raise NotFound("order not found", code="ORDER_NOT_FOUND")
    return order


def find_order(order_id: str) -> OrderModel | None:
    """The order, or None for an id that names no order (payment notifications may carry anything)."""
    return get_or_none(OrderModel, order_id) if looks_like_id(order_id) else None


def get_order(user_id: str | None, order_id: str) -> OrderView:
    return order_view(load_order(order_id, user_id=user_id))


def get_order_for_staff(order_id: str) -> OrderView:
    """The order as staff see it: the buyer's address masked."""
    return for_staff(order_view(load_order(order_id)))


def shipping_address(order_id: str) -> AddressView:
    """The full address an order ships to, for whoever ships it (the caller logs who asked, never the address)."""
    return address_view(load_order(order_id).address)
