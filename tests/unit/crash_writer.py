"""A child process for the durability tests: an embedded server journaling to a directory, written to until killed.

`python -m tests.unit.crash_writer <data_dir> <writers>` starts the server (compacting
every 50 ms, so kills land before, during and after compactions), then each writer
thread moves one unit of stock into a new order in one transaction, over and over,
and prints `ack <order_id>` once DynamoDB answered. The parent kills it with SIGKILL.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import boto3
from botocore.config import Config

from infra.local.embedded import EmbeddedAws

STOCK = 1_000_000


def create_tables(client) -> None:
    for name, key in (("stock", "sku"), ("orders", "order_id")):
        client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})


def order_transaction(order_id: str) -> list[dict]:
    return [
        {"Update": {"TableName": "stock", "Key": {"sku": {"S": "hot"}},
                    "UpdateExpression": "SET available = available - :one, reserved = reserved + :one",
                    "ConditionExpression": "available >= :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Put": {"TableName": "orders", "Item": {"order_id": {"S": order_id}, "units": {"N": "1"}},
                 "ConditionExpression": "attribute_not_exists(order_id)"}},
    ]


def write_forever(client, writer: int, lock: threading.Lock) -> None:
    for n in range(10**9):
        order_id = f"w{writer}-{n}"
        client.transact_write_items(TransactItems=order_transaction(order_id))
        with lock:
            print(f"ack {order_id}", flush=True)


def main() -> None:
    data_dir, writers = Path(sys.argv[1]), int(sys.argv[2])
    server = EmbeddedAws().start()
    client = boto3.client("dynamodb", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x", config=Config(max_pool_connections=writers))
    create_tables(client)
    restored = server.keep_data(data_dir, compact_seconds=0.05)
    if not restored.tables.get("stock"):
        client.put_item(TableName="stock", Item={"sku": {"S": "hot"}, "available": {"N": str(STOCK)},
                                                 "reserved": {"N": "0"}})
    print("ready", flush=True)
    lock = threading.Lock()
    threads = [threading.Thread(target=write_forever, args=(client, n, lock), daemon=True) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
