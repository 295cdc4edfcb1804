"""The event pump: delivers what AWS would deliver to the app's event handlers.

It discovers the handlers from the Chalice app itself (its `event_sources`),
never from a hand-kept list: DynamoDB stream handlers get real-shaped stream
records read from the embedded tables' streams, SQS handlers get messages
received from the embedded queues, and scheduled handlers run at their own
rate (`Rate(1, unit=Rate.MINUTES)`: every minute, as EventBridge would), or
every `MALL_LOCAL_SCHEDULE_SECONDS` when that is set (tests use 1 s).

A failing batch is handled as its trigger is configured in the cloud
(`infra.triggers`): retried `maximum_retry_attempts` times, split in halves
while it has more than one record (`bisect_batch_on_function_error`), records
older than `maximum_record_age_seconds` skipped, and what still fails described
on the `on_failure_queue` in the shape Lambda sends to an on-failure destination
(`DDBStreamBatchInfo`: the records stay in the stream for a redrive) and counted
as the `DeadLettered` metric (its records, dimension `handler`), or dropped with an
error in the log when there is none. A handler that reports partial
batch failures (`batchItemFailures`) is retried from its first failed record; a
queue message is deleted only after its handler succeeded with it.

Idle, the pump backs off to one poll every `max_idle_seconds`, and a write to
the embedded server (`wake`) brings it back at once.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any

from chalice.app import DynamoDBEventConfig, Rate, ScheduledEventConfig, SQSEventConfig

from chalicelib.core import config, metrics
from chalicelib.core.events import LOCAL_ACCOUNT, queue_name, table_of_stream_arn
from infra.triggers import TriggerSettings, trigger_settings

log = logging.getLogger("micromall.pump")

MAX_IDLE_SECONDS = 2.0


def rate_seconds(expression: Any) -> float:
    """A chalice Rate in seconds; a cron expression is checked every minute, its finest grain."""
    units = {"MINUTES": 60, "HOURS": 3600, "DAYS": 86400}
    if isinstance(expression, Rate):
        return float(expression.value * units[expression.unit])
    return 60.0


class LocalLambdaContext:
    """The few attributes of a Lambda context that handlers read."""

    def __init__(self, function_name: str, timeout_seconds: float = 60.0):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:{config.region()}:{LOCAL_ACCOUNT}:function:{function_name}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class StreamCursor:
    """Where one handler is in one table's stream: an iterator per shard."""
    handler: str
    table: str
    source_arn: str
    batch_size: int
    stream_arn: str | None = None
    iterators: dict[str, str] = field(default_factory=dict)
    last_sequence: dict[str, str] = field(default_factory=dict)


