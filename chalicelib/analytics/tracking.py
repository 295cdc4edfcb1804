"""What the storefront tells the mall (`POST /track`): page views, product views, searches and shares.

The request only queues its events: one SQS message per request, named by a new `request_id`, carrying
who sent it (the buyer of the token, else the `X-Device-Id`) and when the mall received it. The day an
event counts on is the shop day of that receipt; the client's own `at` is kept in the raw event, never
trusted for counting (a phone's clock, or a replayed request, could put it on any day).

The queue's consumer counts each message once (marker `track#<request_id>`, in the transaction of its
counters: `page_views`, `product_views`, `searches`, `shares`, each product's views), records its visitor
on the day (and as a product viewer when it viewed one), and writes every event raw to the event sink.
A message it cannot read, or cannot count, is reported failed: it comes back, and after 5 receives the
queue's redrive policy moves it to the dead-letter queue (docs/RUNBOOK.md), never lost in silence. So is a message
whose raw events Firehose still refused after the sink's retries (sink.DeliveryFailed names them): its counters
committed first, behind their marker, so its next delivery counts nothing again and writes its events again.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chalicelib.analytics import counters, distinct, sink
from chalicelib.analytics.counters import Fact
from chalicelib.analytics.days import day_of
from chalicelib.analytics.distinct import Sighting
from chalicelib.analytics.models import TOTALS, product_slot
from chalicelib.core import clock, config, events, ids

log = logging.getLogger("micromall.analytics")

QUEUE = "analytics-events"
MAX_EVENTS = 50
PAGE_VIEW, PRODUCT_VIEW, SEARCH, SHARE = "PAGE_VIEW", "PRODUCT_VIEW", "SEARCH", "SHARE"
TYPES = (PAGE_VIEW, PRODUCT_VIEW, SEARCH, SHARE)
COUNTER_OF = {PAGE_VIEW: "page_views", PRODUCT_VIEW: "product_views", SEARCH: "searches", SHARE: "shares"}
MESSAGE_VERSION = 1


# --- the request: queue it -----------------------------------------------------------------

def accept(tracked: list[dict[str, Any]], *, user_id: str | None = None, device_id: str | None = None) -> dict:
    """Queues one request's events (validated at the edge); answers what the route returns (202)."""
    now = clock.now()
    message = {"v": MESSAGE_VERSION, "request_id": ids.new_id(), "received_at": clock.iso(now), "day": day_of(now),
               "visitor": distinct.buyer(user_id) if user_id else distinct.device(str(device_id)),
               "user_id": user_id, "device_id": device_id,
               "events": [{key: value for key, value in event.items() if value is not None} for event in tracked]}
    client = _sqs()
    # ASCII: SQS refuses some characters JSON allows (U+FFFE, U+FFFF), which a search's words may hold
    client.send_message(QueueUrl=_queue_url(client), MessageBody=json.dumps(message))
    return {"accepted": len(tracked), "request_id": message["request_id"]}


_clients: dict[str | None, Any] = {}
_queue_urls: dict[tuple[str | None, str], str] = {}


def _sqs() -> Any:
    endpoint = config.dynamodb_endpoint()  # the embedded server serves SQS locally
    if endpoint not in _clients:
        import boto3

        _clients[endpoint] = boto3.client("sqs", endpoint_url=endpoint, region_name=config.region())
    return _clients[endpoint]


def _queue_url(client: Any) -> str:
    key = (config.dynamodb_endpoint(), events.queue_name(QUEUE))
    if key not in _queue_urls:
        _queue_urls[key] = client.get_queue_url(QueueName=key[1])["QueueUrl"]
    return _queue_urls[key]


# --- the consumer: count it -------------------------------------------------------------------

@dataclass(frozen=True)
class TrackRequest:
    message_id: str
    request_id: str
    day: str
    received_at: str
    visitor: str
    user_id: str | None
    device_id: str | None
    events: tuple[dict[str, Any], ...]


def read(message_id: str, body: str) -> TrackRequest:
    """A queued request; ValueError for a message this consumer cannot count."""
    try:
        data = json.loads(body)
        tracked = tuple(data["events"])
        if data.get("v") != MESSAGE_VERSION or not all(event.get("type") in TYPES for event in tracked):
            raise ValueError("unknown message version or event type")
        return TrackRequest(message_id, str(data["request_id"]), str(data["day"]), str(data["received_at"]),
                            str(data["visitor"]), data.get("user_id"), data.get("device_id"), tracked)
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"unreadable tracking message: {exc}") from None


