"""checkout routes: a buyer's orders (keyed by the token's user id), and the scheduled sweeper."""
from __future__ import annotations

import logging

from chalice import Rate

from chalicelib.core import events, limits
from chalicelib.core.auth import BUYER
from chalicelib.core.http import IDEMPOTENCY_KEY, Api, Context
from chalicelib.core.limits import FLASH_ORDER, ORDER_SUBMIT, REFUND_REQUEST

api = Api(__name__, tag="checkout")
log = logging.getLogger("micromall.checkout")

SUBMISSION = "chalicelib.checkout.inputs:OrderSubmission"
ORDER = "chalicelib.checkout.views:OrderView"
# Leave this much of the sweeper's Lambda time unused, so a run never ends mid-transaction.
SWEEP_SAFETY_MILLIS = 5_000
ORDER_STREAM_BATCH = 45  # order changes per stream batch: their sales markers and counters fit one transaction


@api.route("/orders/preview", "POST", body=SUBMISSION, response="chalicelib.checkout.views:OrderPreview",
           auth=BUYER, errors=(404, 409, 422), summary="price an order without creating it (nothing reserved)")
def preview_order(ctx: Context):
    from chalicelib.checkout import service

    return service.preview_order(ctx.user_id, ctx.body)


@api.route("/orders", "POST", body=SUBMISSION, response=ORDER, status=201, auth=BUYER, errors=(404, 409, 422, 503),
           headers=(IDEMPOTENCY_KEY,), limit=ORDER_SUBMIT,
           summary="place an order (header Idempotency-Key required): stock is reserved until it is paid or expires")
def submit_order(ctx: Context):
    from chalicelib.checkout import service

    if ctx.body.flash_sale_id is not None:
        limits.enforce_for(ctx, FLASH_ORDER)  # 429 + Retry-After: admission to the sale
    return service.submit_order(ctx.user_id, ctx.body, ctx.headers.get("idempotency-key"))


@api.route("/orders", "GET", query="chalicelib.checkout.inputs:OrderQuery",
           response="chalicelib.checkout.views:OrderPage", auth=BUYER, summary="the buyer's orders, newest first")
def list_orders(ctx: Context):
    from chalicelib.checkout import listing

    return listing.buyer_orders(ctx.user_id, ctx.query.status, ctx.query.cursor, ctx.query.limit)


@api.route("/orders/{order_id}", "GET", response=ORDER, auth=BUYER, errors=(404,), summary="one of the buyer's orders")
def get_order(ctx: Context, order_id: str):
    from chalicelib.checkout import orders

    return orders.get_order(ctx.user_id, order_id)


@api.route("/orders/{order_id}/cancel", "POST", response=ORDER, auth=BUYER, errors=(404, 409),
           summary="cancel an unpaid order: its provider trade is closed first, then its stock is released")
def cancel_order(ctx: Context, order_id: str):
    from chalicelib.checkout import lifecycle, statuses

    return lifecycle.cancel_unpaid(order_id, statuses.BY_BUYER, user_id=ctx.user_id,
                                   close_trade=lifecycle.close_provider_trade)


@api.route("/orders/{order_id}/confirm", "POST", response=ORDER, auth=BUYER, errors=(404, 409),
           summary="confirm receipt of a shipped order")
def confirm_order(ctx: Context, order_id: str):
    from chalicelib.checkout import lifecycle

    return lifecycle.confirm_receipt(ctx.user_id, order_id)


@api.route("/orders/{order_id}/refund", "POST", body="chalicelib.checkout.inputs:RefundAsk", response=ORDER,
           auth=BUYER, errors=(404, 409), limit=REFUND_REQUEST, summary="ask for a refund of a paid or shipped order")
def request_refund(ctx: Context, order_id: str):
    from chalicelib.checkout import lifecycle

    return lifecycle.request_refund(ctx.user_id, order_id, ctx.body.reason)


@api.blueprint.schedule(Rate(1, unit=Rate.MINUTES), name="checkout_sweeper")
def checkout_sweeper(event) -> None:
    """Unpaid orders past MALL_ORDER_PAYMENT_TIMEOUT are cancelled; shipped ones past the confirm window complete."""
    context = getattr(event, "context", None)

    def out_of_time() -> bool:
        return context is not None and context.get_remaining_time_in_millis() < SWEEP_SAFETY_MILLIS

    from chalicelib.checkout import lifecycle, sweeper

    report = sweeper.sweep_due_orders(out_of_time=out_of_time, close_trade=lifecycle.close_provider_trade)
    log.info("sweep: %d expired, %d completed, %d moved by someone else first",
             report.expired, report.completed, report.lost_races)


@api.blueprint.on_dynamodb_record(stream_arn=events.stream_arn("orders"), batch_size=ORDER_STREAM_BATCH,
                                  name="checkout_order_stream")
def checkout_order_stream(event) -> None:
    """The orders stream's one reader: sales counters, members' growth and points, notifications
    (checkout/order_stream.py; each effect once, however often delivered)."""
    from chalicelib.checkout.order_stream import deliver

    log.info("orders stream: %s", deliver(event))