class EventPump:
    def __init__(self, app: Any, *, endpoint_url: str | None = None, starting_position: str = "TRIM_HORIZON",
                 schedule_seconds: float | None = None, raise_errors: bool = False,
                 wake: threading.Event | None = None):
        import boto3
        from botocore.config import Config

        kwargs = dict(endpoint_url=endpoint_url, region_name=config.region())
        self._dynamodb = boto3.client("dynamodb", **kwargs)
        # botocore 1.44 (our pin) sends Streams calls to account-id endpoints
        # (<account>.streams-ddb.<region>...), which moto's in-process mock does not
        # route; the regional endpoint is equivalent for our purposes.
        self._streams = boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"),
                                     **kwargs)
        self._sqs = boto3.client("sqs", **kwargs)
        self._app = app
        self._starting_position = starting_position
        self._raise_errors = raise_errors
        configured = config.env("MALL_LOCAL_SCHEDULE_SECONDS")
        self.schedule_seconds = schedule_seconds if schedule_seconds is not None else (
            float(configured) if configured else None)
        sources = list(app.event_sources)
        self.stream_cursors = [
            StreamCursor(s.name, table_of_stream_arn(s.stream_arn), s.stream_arn, s.batch_size)
            for s in sources if isinstance(s, DynamoDBEventConfig)]
        self.queue_sources = [s for s in sources if isinstance(s, SQSEventConfig)]
        self.schedules = [s for s in sources if isinstance(s, ScheduledEventConfig)]
        # Resolved now, before any request is served: describing the features' triggers builds their apps,
        # which briefly repoints the blueprints, and a request served meanwhile would read the wrong app.
        handlers = [c.handler for c in self.stream_cursors] + [s.name for s in self.queue_sources]
        self._settings = {name: trigger_settings(name) for name in handlers}
        self._queue_urls: dict[str, str] = {}
        self._stop = threading.Event()
        self._wake = wake or threading.Event()
        self._thread: threading.Thread | None = None
        self.dead_lettered = 0

    # --- discovery and setup -------------------------------------------------

    def create_queues(self) -> list[str]:
        """Create every queue an SQS handler listens to, and every on-failure queue (idempotent, like CreateQueue)."""
        dead_letters = {queue_name(settings.on_failure_queue) for settings in self._settings.values()
                        if settings.on_failure_queue}
        names = [self._queue_name(source) for source in self.queue_sources] + sorted(dead_letters)
        for name in names:
            self._queue_urls[name] = self._sqs.create_queue(QueueName=name)["QueueUrl"]
        return names

    def position_streams(self, position: str | None = None) -> None:
        """Open every stream at `position` (TRIM_HORIZON: everything; LATEST: from now on)."""
        for cursor in self.stream_cursors:
            self._open(cursor, position or self._starting_position)

    def _open(self, cursor: StreamCursor, position: str) -> None:
        stream_arn = self._dynamodb.describe_table(TableName=cursor.table)["Table"].get("LatestStreamArn")
        if not stream_arn:
            raise RuntimeError(f"table {cursor.table} has no stream but handler {cursor.handler} reads it")
        cursor.stream_arn = stream_arn
        shards = self._streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        cursor.iterators = {
            shard["ShardId"]: self._streams.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType=position)["ShardIterator"]
            for shard in shards}

    # --- delivery --------------------------------------------------------------

    def drain(self, max_rounds: int = 20) -> int:
        """Deliver everything pending, including what handlers cause, until quiet. Returns records delivered."""
        total = 0
        for _ in range(max_rounds):
            delivered = self.poll_once()
            total += delivered
            if delivered == 0:
                return total
        raise RuntimeError(f"events still flowing after {max_rounds} rounds: a handler feeds itself?")

    def poll_once(self) -> int:
        return sum(self._poll_stream(cursor) for cursor in self.stream_cursors) + \
            sum(self._poll_queue(source) for source in self.queue_sources)

    def schedule_interval(self, source: ScheduledEventConfig) -> float:
        """Seconds between two runs: MALL_LOCAL_SCHEDULE_SECONDS when set, else the schedule's own rate."""
        return self.schedule_seconds or rate_seconds(source.schedule_expression)

    def run_schedules(self) -> int:
        for source in self.schedules:
            self._run_schedule(source)
        return len(self.schedules)

    def _run_schedule(self, source: ScheduledEventConfig) -> None:
        event = {
            "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": LOCAL_ACCOUNT,
            "time": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": config.region(),
            "resources": [f"arn:aws:events:{config.region()}:{LOCAL_ACCOUNT}:rule/{source.name}"],
            "detail": {}}
        self._invoke(source.name, "schedule", event, 1)

    def _poll_stream(self, cursor: StreamCursor) -> int:
        if cursor.stream_arn is None:
            self._open(cursor, self._starting_position)
        delivered = 0
        for shard_id, iterator in list(cursor.iterators.items()):
            try:
                response = self._streams.get_records(ShardIterator=iterator, Limit=cursor.batch_size)
            except self._streams.exceptions.ExpiredIteratorException:
                self._reopen(cursor, shard_id)
                continue
            records = [self._stream_record(record, cursor) for record in response["Records"]]
            if records:
                self._deliver_stream(cursor, shard_id, records)
                cursor.last_sequence[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
            cursor.iterators[shard_id] = response.get("NextShardIterator") or iterator
            delivered += len(records)
        return delivered

    def _reopen(self, cursor: StreamCursor, shard_id: str) -> None:
        """An iterator unused for 15 minutes expires (as in DynamoDB): continue after the last record delivered."""
        after = cursor.last_sequence.get(shard_id)
        position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after} if after else \
            {"ShardIteratorType": "TRIM_HORIZON"}
        cursor.iterators[shard_id] = self._streams.get_shard_iterator(
            StreamArn=cursor.stream_arn, ShardId=shard_id, **position)["ShardIterator"]

    def _deliver_stream(self, cursor: StreamCursor, shard_id: str, records: list[dict]) -> None:
        settings = self._settings[cursor.handler]
        oldest_allowed = time.time() - settings.maximum_record_age_seconds
        expired = [settings.maximum_record_age_seconds >= 0
                   and r["dynamodb"].get("ApproximateCreationDateTime", oldest_allowed) < oldest_allowed
                   for r in records]
        if any(expired):
            stale = [r for r, old in zip(records, expired, strict=True) if old]
            self._give_up(cursor, shard_id, stale, "RecordAgeExceeded", 0)
        fresh = [r for r, old in zip(records, expired, strict=True) if not old]
        if fresh:
            self._deliver_with_retries(cursor, shard_id, fresh, settings)

    def _deliver_with_retries(self, cursor: StreamCursor, shard_id: str, records: list[dict],
                              settings: TriggerSettings) -> None:
        retries = settings.maximum_retry_attempts if settings.maximum_retry_attempts >= 0 else 10_000
        for _ in range(retries + 1):
            failed = self._invoke_batch(cursor.handler, "stream", records, settings,
                                        lambda r: r["dynamodb"]["SequenceNumber"])
            if failed is None:
                return
            # A stream checkpoints at its first failed record: what came before it is done.
            records = records[min(i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] in failed):]
            if settings.bisect_batch_on_function_error and len(records) > 1:
                half = len(records) // 2
                self._deliver_with_retries(cursor, shard_id, records[:half], settings)
                self._deliver_with_retries(cursor, shard_id, records[half:], settings)
                return
        self._give_up(cursor, shard_id, records, "RetryAttemptsExhausted", retries + 1)

    def _give_up(self, cursor: StreamCursor, shard_id: str, records: list[dict], condition: str,
                 attempts: int) -> None:
        settings = self._settings[cursor.handler]
        self.dead_lettered += len(records)
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        if settings.on_failure_queue is None:
            log.error("handler %s: dropping %d stream record(s) %s..%s (%s)", cursor.handler, len(records),
                      first["SequenceNumber"], last["SequenceNumber"], condition)
            return
        log.error("handler %s: %d stream record(s) %s..%s to %s (%s)", cursor.handler, len(records),
                  first["SequenceNumber"], last["SequenceNumber"], settings.on_failure_queue, condition)
        arrival = _dt.datetime.fromtimestamp
        message = {
            "requestContext": {"requestId": str(uuid.uuid4()), "condition": condition,
                               "functionArn": LocalLambdaContext(cursor.handler).invoked_function_arn,
                               "approximateInvokeCount": attempts},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0", "timestamp": _dt.datetime.now(_dt.UTC).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id, "streamArn": cursor.stream_arn, "batchSize": len(records),
                "startSequenceNumber": first["SequenceNumber"], "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": arrival(first["ApproximateCreationDateTime"], _dt.UTC).isoformat(),
                "approximateArrivalOfLastRecord": arrival(last["ApproximateCreationDateTime"], _dt.UTC).isoformat()}}
        self._sqs.send_message(QueueUrl=self._queue_url(queue_name(settings.on_failure_queue)),
                               MessageBody=json.dumps(message))
        # In the cloud Lambda sends this message and the mall never sees it: there the on-failure queue's
        # NumberOfMessagesSent counts the batches (infra.alarms). Here the pump is Lambda, so it counts the records.
        metrics.count("DeadLettered", len(records), handler=cursor.handler)

    @staticmethod
    def _stream_record(record: dict, cursor: StreamCursor) -> dict:
        data = dict(record["dynamodb"])
        created = data.get("ApproximateCreationDateTime")
        if isinstance(created, _dt.datetime):
            data["ApproximateCreationDateTime"] = int(created.timestamp())
        return {**record, "dynamodb": data, "eventSourceARN": cursor.stream_arn}

    def _poll_queue(self, source: SQSEventConfig) -> int:
        name = self._queue_name(source)
        url = self._queue_url(name)
        response = self._sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=min(10, source.batch_size), WaitTimeSeconds=0,
            AttributeNames=["All"], MessageAttributeNames=["All"])
        messages = response.get("Messages", [])
        if not messages:
            return 0
        arn = f"arn:aws:sqs:{config.region()}:{LOCAL_ACCOUNT}:{name}"
        records = [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
            "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs", "eventSourceARN": arn,
            "awsRegion": config.region()} for m in messages]
        failed = self._invoke_batch(source.name, "queue", records, self._settings[source.name],
                                    lambda r: r["messageId"]) or set()
        done = [record for record in records if record["messageId"] not in failed]
        # A failed message stays on the queue: visible again after its visibility timeout, dead-lettered by
        # the queue's own redrive policy after maxReceiveCount receives, as in SQS.
        if done:
            self._sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(done)])
        return len(records)

    def _queue_url(self, name: str) -> str:
        if name not in self._queue_urls:
            self._queue_urls[name] = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return self._queue_urls[name]

    @staticmethod
    def _queue_name(source: SQSEventConfig) -> str:
        return source.queue or str(source.queue_arn).rsplit(":", 1)[-1]

    def _invoke_batch(self, handler_name: str, kind: str, records: list[dict], settings: TriggerSettings,
                      identifier: Any) -> set[str] | None:
        """None when the whole batch succeeded, else the identifiers of the records to deliver again."""
        response = self._invoke(handler_name, kind, {"Records": records}, len(records))
        every = {identifier(record) for record in records}
        if response is False:
            return every
        failures = response.get("batchItemFailures") if settings.report_batch_item_failures and \
            isinstance(response, dict) else None
        if not failures:
            return None
        failed = {failure.get("itemIdentifier") for failure in failures}
        return failed & every or every  # an identifier the batch does not hold fails it whole, as in Lambda

    def _invoke(self, handler_name: str, kind: str, event: dict, count: int) -> Any:
        handler = self._app.handler_map[handler_name]
        try:
            return handler(event, LocalLambdaContext(handler_name))
        except Exception:  # noqa: BLE001 - a failing handler must not stop the pump
            log.error("handler %s failed on %d %s record(s):\n%s", handler_name, count, kind,
                      traceback.format_exc())
            if self._raise_errors:
                raise
            return False

    # --- background loop --------------------------------------------------------

    def start(self, poll_seconds: float = 0.05, max_idle_seconds: float = MAX_IDLE_SECONDS) -> EventPump:
        self._thread = threading.Thread(target=self._run, args=(poll_seconds, max_idle_seconds), name="event-pump",
                                        daemon=True)
        self._thread.start()
        return self

    def _run(self, poll_seconds: float, max_idle_seconds: float) -> None:
        next_runs = {source.name: time.monotonic() + self.schedule_interval(source) for source in self.schedules}
        wait = poll_seconds
        while not self._stop.is_set():
            self._wake.clear()
            try:
                busy = self.poll_once()
                for source in self.schedules:
                    if time.monotonic() >= next_runs[source.name]:
                        self._run_schedule(source)
                        next_runs[source.name] = time.monotonic() + self.schedule_interval(source)
            except Exception:  # noqa: BLE001 - e.g. the embedded server stopping under us
                log.exception("event pump round failed")
                busy = 0
            if busy:
                wait = poll_seconds
                continue
            wait = min(wait * 2, max_idle_seconds)  # back off while idle; a write wakes the pump at once
            next_schedule = min(next_runs.values(), default=time.monotonic() + wait)
            self._wake.wait(min(wait, max(0.0, next_schedule - time.monotonic())))

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
