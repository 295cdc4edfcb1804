"""Refund decisions and payment anomalies for staff."""
from __future__ import annotations

from chalicelib.admin.api import api
from chalicelib.core.auth import staff_may
from chalicelib.core.http import Context
from chalicelib.core.permissions import PAYMENTS_VIEW, REFUNDS_DECIDE

ORDER = "chalicelib.checkout.views:OrderView"
INPUTS = "chalicelib.admin.inputs:"  # models by name: a cold start loads what its first request uses
DECIDE_REFUNDS = staff_may(REFUNDS_DECIDE)  # an operator does not hold it unless an owner grants it


@api.route("/admin/orders/{order_id}/refund/approve", "POST", response=ORDER, auth=DECIDE_REFUNDS, errors=(404, 409),
           summary="approve the buyer's refund request: REFUNDING now, REFUNDED when the provider confirms")
def approve_refund(ctx: Context, order_id: str):
    from chalicelib.checkout.views import for_staff
    from chalicelib.payments import service

    actor = ctx.user_id
    return for_staff(service.approve_refund(order_id, actor=actor))


@api.route("/admin/orders/{order_id}/refund/reject", "POST", body=INPUTS + "RejectBody", response=ORDER, auth=DECIDE_REFUNDS,
           errors=(404, 409), summary="reject the buyer's refund request: the order returns to PAID or SHIPPED")
def reject_refund(ctx: Context, order_id: str):
    from chalicelib.checkout.views import for_staff
    from chalicelib.payments import service

    actor = ctx.user_id
    return for_staff(service.reject_refund(order_id, reason=ctx.body.reason, actor=actor))


@api.route("/admin/orders/{order_id}/refund/retry", "POST", response=ORDER, auth=DECIDE_REFUNDS, errors=(404, 409),
           summary="a REFUND_FAILED order (or one whose returned payment failed): submit the failed refunds again "
                   "under new refund numbers")
def retry_refund(ctx: Context, order_id: str):
    from chalicelib.checkout.views import for_staff
    from chalicelib.payments import service

    actor = ctx.user_id
    return for_staff(service.retry_refund(order_id, actor=actor))


@api.route("/admin/payments/anomalies", "GET", response=INPUTS + "AnomalyList", auth=staff_may(PAYMENTS_VIEW),
           summary="notifications that could not be applied (amount or merchant mismatch, unknown order), newest first")
def list_anomalies(ctx: Context):
    from chalicelib.admin.inputs import AnomalyList
    from chalicelib.payments import service

    return AnomalyList(items=service.anomalies())
