"""The embedded DynamoDB keeps conditional writes atomic under many concurrent clients."""
from __future__ import annotations

import threading

import boto3
import pytest
from botocore.config import Config

from infra.local.embedded import EmbeddedAws
from tests.e2e.stack import ROOT

CLIENTS = 64
ATTEMPTS_PER_CLIENT = 4
STOCK = 100


@pytest.fixture
def embedded():
    server = EmbeddedAws().start()
    server.reset()
    yield server
    server.reset()
    server.stop()


def make_client(url: str):
    # One client is thread-safe; its pool gives every thread its own connection,
    # so the server sees CLIENTS concurrent connections.
    return boto3.session.Session().client(
        "dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x",
        config=Config(max_pool_connections=CLIENTS, retries={"max_attempts": 10}))


def create_stock_table(client) -> None:
    client.create_table(TableName="stock", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "sku", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "sku", "AttributeType": "S"}])
    client.put_item(TableName="stock", Item={"sku": {"S": "hot"}, "available": {"N": str(STOCK)}})


def decrement_until_sold_out(client, wins: list[int], start: threading.Barrier) -> None:
    start.wait()
    for _ in range(ATTEMPTS_PER_CLIENT):
        try:
            client.update_item(TableName="stock", Key={"sku": {"S": "hot"}},
                               UpdateExpression="SET available = available - :one",
                               ConditionExpression="available >= :one",
                               ExpressionAttributeValues={":one": {"N": "1"}})
            wins.append(1)
        except client.exceptions.ConditionalCheckFailedException:
            pass


@pytest.mark.parametrize("round_number", range(3))
def test_conditional_decrement_is_exact_under_64_concurrent_clients(embedded, round_number):
    setup = make_client(embedded.url)
    create_stock_table(setup)
    wins: list[int] = []
    start = threading.Barrier(CLIENTS)
    threads = [threading.Thread(target=decrement_until_sold_out, args=(setup, wins, start))
               for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    remaining = int(setup.get_item(TableName="stock", Key={"sku": {"S": "hot"}})["Item"]["available"]["N"])
    assert CLIENTS * ATTEMPTS_PER_CLIENT > STOCK, "the test must try to oversell"
    assert (len(wins), remaining) == (STOCK, 0), f"sold {len(wins)} of {STOCK}, {remaining} left"


def test_acknowledged_writes_raise_the_written_flag_and_reads_and_failed_writes_do_not(embedded):
    client = make_client(embedded.url)
    create_stock_table(client)
    embedded.app.written.clear()
    client.get_item(TableName="stock", Key={"sku": {"S": "hot"}})
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(TableName="stock", Item={"sku": {"S": "hot"}}, ConditionExpression="attribute_not_exists(sku)")
    assert not embedded.app.written.is_set()
    client.put_item(TableName="stock", Item={"sku": {"S": "cold"}, "available": {"N": "1"}})
    assert embedded.app.written.is_set()


def restore_into_fresh_tables(embedded, data_dir):
    """What a restarted stack does: new tables, then the kept data loaded into them."""
    from tests.unit.crash_writer import create_tables

    embedded.reset()
    create_tables(make_client(embedded.url))
    return embedded.keep_data(data_dir)


def acknowledged_then_killed(data_dir, writers: int, acks: int) -> set[str]:
    """Runs the crash writer until it acknowledged `acks` orders, then SIGKILLs it; returns the acknowledged ids."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-m", "tests.unit.crash_writer", str(data_dir), str(writers)],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT)
    acknowledged: set[str] = set()
    try:
        for line in child.stdout:
            if line.startswith("ack "):
                acknowledged.add(line.split()[1])
                if len(acknowledged) >= acks:
                    break
    finally:
        child.kill()  # SIGKILL: no handler, no flush, no final compaction
        child.wait()
    for line in child.stdout:  # acknowledged before the kill, read after it
        if line.startswith("ack "):
            acknowledged.add(line.split()[1])
    return acknowledged


@pytest.mark.parametrize("round_number", range(4))
def test_kill_9_loses_no_acknowledged_write_and_never_half_a_transaction(tmp_path, embedded, round_number):
    from tests.unit.crash_writer import STOCK

    acknowledged = acknowledged_then_killed(tmp_path, writers=4, acks=60 + 70 * round_number)
    restore_into_fresh_tables(embedded, tmp_path)

    client = make_client(embedded.url)
    orders = {item["order_id"]["S"] for item in client.scan(TableName="orders")["Items"]}
    stock = client.get_item(TableName="stock", Key={"sku": {"S": "hot"}})["Item"]
    assert acknowledged <= orders, f"lost {len(acknowledged - orders)} acknowledged orders"
    # Each transaction moved one unit into one order: stock and orders agree whatever the kill interrupted.
    assert int(stock["reserved"]["N"]) == len(orders)
    assert int(stock["available"]["N"]) + len(orders) == STOCK


def test_a_restart_after_a_clean_stop_keeps_everything_in_the_snapshot(tmp_path, embedded):
    first = EmbeddedAws().start()
    client = make_client(first.url)
    create_stock_table(client)
    first.keep_data(tmp_path)
    for n in range(60):
        client.put_item(TableName="stock", Item={"sku": {"S": f"sku-{n}"}, "available": {"N": str(n)}})
    client.delete_item(TableName="stock", Key={"sku": {"S": "sku-7"}})
    first.stop()  # folds the journal into the snapshot

    fresh = EmbeddedAws().start()
    try:
        fresh.reset()
        fresh_client = make_client(fresh.url)
        create_stock_table(fresh_client)  # the stack creates tables before loading
        restored = fresh.keep_data(tmp_path)
        assert restored.lines_replayed <= 1, "a clean stop leaves (almost) nothing to replay"
        assert fresh_client.get_item(TableName="stock", Key={"sku": {"S": "sku-42"}})["Item"]["available"] == \
            {"N": "42"}
        assert "Item" not in fresh_client.get_item(TableName="stock", Key={"sku": {"S": "sku-7"}})
        assert fresh_client.scan(TableName="stock", Select="COUNT")["Count"] == 60
    finally:
        fresh.stop()


def test_queue_messages_survive_a_kill_and_dead_letters_keep_their_queue(tmp_path, embedded):
    import json as json_module

    sqs = boto3.client("sqs", endpoint_url=embedded.url, region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x")
    dead = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    jobs = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "0", "RedrivePolicy": json_module.dumps(
        {"deadLetterTargetArn": dead_arn, "maxReceiveCount": "1"})})["QueueUrl"]
    embedded.keep_data(tmp_path)
    for n in range(3):
        sqs.send_message(QueueUrl=jobs, MessageBody=f"job-{n}")
    [first] = sqs.receive_message(QueueUrl=jobs, MaxNumberOfMessages=1)["Messages"]
    sqs.delete_message(QueueUrl=jobs, ReceiptHandle=first["ReceiptHandle"])
    sqs.receive_message(QueueUrl=jobs, MaxNumberOfMessages=1)  # received once: the next receive dead-letters it
    sqs.receive_message(QueueUrl=jobs, MaxNumberOfMessages=10)
    embedded.app.journal.close()  # a kill: no compaction
    embedded.app.journal = None

    embedded.reset()
    sqs.create_queue(QueueName="jobs-dlq")  # the stack creates its queues before loading the kept data
    embedded.keep_data(tmp_path)

    def bodies(name):
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return sorted(m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))
    waiting, dead_letters = bodies("jobs"), bodies("jobs-dlq")
    assert (waiting, dead_letters) == (["job-2"], ["job-1"]), "a dead letter stays in the dead-letter queue"
