"""The embedded DynamoDB keeps conditional writes atomic under many concurrent clients."""
from __future__ import annotations

import threading

import boto3
import pytest
from botocore.config import Config

from infra.local.embedded import EmbeddedAws, Snapshots, dynamodb_client

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


def test_writes_raise_the_dirty_flag_and_reads_do_not(embedded):
    client = make_client(embedded.url)
    create_stock_table(client)
    embedded.app.dirty.clear()
    client.get_item(TableName="stock", Key={"sku": {"S": "hot"}})
    assert not embedded.app.dirty.is_set()
    client.put_item(TableName="stock", Item={"sku": {"S": "cold"}, "available": {"N": "1"}})
    assert embedded.app.dirty.is_set()


def test_snapshot_restores_every_item_into_a_fresh_server(tmp_path, embedded):
    client = dynamodb_client(embedded.url, "us-east-1")
    create_stock_table(client)
    for n in range(60):  # more than one BatchWriteItem
        client.put_item(TableName="stock", Item={"sku": {"S": f"sku-{n}"}, "available": {"N": str(n)}})
    path = tmp_path / "dynamodb.json"
    assert Snapshots(client, path).save() == 61

    embedded.reset()  # moto's state is per process: forget it, as a restarted server would have
    fresh = EmbeddedAws().start()
    try:
        fresh_client = dynamodb_client(fresh.url, "us-east-1")
        fresh_client.create_table(TableName="stock", BillingMode="PAY_PER_REQUEST",
                                  KeySchema=[{"AttributeName": "sku", "KeyType": "HASH"}],
                                  AttributeDefinitions=[{"AttributeName": "sku", "AttributeType": "S"}])
        assert Snapshots(fresh_client, path).restore() == 61
        item = fresh_client.get_item(TableName="stock", Key={"sku": {"S": "sku-42"}})["Item"]
        assert item["available"] == {"N": "42"}
    finally:
        fresh.stop()
