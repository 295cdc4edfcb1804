"""analytics: `POST /track` from the storefront, and the handlers that keep the dashboard's counters.

The counters are fed by three sources, each counted once per business fact (chalicelib/analytics/counters.py):
the tracking queue (`analytics_tracker`), the carts stream (`analytics_cart_adds`) and the orders stream, whose
one reader is checkout's (chalicelib/checkout/order_stream.py, subscriber `analytics.orders`). The dashboard
itself is served by the admin function (`GET /admin/dashboard`, chalicelib/admin/analytics_routes.py), and so
is the owner's backfill, whose pages `analytics_backfill_worker` counts (chalicelib/analytics/backfill.py).
"""
from __future__ import annotations

import logging

from chalicelib.core import events
from chalicelib.core.http import Api, Context, Header
from chalicelib.core.limits import TRACK

api = Api(__name__, tag="analytics")
log = logging.getLogger("micromall.analytics")

INPUTS, VIEWS = "chalicelib.analytics.inputs:", "chalicelib.analytics.views:"
VISITOR = Header("X-Device-Id", "the storefront's device id (1-64 of [0-9A-Za-z_.:-]); required without a buyer "
                                "token, which otherwise names the visitor; calls are rate-limited per device and IP")
TRACK_BATCH = 100  # messages per invocation (a batching window lets SQS hand over more than 10)
TRACK_WINDOW_SECONDS = 5  # counters lag the storefront by at most about this
TRACK_CONCURRENCY = 4  # pollers at most: every batch adds to the same day's rows
CART_BATCH = 100


@api.route("/track", "POST", body=INPUTS + "TrackBody", response=VIEWS + "TrackAccepted", status=202,
           errors=(400, 401, 403), headers=(VISITOR,), limit=TRACK,
           summary="the storefront's views, searches and shares (at most 50 a call; calls are limited per device "
                   "and IP), from a buyer token or X-Device-Id")
def track(ctx: Context) -> dict:
    from chalicelib.analytics import tracking

    user_id, device_id = tracking.visitor_of(ctx.headers)
    return tracking.accept([event.model_dump() for event in ctx.body.events], user_id=user_id, device_id=device_id)


@api.blueprint.on_sqs_message(queue=events.queue_name("analytics-events"), batch_size=TRACK_BATCH,
                              maximum_batching_window_in_seconds=TRACK_WINDOW_SECONDS,
                              maximum_concurrency=TRACK_CONCURRENCY, name="analytics_tracker")
def analytics_tracker(event) -> dict:
    """Counts each tracking request once and writes its events raw; unreadable or failing messages come back."""
    from chalicelib.analytics import tracking

    failed = tracking.consume((message.to_dict()["messageId"], message.body) for message in event)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


@api.blueprint.on_dynamodb_record(stream_arn=events.stream_arn("carts"), batch_size=CART_BATCH,
                                  name="analytics_cart_adds")
def analytics_cart_adds(event) -> None:
    """Each add to a cart, counted once: the day's cart adds, the product's, its buyer a cart adder."""
    from chalicelib.analytics import carts

    carts.count_cart_adds(event)


@api.blueprint.on_sqs_message(queue=events.queue_name("analytics-backfill"), batch_size=1,
                              name="analytics_backfill_worker")
def analytics_backfill_worker(event) -> dict:
    """Counts one page of an owner's backfill; a page that fails comes back and counts nothing twice."""
    from chalicelib.analytics import backfill

    failed = []
    for record in event:
        message = record.to_dict()
        try:
            job_id, page = backfill.page_of(message["body"])
        except ValueError:
            log.error("backfill message %s is not one the mall wrote; dropped", message["messageId"])
            continue
        try:
            backfill.work(job_id, page)
        except Exception:  # noqa: BLE001 - the message comes back (then the queue's dead-letter queue)
            log.exception("backfill %s page %d failed", job_id, page)
            failed.append(message["messageId"])
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