def consume(messages: Iterable[tuple[str, str]]) -> list[str]:
    """Counts a batch of (message id, body); returns the ids of messages to deliver again."""
    requests, failed = [], []
    for message_id, body in messages:
        try:
            requests.append(read(message_id, body))
        except ValueError as exc:
            log.error("tracking message %s: %s", message_id, exc)
            failed.append(message_id)
    try:
        count(requests)
    except sink.DeliveryFailed as exc:  # counted; the events of these messages were not all stored: they come back
        undelivered = _carrying(requests, exc) or [request.message_id for request in requests]
        log.error("tracking: %s; %d message(s) delivered again", exc, len(undelivered))
        failed += undelivered
    except Exception:  # noqa: BLE001 - find the messages that fail on their own; the others count
        log.exception("a batch of %d tracking message(s) failed; counting them one by one", len(requests))
        for request in requests:
            try:
                count([request])
            except Exception:  # noqa: BLE001 - this one comes back (and is dead-lettered after 5 receives)
                log.exception("tracking message %s failed", request.message_id)
                failed.append(request.message_id)
    return failed


def _carrying(requests: list[TrackRequest], failure: sink.DeliveryFailed) -> list[str]:
    """The messages one of whose raw events the sink did not store (`track#<request_id>#<n>`)."""
    refused = {event_id.rsplit("#", 1)[0] for event_id in failure.event_ids if event_id}
    return [request.message_id for request in requests if f"track#{request.request_id}" in refused]


def count(requests: list[TrackRequest]) -> int:
    """Counts each request not counted before and writes its events raw; returns the requests counted now."""
    facts, sightings, raw = [], [], []
    for request in requests:
        fact = Fact(f"track#{request.request_id}")
        viewed = False
        for index, event in enumerate(request.events):
            fact.add(request.day, TOTALS, COUNTER_OF[event["type"]], 1)
            if event["type"] == PRODUCT_VIEW and event.get("product_id"):
                product = event["product_id"]
                fact.add(request.day, product_slot(product), f"v#{product}", 1)
                viewed = True
            raw.append(_raw_event(request, index, event))
        facts.append(fact)
        sightings.append(Sighting(request.day, distinct.VISITORS, request.visitor))
        if viewed:
            sightings.append(Sighting(request.day, distinct.PRODUCT_VIEWERS, request.visitor))
    if not facts:
        return 0
    counted = counters.commit(facts)
    distinct.record(sightings)
    sink.current().put(raw)
    return len(counted)


def _raw_event(request: TrackRequest, index: int, event: dict[str, Any]) -> dict[str, Any]:
    raw = {"event_id": f"track#{request.request_id}#{index}", "type": event["type"], "source": "track",
           "day": request.day, "at": request.received_at, "visitor": request.visitor,
           "user_id": request.user_id, "device_id": request.device_id, "product_id": event.get("product_id"),
           "q": event.get("q"), "client_at": event.get("at")}
    return {key: value for key, value in raw.items() if value is not None}


def visitor_of(headers: Any) -> tuple[str | None, str | None]:
    """(buyer, device) a request comes from: the buyer of a valid buyer token (401 for a bad one, 403 for a
    staff token), and the `X-Device-Id`, required without a token."""
    from chalicelib.core import auth
    from chalicelib.core.errors import BadRequest
    from chalicelib.core.limits import DEVICE_ID_PATTERN

    raw_device = (headers.get("x-device-id") or "").strip()
    if raw_device and not DEVICE_ID_PATTERN.fullmatch(raw_device):
        raise BadRequest("X-Device-Id is 1-64 of [0-9A-Za-z_.:-]", code="INVALID_DEVICE_ID")
    device_id = raw_device or None
    if headers.get("authorization"):
        return auth.authenticate(headers, auth.BUYER).subject, device_id
    if device_id is None:
        raise BadRequest("send a buyer token or an X-Device-Id header", code="DEVICE_ID_REQUIRED")
    return None, device_id
