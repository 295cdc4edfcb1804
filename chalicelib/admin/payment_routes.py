"""Refund decisions and payment anomalies for staff."""
from __future__ import annotations

from pydantic import ConfigDict, Field, StrictStr

from chalicelib.admin.api import api
from chalicelib.core.auth import staff_may
from chalicelib.core.http import Context
from chalicelib.core.permissions import PAYMENTS_VIEW, REFUNDS_DECIDE
from chalicelib.core.schema import Schema

ORDER = "chalicelib.checkout.views:OrderView"
DECIDE_REFUNDS = staff_may(REFUNDS_DECIDE)  # an operator does not hold it unless an owner grants it


class RejectBody(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    reason: StrictStr = Field(min_length=1, max_length=200)


class Anomaly(Schema):
    anomaly_id: str
    # AMOUNT_MISMATCH, MERCHANT_MISMATCH, UNKNOWN_ORDER, UNKNOWN_REFUND, REFUND_CLOSED, REFUND_ABNORMAL,
    # REFUND_FAILED, REFUND_AMOUNT_MISMATCH, CURRENCY_MISMATCH, RECONCILE_GAVE_UP
    code: str
    order_id: str | None
    provider: str | None
    transaction_id: str | None
    amount: int | None
    detail: str | None
    at: str


class AnomalyList(Schema):
    items: list[Anomaly]


@api.route("/admin/orders/{order_id}/refund/approve", "POST", response=ORDER, auth=DECIDE_REFUNDS, errors=(404, 409),
           summary="approve the buyer's refund request: REFUNDING now, REFUNDED when the provider confirms")
def approve_refund(ctx: Context, order_id: str):
    from chalicelib.checkout.views import for_staff
    from chalicelib.payments import service

    actor = ctx.user_id
    return for_staff(service.approve_refund(order_id, actor=actor))


@api.route("/admin/orders/{order_id}/refund/reject", "POST", body=RejectBody, response=ORDER, auth=DECIDE_REFUNDS,
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


@api.route("/admin/payments/anomalies", "GET", response=AnomalyList, auth=staff_may(PAYMENTS_VIEW),
           summary="notifications that could not be applied (amount or merchant mismatch, unknown order), newest first")
def list_anomalies(ctx: Context):
    from chalicelib.payments import service

    return AnomalyList(items=service.anomalies())
