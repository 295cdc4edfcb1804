"""The outbox: notifications derived from the source tables' streams, exactly once, then queued for sending.

Why derived from the stream and not written in the order's own transaction: the
order's transactions belong to checkout and payments (and carry up to 100 actions
in a flash sale); a notification written beside them would add an item, a template
read and a cross-feature write to every one of them. The stream carries every
committed status change at least once and in order per order; the item's key is
(kind, the event's identity, recipient) and it is written with
`attribute_not_exists`, so a redelivered record finds it there and writes nothing.
Nothing that committed is missed (the trigger retries, then dead-letters to a queue
`python -m infra redrive` replays) and nothing is written twice.

The outbox's own stream then puts each new PENDING item on the send queue (`relay`):
whoever wrote the item (the orders handler, the low-stock watcher), the queue message
follows at least once, and the sender makes a second message harmless.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from chalicelib.core import clock, config, db, events, ids, metrics
from chalicelib.core.events import image
from chalicelib.notify.kinds import Kind
from chalicelib.notify.models import BUYER, PENDING, NotificationModel, shard_of
from chalicelib.notify.templates import TemplateCache

log = logging.getLogger("micromall.notify")

SEND_QUEUE = "notify-sends"
SQS_BATCH = 10  # messages per SendMessageBatch


def event_key(kind: str, occurrence: str, user_id: str) -> str:
    return f"{kind}#{occurrence}#{user_id}"


def plan(kind: Kind, occurrence: str, values: dict[str, Any], templates: TemplateCache, *,
         buyers: list[str] | None = None, order_id: str | None = None,
         sku_id: str | None = None) -> list[NotificationModel]:
    """The outbox items of one event: one per recipient; none when the merchant has no template for the kind."""
    template = templates.get(kind.name)
    if template is None:
        return []
    recipients = buyers if kind.audience == BUYER else list(template.recipients)
    data = template.render(values)
    now = clock.now()
    items = []
    for user_id in dict.fromkeys(recipients or ()):
        notification_id = ids.new_id()
        items.append(NotificationModel(
            event_key(kind.name, occurrence, user_id), notification_id=notification_id, kind=kind.name,
            recipient_kind=kind.audience, user_id=user_id, order_id=order_id, sku_id=sku_id,
            template_id=template.template_id, page=template.page, data=data, status=PENDING,
            created_at=now, updated_at=now, listing_shard=f"ALL#{shard_of(notification_id)}"))
    return items


def add_to(tx: Any, items: Iterable[NotificationModel]) -> None:
    """Add the items' conditional puts to a transaction (the low-stock alert writes them with its state)."""
    for item in items:
        tx.save(item, condition=NotificationModel.event_key.does_not_exist())


def write(items: Iterable[NotificationModel]) -> int:
    """Put each item unless its event and recipient have one already; returns the items new here."""
    written = 0
    for item in items:
        try:
            item.save(condition=NotificationModel.event_key.does_not_exist())
            written += 1
        except Exception as exc:
            if not db.condition_failed(exc):
                raise
            log.info("notification %s was derived before", item.event_key)
    return written


def derive(records: Iterable[Any], kinds: list[Kind]) -> int:
    """The notifications a batch of source stream records announce; returns those written now."""
    templates = TemplateCache()
    written = 0
    for record in records:
        old, new = image(record, "old") or {}, image(record, "new")
        if new is None:
            continue
        for kind in kinds:
            if kind.happened is None or kind.occurrence is None or not kind.happened(old, new):
                continue
            items = plan(kind, kind.occurrence(new), kind.values(new), templates, buyers=kind.buyers(new),
                         order_id=new.get("order_id"))
            new_here = write(items)
            if new_here:
                metrics.count("NotificationsCreated", new_here, kind=kind.name)
            written += new_here
    return written


# --- the queue ------------------------------------------------------------------

_queue_url: dict[tuple[str | None, str], str] = {}


def sqs():
    import boto3

    return boto3.client("sqs", endpoint_url=config.dynamodb_endpoint(), region_name=config.region())


def queue_url(client: Any) -> str:
    key = (config.dynamodb_endpoint(), events.queue_name(SEND_QUEUE))  # per endpoint: tests switch between two
    if key not in _queue_url:
        _queue_url[key] = client.get_queue_url(QueueName=key[1])["QueueUrl"]
    return _queue_url[key]


def relay(records: Iterable[Any]) -> int:
    """New PENDING items of the outbox's stream onto the send queue; raises if SQS refused any (retried)."""
    keys = []
    for record in records:
        new = image(record, "new")
        if record.event_name == "INSERT" and new is not None and new.get("status") == PENDING:
            keys.append(new["event_key"])
    if not keys:
        return 0
    client = sqs()
    url = queue_url(client)
    for start in range(0, len(keys), SQS_BATCH):
        chunk = keys[start:start + SQS_BATCH]
        answer = client.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": json.dumps({"event_key": key})} for i, key in enumerate(chunk)])
        if answer.get("Failed"):
            raise RuntimeError(f"SQS refused {len(answer['Failed'])} of {len(chunk)} notification messages")
    return len(keys)
