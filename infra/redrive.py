"""`python -m infra redrive <queue> [--stage S]`: replay what a dead-letter queue holds, then delete it.

Every event handler is idempotent (a conditional marker per effect), so a replay is safe.
Two kinds of dead-letter queue, told apart by their names (infra.triggers):

- `<queue>-dlq` of an SQS queue a handler listens to: each message goes back to its source
  queue, where the handler receives it again;
- `<handler>-dlq`, a stream trigger's on-failure queue. A message there is either Lambda's
  on-failure record (`DDBStreamBatchInfo`: the shard and the first and last sequence numbers
  of the batch, not the records), whose records are read again from the stream (a stream
  keeps 24 hours), or the event itself (`{"Records": [...]}`, as the local pump writes it).
  The records are delivered to the handler: in AWS by invoking its function
  `micromall-<stage>-<handler>` (`--stage` names it); against an endpoint
  (MALL_DYNAMODB_ENDPOINT: the local stack, whose embedded SQS and streams answer there) by
  calling the handler of the app in this process.

A message is deleted only after its replay succeeded; one that fails stays, and the
command exits 1 naming it.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.cloud import InfraError

Say = Callable[[str], None]
MAX_RECORDS_PER_INVOKE = 1000


@dataclass
class Report:
    replayed: int = 0
    failed: list[str] = field(default_factory=list)  # message ids left in the queue


class LocalContext:
    """The Lambda context attributes the mall's handlers read."""

    def __init__(self, function_name: str, timeout_seconds: float = 60.0) -> None:
        self.function_name = function_name
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = 512
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _clients(region: str | None):
    import boto3
    from botocore.config import Config

    from chalicelib.core import config

    endpoint = config.dynamodb_endpoint()
    kwargs = {"endpoint_url": endpoint, "region_name": region or config.region()}
    streams = boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"), **kwargs)
    return endpoint, boto3.client("sqs", **kwargs), streams, boto3.client("lambda", **kwargs)


def _prefix(stage: str | None) -> str:
    from chalicelib.core import config
    from infra.cloud import check_stage
    from infra.stages import table_prefix

    return table_prefix(check_stage(stage)) if stage else config.table_prefix()


def redrive(queue: str, *, stage: str | None = None, region: str | None = None, say: Say = print) -> Report:
    """Replay every message of the dead-letter queue `queue` (its logical name, e.g. `checkout_order_stream-dlq`)."""
    from infra.template import dead_letter_queue_name, discovered_queues
    from infra.triggers import stream_dead_letter_queues, trigger_settings

    endpoint, sqs, streams, lambda_ = _clients(region)
    if endpoint is None and stage is None:
        raise InfraError("name the stage whose functions replay the records: --stage S")
    prefix = _prefix(stage)
    logical = queue.removeprefix(prefix)
    sources = {dead_letter_queue_name(spec.logical_name): spec.logical_name for spec in discovered_queues()}
    if logical not in sources and logical not in stream_dead_letter_queues():
        raise InfraError(f"{logical!r} is not a dead-letter queue of the mall; they are: "
                         + ", ".join(sorted([*sources, *stream_dead_letter_queues()])))
    url = sqs.get_queue_url(QueueName=prefix + logical)["QueueUrl"]
    if logical in sources:
        target = sqs.get_queue_url(QueueName=prefix + sources[logical])["QueueUrl"]
        return _drain(sqs, url, lambda message: sqs.send_message(QueueUrl=target, MessageBody=message["Body"]), say)
    handler = logical.removesuffix("-dlq")
    assert trigger_settings(handler).on_failure_queue == logical
    deliver = _in_process(handler) if endpoint is not None else _invoking(lambda_, stage, handler)
    return _drain(sqs, url, lambda message: deliver(_records(streams, json.loads(message["Body"]))), say)


def _drain(sqs, url: str, replay: Callable[[dict], Any], say: Say) -> Report:
    report, kept = Report(), []
    while True:
        # A message that failed stays invisible until the end, so each is tried once per run.
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                       VisibilityTimeout=900).get("Messages", [])
        if not messages:
            break
        for message in messages:
            try:
                replay(message)
            except Exception as exc:  # noqa: BLE001 - report it, keep it, go on with the others
                say(f"  {message['MessageId']}: replay failed, kept: {exc}")
                report.failed.append(message["MessageId"])
                kept.append(message["ReceiptHandle"])
                continue
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            report.replayed += 1
    for receipt in kept:  # visible again for the next run (or an operator's look)
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0)
    say(f"replayed {report.replayed} message(s); {len(report.failed)} failed and stay in the queue")
    return report


def _records(streams, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream records a dead letter stands for: in it, or read again from the stream."""
    if isinstance(body.get("Records"), list):
        return body["Records"]
    info = body.get("DDBStreamBatchInfo")
    if not info:
        raise InfraError("neither stream records nor Lambda's DDBStreamBatchInfo")
    iterator = streams.get_shard_iterator(StreamArn=info["streamArn"], ShardId=info["shardId"],
                                          ShardIteratorType="AT_SEQUENCE_NUMBER",
                                          SequenceNumber=info["startSequenceNumber"])["ShardIterator"]
    last, records = int(info["endSequenceNumber"]), []
    while iterator and len(records) < MAX_RECORDS_PER_INVOKE:
        response = streams.get_records(ShardIterator=iterator, Limit=100)
        batch = [record for record in response["Records"] if int(record["dynamodb"]["SequenceNumber"]) <= last]
        records.extend({**record, "eventSourceARN": info["streamArn"]} for record in batch)
        if len(batch) < len(response["Records"]) or not response["Records"]:
            break
        iterator = response.get("NextShardIterator")
    if not records:
        raise InfraError(f"shard {info['shardId']} no longer holds sequence {info['startSequenceNumber']} "
                         "(a stream keeps 24 hours): see docs/RUNBOOK.md")
    return [_jsonable(record) for record in records]


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    data = dict(record.get("dynamodb", {}))
    created = data.get("ApproximateCreationDateTime")
    if hasattr(created, "timestamp"):
        data["ApproximateCreationDateTime"] = int(created.timestamp())
    return {**record, "dynamodb": data}


def _in_process(handler: str) -> Callable[[list[dict]], None]:
    import app as app_module

    function = app_module.app.handler_map[handler]
    return lambda records: function({"Records": records}, LocalContext(handler))


def _invoking(lambda_, stage: str, handler: str) -> Callable[[list[dict]], None]:
    from infra.stages import lambda_name

    name = lambda_name(stage, handler)

    def invoke(records: list[dict]) -> None:
        response = lambda_.invoke(FunctionName=name, Payload=json.dumps({"Records": records}, default=str).encode())
        if response.get("FunctionError"):
            raise InfraError(f"{name}: {response['Payload'].read().decode(errors='replace')[:500]}")
    return invoke
