"""Where raw events go for the merchant's own analysis: one small interface, three implementations.

- `FirehoseSink`: Kinesis Data Firehose (`MALL_EVENTS_FIREHOSE`, the delivery stream's name; each
  deployed stage has it). Firehose writes them to S3, partitioned by the event's shop `day`
  (`events/day=YYYY-MM-DD/`), where Athena reads them (docs/DEPLOY.md, "Raw events").
- `JsonLinesSink`: one JSON object per line in `<MALL_EVENTS_DIR>/<day>.jsonl` (the local stack sets
  `.local/events`).
- `MemorySink`: the test twin, holding what it was given.

Raw events are written at least once: a batch retried after its counters committed writes its events
again. Each carries a stable `event_id` (the fact it records), so a query that needs exact numbers
deduplicates on it; the dashboard's counters are exact without that.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from chalicelib.core import config

Event = dict[str, Any]
log = logging.getLogger("micromall.analytics")


class EventSink(Protocol):
    def put(self, events: list[Event]) -> None:
        """Store every event, or raise (the caller's batch is then retried)."""


def line(event: Event) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n"


class DeliveryFailed(RuntimeError):
    """Some events were not stored after the sink's retries; `event_ids` names them (every other one was stored)."""

    def __init__(self, message: str, event_ids: Iterable[str | None]):
        super().__init__(message)
        self.event_ids = frozenset(event_ids)


class FirehoseSink:
    """PutRecordBatch, with the records Firehose refuses sent again.

    Firehose answers a batch record by record: under throttling some fail (`FailedPutCount`, an `ErrorCode` each)
    while the others are stored, and a whole call may be refused (`ServiceUnavailableException`). Only what was
    refused is sent again, after a backoff, ATTEMPTS times at most; then `DeliveryFailed` names the events still
    not stored, and the caller fails what carried them (the tracker: those messages, which SQS delivers again;
    a stream batch: the batch). Counters are committed before, behind their markers, so a retry never moves them
    again. This loop is the only retry (botocore's own is off: its backoff would not fit the function's timeout
    beside this one): ATTEMPTS calls and 0.7 s of sleep at most a batch of 500 events.
    """
    BATCH = 500  # PutRecordBatch's most records
    BATCH_BYTES = 4 * 1024 * 1024
    ATTEMPTS = 4
    BACKOFF_SECONDS = 0.1
    RETRYABLE = frozenset({"ServiceUnavailableException", "ThrottlingException", "InternalFailure"})

    def __init__(self, stream_name: str, client: Any = None, sleep=time.sleep):
        self.stream_name = stream_name
        self._client = client
        self._sleep = sleep

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client("firehose", region_name=config.region(), config=Config(
                retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2, read_timeout=5))
        return self._client

    def put(self, events: list[Event]) -> None:
        records = [(event.get("event_id"), line(event).encode("utf-8")) for event in events]
        undelivered: list[tuple[str | None, bytes]] = []
        for batch in _batches(records, self.BATCH, self.BATCH_BYTES):
            undelivered += self._put_batch(batch)
        if undelivered:
            from chalicelib.core import metrics

            metrics.count("RawEventsUndelivered", len(undelivered))
            raise DeliveryFailed(f"Firehose {self.stream_name} refused {len(undelivered)} event(s) "
                                 f"{self.ATTEMPTS} times", [event_id for event_id, _ in undelivered])

    def _put_batch(self, records: list[tuple[str | None, bytes]]) -> list[tuple[str | None, bytes]]:
        """The records still refused after ATTEMPTS calls (none: all stored)."""
        pending = records
        for attempt in range(self.ATTEMPTS):
            if attempt:
                self._sleep(self.BACKOFF_SECONDS * 2 ** (attempt - 1))
            try:
                answer = self.client.put_record_batch(DeliveryStreamName=self.stream_name,
                                                      Records=[{"Data": data} for _, data in pending])
            except Exception as exc:  # noqa: BLE001 - throttled or unreachable: the same records again
                if not _retryable(exc, self.RETRYABLE):
                    raise
                log.warning("Firehose %s refused a call of %d record(s): %s", self.stream_name, len(pending), exc)
                continue
            if not answer.get("FailedPutCount"):
                return []
            # Firehose answers each record in order; the failed ones (throttled) are sent again.
            pending = [record for record, result in zip(pending, answer["RequestResponses"], strict=True)
                       if result.get("ErrorCode")]
            log.warning("Firehose %s refused %d record(s) of a batch", self.stream_name, len(pending))
        return pending


def _retryable(exc: Exception, codes: frozenset[str]) -> bool:
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as Unreachable

    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") in codes
    return isinstance(exc, (Unreachable, HTTPClientError))


def _batches(records: list[tuple[str | None, bytes]], most: int,
             most_bytes: int) -> Iterable[list[tuple[str | None, bytes]]]:
    batch: list[tuple[str | None, bytes]] = []
    size = 0
    for record in records:
        if batch and (len(batch) == most or size + len(record[1]) > most_bytes):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += len(record[1])
    if batch:
        yield batch


class JsonLinesSink:
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._lock = threading.Lock()  # the local stack serves requests and runs handlers on threads

    def put(self, events: list[Event]) -> None:
        by_day: dict[str, list[str]] = {}
        for event in events:
            by_day.setdefault(str(event["day"]), []).append(line(event))
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            for day, lines in by_day.items():
                with (self.directory / f"{day}.jsonl").open("a", encoding="utf-8") as out:
                    out.write("".join(lines))

    def read(self, day: str) -> list[Event]:
        path = self.directory / f"{day}.jsonl"
        if not path.exists():
            return []
        return [json.loads(text) for text in path.read_text(encoding="utf-8").splitlines() if text]


class MemorySink:
    """The test twin: keeps every event it was given, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def put(self, events: list[Event]) -> None:
        with self._lock:
            self.events.extend(events)


_installed: EventSink | None = None


def use(sink: EventSink | None) -> EventSink | None:
    """Install `sink` (None: back to the configured one); returns the one installed before."""
    global _installed
    previous, _installed = _installed, sink
    return previous


def current() -> EventSink:
    """The installed sink, else the configured one: Firehose when `MALL_EVENTS_FIREHOSE` names a stream,
    JSON lines under `MALL_EVENTS_DIR` otherwise (the local stack and the tests set it)."""
    if _installed is not None:
        return _installed
    stream = config.env("MALL_EVENTS_FIREHOSE")
    if stream:
        return _firehose(stream)
    directory = config.env("MALL_EVENTS_DIR")
    if directory is None:
        raise config.ConfigError("raw events need MALL_EVENTS_FIREHOSE (a delivery stream) or MALL_EVENTS_DIR")
    return _json_lines(directory)


_sinks: dict[str, Any] = {}


def _firehose(stream: str) -> FirehoseSink:
    return _sinks.setdefault(f"firehose:{stream}", FirehoseSink(stream))


def _json_lines(directory: str) -> JsonLinesSink:
    return _sinks.setdefault(f"dir:{directory}", JsonLinesSink(Path(directory)))
