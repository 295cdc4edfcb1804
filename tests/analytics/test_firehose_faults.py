"""Raw events when Firehose refuses them: records failed in a batch (`FailedPutCount`) or a throttled call are sent
again, what still fails comes back with its message or batch, and nothing moves a counter twice or is lost.

Faults are injected on the real (moto) delivery stream's PutRecordBatch: moto never throttles by itself.
"""
from __future__ import annotations

import json
from contextlib import contextmanager

import pytest

from tests.analytics.conftest import day_figures, pay, track
from tests.analytics.test_event_sink import delivered, firehose  # noqa: F401 - the delivery stream fixture

DAY = "2026-11-25"
SLOW_DOWN = {"Error": {"Code": "ServiceUnavailableException", "Message": "Slow down."}}


@contextmanager
def firehose_faults(monkeypatch, *faults: str):
    """The next PutRecordBatch calls meet `faults` in order, then the stream answers as it does:
    "partial": the records at odd positions are refused (FailedPutCount), the others stored;
    "throttled": the whole call is refused (ServiceUnavailableException)."""
    import botocore.client
    from botocore.exceptions import ClientError

    real = botocore.client.BaseClient._make_api_call
    pending, seen = list(faults), []

    def call(client, operation, params):
        if operation != "PutRecordBatch" or not pending:
            return real(client, operation, params)
        fault = pending.pop(0)
        records = params["Records"]
        seen.append((fault, len(records)))
        if fault == "throttled":
            raise ClientError(SLOW_DOWN, operation)
        real(client, operation, {**params, "Records": records[::2]})
        answers = [{"RecordId": f"r-{n}"} if n % 2 == 0 else {"ErrorCode": "ServiceUnavailableException",
                                                               "ErrorMessage": "Slow down."} for n in range(len(records))]
        return {"FailedPutCount": len(records) // 2, "Encrypted": False, "RequestResponses": answers}

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)
    try:
        yield seen
    finally:
        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", real)


@pytest.fixture
def sleeps(firehose):  # noqa: F811 - the fixture of the same name
    """The configured Firehose sink, its backoff recorded instead of slept."""
    from chalicelib.analytics import sink

    waited: list[float] = []
    previous = sink.use(sink.FirehoseSink(firehose, sleep=waited.append))
    yield waited
    sink.use(previous)


def message(request_id: str, views: int) -> str:
    return json.dumps({"v": 1, "request_id": request_id, "received_at": "2026-11-25T04:00:00.000Z", "day": DAY,
                       "visitor": f"d:{request_id}", "events": [{"type": "PAGE_VIEW"}] * views})


def page_views() -> int:
    from chalicelib.analytics import counters
    from chalicelib.analytics.models import TOTALS

    return counters.read_rows([(DAY, TOTALS)], consistent=True)[(DAY, TOTALS)]["page_views"]


def stored_ids() -> list[str]:
    return sorted(event["event_id"] for event in delivered())


def test_records_firehose_refuses_or_throttles_are_sent_again_and_stored_once(aws, sleeps, monkeypatch):
    from chalicelib.analytics import tracking

    batch = [("m-1", message("R1", 2)), ("m-2", message("R2", 2)), ("m-3", message("R3", 2))]
    with firehose_faults(monkeypatch, "partial", "throttled") as seen:
        assert tracking.consume(batch) == []
    assert seen == [("partial", 6), ("throttled", 3)], "the third call sent only the three refused records"
    assert sleeps == [0.1, 0.2]
    assert stored_ids() == sorted(f"track#R{r}#{n}" for r in (1, 2, 3) for n in (0, 1)), "each event stored once"
    assert page_views() == 6


def test_a_message_whose_events_firehose_keeps_refusing_comes_back_and_counts_once(aws, sleeps, monkeypatch, capsys):
    from chalicelib.analytics import tracking

    # records in order: R1#0, R2#0, R2#1, R3#0: the odd ones (R2#0, R3#0) refused, then every call throttled
    batch = [("m-1", message("R1", 1)), ("m-2", message("R2", 2)), ("m-3", message("R3", 1))]
    with firehose_faults(monkeypatch, "partial", "throttled", "throttled", "throttled"):
        assert tracking.consume(batch) == ["m-2", "m-3"], "only the messages whose events were not stored"
    assert page_views() == 4, "counted before the sink, once"
    assert stored_ids() == ["track#R1#0", "track#R2#1"]
    assert '"RawEventsUndelivered":[2.0]' in capsys.readouterr().out, "the alarm's metric"

    assert tracking.consume(batch[1:]) == []  # SQS delivers them again; Firehose answers now
    assert page_views() == 4, "a redelivered message moves no counter"
    assert set(stored_ids()) == {"track#R1#0", "track#R2#0", "track#R2#1", "track#R3#0"}, "no event lost"


def test_a_firehose_error_that_retrying_cannot_cure_fails_at_once(aws, sleeps, monkeypatch):
    import botocore.client
    from botocore.exceptions import ClientError

    from chalicelib.analytics import tracking

    real = botocore.client.BaseClient._make_api_call

    def missing_stream(client, operation, params):
        if operation == "PutRecordBatch":
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no stream"}}, operation)
        return real(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", missing_stream)
    assert tracking.consume([("m-1", message("R1", 1))]) == ["m-1"]
    assert sleeps == [], "a missing stream is not retried in the call: the message comes back"


def test_the_tracker_reports_refused_messages_to_sqs_and_their_redelivery_stores_them(app, client, sleeps,
                                                                                       monkeypatch):
    from infra.local.pump import EventPump
    from tests.segments.conftest import visible_again_at_once

    pump = EventPump(app)  # a message reported failed stays on the queue, as in SQS
    pump.create_queues()
    visible_again_at_once("analytics-events")
    assert track(client, [{"type": "PAGE_VIEW"}], device="phone-1").status_code == 202
    assert track(client, [{"type": "PAGE_VIEW"}] * 3, device="phone-2").status_code == 202
    with firehose_faults(monkeypatch, *["throttled"] * 4):
        pump.drain()
    assert page_views() == 4, "both messages counted once, though delivered twice"
    assert len(delivered()) == 4 and len(stored_ids()) == len(set(stored_ids())), "each event stored once, late"
    assert waiting("analytics-events") == 0 and waiting("analytics-events-dlq") == 0


def waiting(queue: str) -> int:
    import boto3

    from chalicelib.core import config, events

    sqs = boto3.client("sqs", region_name=config.region())
    url = sqs.get_queue_url(QueueName=events.queue_name(queue))["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return sum(int(value) for value in attributes.values())


def test_an_orders_stream_batch_firehose_refuses_is_retried_and_counts_once(shop, alice, owner, app, sleeps,
                                                                             monkeypatch):
    from infra.local.pump import EventPump

    pump = EventPump(app)
    order = alice.placed({shop.sku(price=2500): 1})
    pay(alice.api, order["order_id"])
    with firehose_faults(monkeypatch, *["throttled"] * 4) as seen:
        pump.drain()
    assert [fault for fault, _ in seen] == ["throttled"] * 4
    figures = day_figures(owner, DAY)
    assert (figures["orders"], figures["paid_orders"], figures["gmv"]) == (1, 1, order["payable"])
    kinds = {event["type"] for event in delivered()}
    assert {"ORDER_CREATED", "ORDER_PAID", "ORDER_STATUS_CHANGED"} <= kinds, "stored when the batch came back"
