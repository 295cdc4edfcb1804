"""segments' event handlers: the schedule that computes the segments (and watches the grants), and the grant
worker on its queue. The per-buyer facts come from the orders stream's one reader (checkout/order_stream.py),
through `facts.record_order_changes`.

Its HTTP routes live under /admin, in the admin function (chalicelib/admin/segment_routes.py): this
function serves no URL of its own.
"""
from __future__ import annotations

import logging

from chalice import Rate

from chalicelib.core import events
from chalicelib.core.http import Api

api = Api(__name__, tag="segments")
log = logging.getLogger("micromall.segments")

GRANTS_QUEUE = "segments-grants"  # segments.queue.GRANTS_QUEUE (not imported: the cold start stays small)


@api.blueprint.schedule(Rate(10, unit=Rate.MINUTES), name="segments_schedule")
def segments_schedule(event) -> None:
    """Recompute the segments when due (MALL_SEGMENTS_REFRESH_MINUTES, or the thresholds changed); queue again
    the next page of any grant that stopped moving."""
    from chalicelib.segments import grants, refresh

    kicked = grants.rekick_stalled()
    report = refresh.refresh_if_due()
    log.info("segments schedule: %s; %d stalled grant(s) queued again", report or "not due", kicked)


@api.blueprint.on_sqs_message(queue=events.queue_name(GRANTS_QUEUE), batch_size=1, name="segments_grant_worker")
def segments_grant_worker(event) -> dict:
    """Walk one page of a segment's coupon grant; a page that fails comes back and gives nothing twice."""
    from chalicelib.segments import grants, queue

    failed = []
    for record in event:
        message = record.to_dict()
        try:
            grant_id, page = queue.page_of(message["body"])
        except ValueError:
            log.error("grant message %s is not one the mall wrote; dropped", message["messageId"])
            continue
        receives = int(message.get("attributes", {}).get("ApproximateReceiveCount", 1))
        try:
            outcome = grants.work(grant_id, page, receives)
            log.info("grant %s page %d: %s", grant_id, page, outcome)
        except Exception:  # noqa: BLE001 - the message comes back (then the queue's dead-letter queue)
            log.exception("grant %s page %d failed on delivery %d", grant_id, page, receives)
            failed.append(message["messageId"])
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
