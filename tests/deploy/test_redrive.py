"""`python -m infra redrive`: dead letters replayed against an endpoint (moto's server, as the local stack's)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "redrive-"
DLQ = "catalog_search_indexer-dlq"

SEED = """
from chalicelib.catalog.demo import seed_demo_catalog
from infra.tables import create_tables
create_tables()
print(seed_demo_catalog())
"""


def environment(endpoint: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MALL_", "AWS_"))}
    return {**env, "MALL_DYNAMODB_ENDPOINT": endpoint, "MALL_TABLE_PREFIX": PREFIX, "MALL_PROVIDERS": "sandbox",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def python(endpoint: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=environment(endpoint), capture_output=True,
                          text=True, timeout=180)


def client(endpoint: str, service: str):
    extra = {"config": Config(account_id_endpoint_mode="disabled")} if service == "dynamodbstreams" else {}
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing", **extra)


def stream_records(endpoint: str) -> tuple[str, str, list[dict]]:
    dynamodb, streams = client(endpoint, "dynamodb"), client(endpoint, "dynamodbstreams")
    arn = dynamodb.describe_table(TableName=f"{PREFIX}products")["Table"]["LatestStreamArn"]
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return arn, shard["ShardId"], streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]


def index_size(endpoint: str) -> int:
    return client(endpoint, "dynamodb").scan(TableName=f"{PREFIX}search_index", Select="COUNT")["Count"]


def test_stream_dead_letters_are_replayed_to_their_handler_and_deleted(endpoint):
    seeded = python(endpoint, "-c", SEED)
    assert seeded.returncode == 0 and int(seeded.stdout.split()[-1]) > 2, seeded.stderr
    arn, shard, records = stream_records(endpoint)
    assert len(records) > 2 and index_size(endpoint) == 0  # nobody consumed the stream yet
    sqs = client(endpoint, "sqs")
    url = sqs.get_queue_url(QueueName=PREFIX + DLQ)["QueueUrl"]  # created with the tables
    # Lambda's on-failure record for the first two records, and the rest as the local pump writes them.
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({
        "requestContext": {"condition": "RetryAttemptsExhausted"},
        "DDBStreamBatchInfo": {"shardId": shard, "streamArn": arn, "batchSize": 2,
                               "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                               "endSequenceNumber": records[1]["dynamodb"]["SequenceNumber"]}}))
    as_delivered = [{**record, "eventSourceARN": arn, "dynamodb": {
        **record["dynamodb"], "ApproximateCreationDateTime": int(record["dynamodb"]["ApproximateCreationDateTime"]
                                                                 .timestamp())}} for record in records[2:]]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Records": as_delivered}))

    result = python(endpoint, "-m", "infra", "redrive", DLQ)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "replayed 2 message(s); 0 failed" in result.stdout
    assert index_size(endpoint) > 0
    assert not sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages")


def test_a_dead_letter_that_still_fails_stays_and_the_command_says_so(endpoint):
    sqs = client(endpoint, "sqs")
    url = sqs.get_queue_url(QueueName=PREFIX + DLQ)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"something": "else"}))

    result = python(endpoint, "-m", "infra", "redrive", DLQ)

    assert result.returncode == 1 and "replay failed, kept" in result.stdout, result.stdout + result.stderr
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages")


def test_a_queue_that_is_no_dead_letter_queue_is_refused(endpoint):
    result = python(endpoint, "-m", "infra", "redrive", "orders")
    assert result.returncode == 1 and "not a dead-letter queue" in result.stderr, result.stdout + result.stderr


def test_a_queue_dead_letter_goes_back_to_its_source_queue_in_aws(monkeypatch):
    from moto import mock_aws

    from infra.redrive import redrive
    from infra.template import QueueSpec

    monkeypatch.setattr("infra.template.discovered_queues", lambda: [QueueSpec("notifications", 60)])
    monkeypatch.delenv("MALL_DYNAMODB_ENDPOINT", raising=False)
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        source = sqs.create_queue(QueueName="micromall-prod-notifications")["QueueUrl"]
        dead = sqs.create_queue(QueueName="micromall-prod-notifications-dlq")["QueueUrl"]
        for n in range(12):
            sqs.send_message(QueueUrl=dead, MessageBody=f"message {n}")

        report = redrive("notifications-dlq", stage="checkout", say=lambda line: None)

        assert report.replayed == 12 and not report.failed
        moved = set()
        while messages := sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10).get("Messages"):
            moved |= {message["Body"] for message in messages}
            for message in messages:
                sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
        assert moved == {f"message {n}" for n in range(12)}
        assert not sqs.receive_message(QueueUrl=dead).get("Messages")
