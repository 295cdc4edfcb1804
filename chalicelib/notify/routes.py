"""notify's event handlers: the outbox derived from the orders stream, low-stock alerts from the
inventory stream, the outbox's own stream onto the send queue, and the sender on that queue.

Its HTTP routes live where their base paths do: `POST /me/subscriptions` in members,
the merchant's pages under `/admin` in admin (chalicelib/admin/notify_routes.py); both
call chalicelib.notify.service.
"""
from __future__ import annotations

from chalicelib.core import events
from chalicelib.core.http import Api

api = Api(__name__, tag="notify")

ORDERS_BATCH = 100
INVENTORY_BATCH = 100
OUTBOX_BATCH = 100
SEND_BATCH = 10  # SQS's most per receive; each message is one WeChat call


@api.blueprint.on_dynamodb_record(stream_arn=events.stream_arn("orders"), batch_size=ORDERS_BATCH,
                                  name="notify_order_events")
def notify_order_events(event) -> None:
    """Paid, shipped and refunded orders become outbox items (once each, however often delivered)."""
    from chalicelib.notify import outbox
    from chalicelib.notify.kinds import kinds_of

    outbox.derive(event, kinds_of("orders"))


@api.blueprint.on_dynamodb_record(stream_arn=events.stream_arn("inventory"), batch_size=INVENTORY_BATCH,
                                  name="notify_low_stock_watch")
def notify_low_stock_watch(event) -> None:
    """A SKU whose available stock crosses below its threshold raises one alert until it recovers."""
    from chalicelib.notify import lowstock

    lowstock.watch(event)


@api.blueprint.on_dynamodb_record(stream_arn=events.stream_arn("notifications"), batch_size=OUTBOX_BATCH,
                                  name="notify_outbox_relay")
def notify_outbox_relay(event) -> None:
    """Each new PENDING outbox item onto the send queue."""
    from chalicelib.notify import outbox

    outbox.relay(event)


@api.blueprint.on_sqs_message(queue=events.queue_name("notify-sends"), batch_size=SEND_BATCH, name="notify_sender")
def notify_sender(event) -> dict:
    """Send each named item through WeChat against a credit; transient failures come back (partial batch)."""
    from chalicelib.notify import sender

    failed = sender.send_batch(list(event))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
