"""Moto's DynamoDB Streams, made to hold what DynamoDB holds: memory bounded by what readers still need.

Pinned moto keeps every stream record forever and every shard iterator it ever
returned (a fresh one per GetRecords, even an empty one), so an idle reader
polling a few times a second grows the process without end. After `install()`:
- an empty GetRecords returns the iterator it was given, as a new one would
  point at the same place;
- an iterator is released once its successor has been used (its reader moved
  on), and any iterator unused for 15 minutes expires, as in DynamoDB
  (`ExpiredIteratorException`);
- with `release_read_records(True)` (the embedded server), records every live
  iterator of a shard has passed are dropped once they are older than DynamoDB's
  24 hours or more than `RETAINED_RECORDS` back: a dead-lettered batch can still
  be read again for a redrive, and a busy stack's memory stays bounded. In-process
  tests keep every record: a reader there may start late at TRIM_HORIZON.
"""
from __future__ import annotations

import datetime
import time
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.utils import utcnow
from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

from infra.local.moto_pin import patch_once

ITERATOR_LIFETIME_SECONDS = 15 * 60
RETENTION_SECONDS = 24 * 3600
RETAINED_RECORDS = 10_000
EXPIRY_SWEEP_SECONDS = 60.0

_settings = {"release_read_records": False}


class ExpiredIteratorException(JsonRESTError):
    def __init__(self) -> None:
        super().__init__("ExpiredIteratorException", "Iterator expired: the shard iterator is no longer valid")


def release_read_records(enabled: bool) -> None:
    _settings["release_read_records"] = enabled


def _get_records(self: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> dict[str, Any]:
    now = time.monotonic()
    _expire_unused(self, now)
    iterator = self.shard_iterators.get(iterator_arn)
    if iterator is None:
        raise ExpiredIteratorException()
    iterator.last_used = now
    predecessor = iterator.__dict__.pop("predecessor", None)
    if predecessor is not None:
        self.shard_iterators.pop(predecessor, None)
    records = iterator.stream_shard.get(iterator.sequence_number, limit)
    if not records:
        return {"NextShardIterator": iterator_arn, "Records": []}
    last = max(int(record["dynamodb"]["SequenceNumber"]) for record in records)
    successor = ShardIterator(self, iterator.stream_shard, "AFTER_SEQUENCE_NUMBER", last)
    successor.last_used, successor.predecessor = now, iterator_arn
    self.shard_iterators[successor.arn] = successor
    if _settings["release_read_records"]:
        _drop_passed_records(self, iterator.stream_shard)
    return {"NextShardIterator": successor.arn, "Records": records}


def _expire_unused(backend: DynamoDBStreamsBackend, now: float) -> None:
    if now - backend.__dict__.get("last_expiry_sweep", 0.0) < EXPIRY_SWEEP_SECONDS:
        return
    backend.last_expiry_sweep = now
    for arn, iterator in list(backend.shard_iterators.items()):
        last_used = iterator.__dict__.setdefault("last_used", now)
        if now - last_used > ITERATOR_LIFETIME_SECONDS:
            del backend.shard_iterators[arn]


def _drop_passed_records(backend: DynamoDBStreamsBackend, shard: Any) -> None:
    positions = [iterator.sequence_number for iterator in backend.shard_iterators.values()
                 if iterator.stream_shard is shard]
    passed = min(positions, default=shard.starting_sequence_number) - shard.starting_sequence_number
    over_count = len(shard.items) - RETAINED_RECORDS
    cutoff = utcnow() - datetime.timedelta(seconds=RETENTION_SECONDS)
    expired = 0
    while expired < passed and shard.items[expired].record["dynamodb"]["ApproximateCreationDateTime"] < cutoff:
        expired += 1
    drop = min(passed, max(over_count, expired))
    if drop > 0:
        del shard.items[:drop]
        shard.starting_sequence_number += drop


def install() -> None:
    patch_once("streams", {(DynamoDBStreamsBackend, "get_records"): _get_records})
