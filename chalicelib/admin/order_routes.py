"""Orders console for staff: list and view orders, ship paid ones, cancel unpaid ones.

Handlers re-check the staff account behind the token (as every console route
does) and record who shipped.
"""
from __future__ import annotations

from chalicelib.admin.api import api
from chalicelib.admin.service import require_active_staff
from chalicelib.checkout import lifecycle, listing, orders, statuses
from chalicelib.core.auth import STAFF
from chalicelib.core.http import Context

ORDER = "chalicelib.checkout.views:OrderView"


@api.route("/admin/orders", "GET", query="chalicelib.checkout.inputs:OrderQuery",
           response="chalicelib.checkout.views:OrderPage", auth=STAFF,
           summary="orders, newest first, optionally of one status")
def list_orders(ctx: Context):
    require_active_staff(ctx.user_id)
    return listing.merchant_orders(ctx.query.status, ctx.query.cursor, ctx.query.limit)


@api.route("/admin/orders/{order_id}", "GET", response=ORDER, auth=STAFF, errors=(404,), summary="one order")
def get_order(ctx: Context, order_id: str):
    require_active_staff(ctx.user_id)
    return orders.get_order(None, order_id)


@api.route("/admin/orders/{order_id}/ship", "POST", body="chalicelib.checkout.inputs:ShipmentInput", response=ORDER,
           auth=STAFF, errors=(404, 409), summary="PAID -> SHIPPED with the carrier and tracking number")
def ship_order(ctx: Context, order_id: str):
    actor = require_active_staff(ctx.user_id).username
    return lifecycle.ship(order_id, ctx.body.carrier, ctx.body.tracking_no, actor=actor)


@api.route("/admin/orders/{order_id}/cancel", "POST", response=ORDER, auth=STAFF, errors=(404, 409),
           summary="cancel an unpaid order (cancel_reason ADMIN); its stock is released")
def cancel_order(ctx: Context, order_id: str):
    require_active_staff(ctx.user_id)
    return lifecycle.cancel_unpaid(order_id, statuses.BY_ADMIN, close_trade=lifecycle.close_provider_trade)
