"""Orders console for staff: list and view orders, ship paid ones, cancel unpaid ones.

The HTTP edge admits each request (account, session, permission `orders.view`,
`orders.ship` or `orders.cancel`) before a handler runs; shipping records who shipped.
Staff see buyers' names, phones and street lines masked; the full address of one order is
given to whoever may ship it, and each such read is logged (who, which order; never the address).
"""
from __future__ import annotations

import logging

from chalicelib.admin.api import api
from chalicelib.core.auth import staff_may
from chalicelib.core.http import Context
from chalicelib.core.permissions import ORDERS_CANCEL, ORDERS_SHIP, ORDERS_VIEW

ORDER = "chalicelib.checkout.views:OrderView"
log = logging.getLogger("micromall.admin")


@api.route("/admin/orders", "GET", query="chalicelib.checkout.inputs:OrderQuery",
           response="chalicelib.checkout.views:OrderPage", auth=staff_may(ORDERS_VIEW),
           summary="orders, newest first, optionally of one status")
def list_orders(ctx: Context):
    from chalicelib.checkout import listing
    from chalicelib.checkout.views import for_staff

    return for_staff(listing.merchant_orders(ctx.query.status, ctx.query.cursor, ctx.query.limit))


@api.route("/admin/orders/{order_id}", "GET", response=ORDER, auth=staff_may(ORDERS_VIEW), errors=(404,),
           summary="one order")
def get_order(ctx: Context, order_id: str):
    from chalicelib.checkout import orders

    return orders.get_order_for_staff(order_id)


@api.route("/admin/orders/{order_id}/address", "GET", response="chalicelib.checkout.views:AddressView",
           auth=staff_may(ORDERS_SHIP), errors=(404,),
           summary="the full shipping address of one order, for the label (orders.ship; each read is logged)")
def shipping_address(ctx: Context, order_id: str):
    from chalicelib.checkout import orders

    address = orders.shipping_address(order_id)
    log.info("shipping address revealed")  # the staff and order_id keys name who and which
    return address


@api.route("/admin/orders/{order_id}/ship", "POST", body="chalicelib.checkout.inputs:ShipmentInput", response=ORDER,
           auth=staff_may(ORDERS_SHIP), errors=(404, 409), summary="PAID -> SHIPPED with the carrier and tracking number")
def ship_order(ctx: Context, order_id: str):
    from chalicelib.checkout import lifecycle
    from chalicelib.checkout.views import for_staff

    actor = ctx.user_id
    return for_staff(lifecycle.ship(order_id, ctx.body.carrier, ctx.body.tracking_no, actor=actor))


@api.route("/admin/orders/{order_id}/cancel", "POST", response=ORDER, auth=staff_may(ORDERS_CANCEL), errors=(404, 409),
           summary="cancel an unpaid order (cancel_reason ADMIN); its stock is released")
def cancel_order(ctx: Context, order_id: str):
    from chalicelib.checkout import lifecycle, statuses
    from chalicelib.checkout.views import for_staff

    return for_staff(lifecycle.cancel_unpaid(order_id, statuses.BY_ADMIN, close_trade=lifecycle.close_provider_trade))
