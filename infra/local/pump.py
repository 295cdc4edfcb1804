"""The event pump: delivers what AWS would deliver to the app's event handlers.

It discovers the handlers from the Chalice app itself (its `event_sources`),
never from a hand-kept list: DynamoDB stream handlers get real-shaped stream
records read from the embedded tables' streams, SQS handlers get messages
received from the embedded queues, and scheduled handlers run every
`schedule_seconds`. As in Lambda, a batch whose handler raises is retried, and a
queue message is deleted only after its handler succeeded.
"""
from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any

from chalice.app import DynamoDBEventConfig, ScheduledEventConfig, SQSEventConfig

from chalicelib.core import config
from chalicelib.core.events import LOCAL_ACCOUNT, table_of_stream_arn

log = logging.getLogger("micromall.pump")

MAX_ATTEMPTS = 3


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
    failures: dict[str, int] = field(default_factory=dict)


class EventPump:
    def __init__(self, app: Any, *, endpoint_url: str | None = None, starting_position: str = "TRIM_HORIZON",
                 schedule_seconds: float | None = None, raise_errors: bool = False):
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
        self.schedule_seconds = schedule_seconds if schedule_seconds is not None else float(
            config.env_int("MALL_LOCAL_SCHEDULE_SECONDS", 5))
        sources = list(app.event_sources)
        self.stream_cursors = [
            StreamCursor(s.name, table_of_stream_arn(s.stream_arn), s.stream_arn, s.batch_size)
            for s in sources if isinstance(s, DynamoDBEventConfig)]
        self.queue_sources = [s for s in sources if isinstance(s, SQSEventConfig)]
        self.schedules = [s for s in sources if isinstance(s, ScheduledEventConfig)]
        self._queue_urls: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- discovery and setup -------------------------------------------------

    def create_queues(self) -> list[str]:
        """Create every queue an SQS handler listens to (idempotent, like CreateQueue)."""
        names = []
        for source in self.queue_sources:
            name = self._queue_name(source)
            self._queue_urls[name] = self._sqs.create_queue(QueueName=name)["QueueUrl"]
            names.append(name)
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

    def run_schedules(self) -> int:
        for source in self.schedules:
            event = {
                "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                "source": "aws.events", "account": LOCAL_ACCOUNT,
                "time": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": config.region(),
                "resources": [f"arn:aws:events:{config.region()}:{LOCAL_ACCOUNT}:rule/{source.name}"],
                "detail": {}}
            self._invoke(source.name, "schedule", event, 1)
        return len(self.schedules)

    def _poll_stream(self, cursor: StreamCursor) -> int:
        if cursor.stream_arn is None:
            self._open(cursor, self._starting_position)
        delivered = 0
        for shard_id, iterator in list(cursor.iterators.items()):
            response = self._streams.get_records(ShardIterator=iterator, Limit=cursor.batch_size)
            records = [self._stream_record(record, cursor) for record in response["Records"]]
            if records and not self._invoke(cursor.handler, "stream", {"Records": records}, len(records)):
                cursor.failures[shard_id] = cursor.failures.get(shard_id, 0) + 1
                if cursor.failures[shard_id] < MAX_ATTEMPTS:
                    continue  # keep the iterator: the same batch is retried next poll
                # Like an event source mapping with MaximumRetryAttempts: give up on this batch.
                log.error("handler %s: dropping %d record(s) after %d attempts",
                          cursor.handler, len(records), MAX_ATTEMPTS)
            cursor.failures.pop(shard_id, None)
            if response.get("NextShardIterator"):
                cursor.iterators[shard_id] = response["NextShardIterator"]
            delivered += len(records)
        return delivered

    @staticmethod
    def _stream_record(record: dict, cursor: StreamCursor) -> dict:
        data = dict(record["dynamodb"])
        created = data.get("ApproximateCreationDateTime")
        if isinstance(created, _dt.datetime):
            data["ApproximateCreationDateTime"] = int(created.timestamp())
        return {**record, "dynamodb": data, "eventSourceARN": cursor.stream_arn}

    def _poll_queue(self, source: SQSEventConfig) -> int:
        name = self._queue_name(source)
        url = self._queue_urls.get(name) or self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        self._queue_urls[name] = url
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
        if self._invoke(source.name, "queue", {"Records": records}, len(records)):
            self._sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
        return len(records)

    @staticmethod
    def _queue_name(source: SQSEventConfig) -> str:
        return source.queue or str(source.queue_arn).rsplit(":", 1)[-1]

    def _invoke(self, handler_name: str, kind: str, event: dict, count: int) -> bool:
        handler = self._app.handler_map[handler_name]
        try:
            handler(event, LocalLambdaContext(handler_name))
        except Exception:  # noqa: BLE001 - a failing handler must not stop the pump
            log.error("handler %s failed on %d %s record(s):\n%s", handler_name, count, kind,
                      traceback.format_exc())
            if self._raise_errors:
                raise
            return False
        return True

    # --- background loop --------------------------------------------------------

    def start(self, poll_seconds: float = 0.2) -> EventPump:
        self._thread = threading.Thread(target=self._run, args=(poll_seconds,), name="event-pump", daemon=True)
        self._thread.start()
        return self

    def _run(self, poll_seconds: float) -> None:
        next_schedule = time.monotonic() + self.schedule_seconds
        while not self._stop.is_set():
            try:
                busy = self.poll_once()
                if time.monotonic() >= next_schedule:
                    self.run_schedules()
                    next_schedule = time.monotonic() + self.schedule_seconds
            except Exception:  # noqa: BLE001 - e.g. the embedded server stopping under us
                log.exception("event pump round failed")
                busy = 0
            if not busy:
                self._stop.wait(poll_seconds)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
