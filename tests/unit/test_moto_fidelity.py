"""Moto, patched for the local stack, behaves as before where it was right and as DynamoDB where it was not.

In-process moto (the `aws` fixture installs the same patches as the embedded server).
"""
from __future__ import annotations

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

from infra.local import moto_pin, moto_streams, moto_tables
from tests.e2e.stack import ROOT

REGION = "us-east-1"


def client():
    return boto3.client("dynamodb", region_name=REGION)


def streams_client():
    from botocore.config import Config

    # As in the pump: the regional endpoint, which moto routes (botocore 1.44 prefers account-id endpoints).
    return boto3.client("dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled"))


def create_table(name: str = "things", stream: bool = True) -> None:
    extra = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}} if stream else {}
    client().create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "due", "ts")],
        GlobalSecondaryIndexes=[{"IndexName": "due", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "due", "KeyType": "HASH"},
                                               {"AttributeName": "ts", "KeyType": "RANGE"}]}],
        **extra)


def moto_table(name: str = "things") -> Table:
    return dynamodb_backends["123456789012"][REGION].tables[name]


def item(pk: str, sk: str, **attributes: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in attributes.items()}}


def test_the_installed_moto_is_the_one_the_patches_were_written_for():
    assert moto_pin.differences() == []
    pins = (ROOT / "requirements-dev.txt").read_text()
    assert f"moto[server]=={moto_pin.PINNED_VERSION}" in pins, "moto_pin.PINNED_VERSION must follow requirements"


def test_a_changed_moto_internal_is_refused(monkeypatch):
    monkeypatch.setitem(moto_pin.FINGERPRINTS, "Table.query", "0" * 16)
    with pytest.raises(moto_pin.UnknownMotoVersion, match="Table.query"):
        moto_pin.check_pinned()


def test_a_cancelled_transaction_restores_its_items_in_place_and_adds_no_stream_record(aws, monkeypatch):
    create_table()
    dynamo = client()
    dynamo.put_item(TableName="things", Item=item("a", "1", due="EXPIRE#0", ts="t1", n="x"))
    table = moto_table()
    records_before = len(table.stream_shard.items)
    monkeypatch.setattr(Table, "__deepcopy__", lambda self, memo: pytest.fail("a transaction copied a table"),
                        raising=False)

    with pytest.raises(dynamo.exceptions.TransactionCanceledException) as cancelled:
        dynamo.transact_write_items(TransactItems=[
            {"Update": {"TableName": "things", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET n = :y REMOVE due", "ExpressionAttributeValues": {":y": {"S": "y"}}}},
            {"Put": {"TableName": "things", "Item": item("b", "1", due="EXPIRE#0", ts="t2")}},
            {"Put": {"TableName": "things", "Item": item("a", "2"), "ConditionExpression": "attribute_exists(pk)"}},
        ])

    reasons = [reason["Code"] for reason in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    assert moto_table() is table, "the live Table object is kept"
    assert len(table.stream_shard.items) == records_before
    assert dynamo.get_item(TableName="things", Key={"pk": {"S": "a"}, "sk": {"S": "1"}})["Item"]["n"] == {"S": "x"}
    assert "Item" not in dynamo.get_item(TableName="things", Key={"pk": {"S": "b"}, "sk": {"S": "1"}})
    due = dynamo.query(TableName="things", IndexName="due", KeyConditionExpression="due = :d",
                       ExpressionAttributeValues={":d": {"S": "EXPIRE#0"}})["Items"]
    assert [entry["pk"]["S"] for entry in due] == ["a"], "the index follows the rollback"


def test_a_committed_transaction_writes_every_item_and_one_stream_record_each(aws):
    create_table()
    dynamo = client()
    dynamo.transact_write_items(TransactItems=[
        {"Put": {"TableName": "things", "Item": item("a", str(n)), "ConditionExpression": "attribute_not_exists(pk)"}}
        for n in range(40)])
    assert dynamo.query(TableName="things", KeyConditionExpression="pk = :a",
                        ExpressionAttributeValues={":a": {"S": "a"}}, Select="COUNT")["Count"] == 40
    assert len(moto_table().stream_shard.items) == 40


def test_transaction_validation_errors_still_roll_back_and_raise(aws):
    create_table()
    dynamo = client()
    with pytest.raises(dynamo.exceptions.ClientError, match="ValidationException"):
        dynamo.transact_write_items(TransactItems=[
            {"Put": {"TableName": "things", "Item": item("a", "1")}},
            {"Put": {"TableName": "things", "Item": item("a", "1")}},  # the same item twice
        ])
    assert "Item" not in dynamo.get_item(TableName="things", Key={"pk": {"S": "a"}, "sk": {"S": "1"}})


operations = st.lists(st.tuples(
    st.sampled_from(["put", "update", "delete", "transact"]),
    st.sampled_from(["p1", "p2", "p3"]), st.sampled_from(["1", "2", "3", "4"]),
    st.sampled_from([None, "EXPIRE#0", "EXPIRE#1", "CONFIRM#0"]), st.sampled_from(["t1", "t2", "t3"])),
    min_size=1, max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
def test_queries_read_one_partition_and_answer_exactly_as_moto_walking_the_table(aws, steps):
    """Any mix of writes, then every partition and index query: narrowed results equal moto's own full walk."""
    if "things" not in client().list_tables()["TableNames"]:
        create_table(stream=False)
    dynamo = client()
    for kind, pk, sk, due, at in steps:
        key = {"pk": {"S": pk}, "sk": {"S": sk}}
        attributes = {"due": due, "ts": at} if due else {"ts": at}
        if kind == "put":
            dynamo.put_item(TableName="things", Item=item(pk, sk, **attributes))
        elif kind == "update" and due:
            dynamo.update_item(TableName="things", Key=key, UpdateExpression="SET due = :d, ts = :a",
                               ExpressionAttributeValues={":d": {"S": due}, ":a": {"S": at}})
        elif kind == "update":
            dynamo.update_item(TableName="things", Key=key, UpdateExpression="REMOVE due")
        elif kind == "delete":
            dynamo.delete_item(TableName="things", Key=key)
        else:
            checked = ("p2", "2") if (pk, sk) == ("p1", "1") else ("p1", "1")
            try:
                dynamo.transact_write_items(TransactItems=[
                    {"Put": {"TableName": "things", "Item": item(pk, sk, **attributes)}},
                    {"ConditionCheck": {"TableName": "things", "Key": {"pk": {"S": checked[0]}, "sk": {"S": checked[1]}},
                                        "ConditionExpression": "attribute_exists(pk)"}}])
            except dynamo.exceptions.TransactionCanceledException:
                pass
    table = moto_table()
    for pk in ("p1", "p2", "p3"):
        assert_same_answer(dynamo, table, {"KeyConditionExpression": "pk = :v",
                                           "ExpressionAttributeValues": {":v": {"S": pk}}})
    for due in ("EXPIRE#0", "EXPIRE#1", "CONFIRM#0"):
        for forward in (True, False):
            assert_same_answer(dynamo, table, {"IndexName": "due", "KeyConditionExpression": "due = :v AND ts <= :t",
                                               "ExpressionAttributeValues": {":v": {"S": due}, ":t": {"S": "t2"}},
                                               "ScanIndexForward": forward, "Limit": 2})
    dynamo.delete_table(TableName="things")


def assert_same_answer(dynamo, table, query: dict) -> None:
    narrowed = paged(dynamo, query)
    original_query, original_all_items = moto_pin.ORIGINALS["Table.query"], moto_pin.ORIGINALS["Table.all_items"]
    Table.query, Table.all_items = original_query, original_all_items
    try:
        walked = paged(dynamo, query)
    finally:
        Table.query, Table.all_items = moto_tables._table_query, moto_tables._table_all_items
    assert narrowed == walked, query


def paged(dynamo, query: dict) -> list[list[dict]]:
    pages, start = [], None
    while True:
        page = dynamo.query(TableName="things", **query, **({"ExclusiveStartKey": start} if start else {}))
        pages.append(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


def test_idle_polls_leave_no_iterators_behind(aws):
    create_table()
    streams = streams_client()
    arn = client().describe_table(TableName="things")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    backend = dynamodbstreams_backends["123456789012"][REGION]
    held = len(backend.shard_iterators)
    for round_number in range(2_000):
        if round_number % 500 == 0:
            client().put_item(TableName="things", Item=item("a", str(round_number)))
        iterator = streams.get_records(ShardIterator=iterator)["NextShardIterator"]
    assert len(backend.shard_iterators) <= held + 1, "superseded iterators are released"


def test_read_records_are_released_beyond_the_retained_count(aws, monkeypatch):
    create_table()
    monkeypatch.setattr(moto_streams, "RETAINED_RECORDS", 5)
    moto_streams.release_read_records(True)
    try:
        streams = streams_client()
        arn = client().describe_table(TableName="things")["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        lagging = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        reader = lagging["ShardIterator"]
        for n in range(12):
            client().put_item(TableName="things", Item=item("a", str(n)))
        records = streams.get_records(ShardIterator=reader)
        assert len(records["Records"]) == 12
        assert len(moto_table().stream_shard.items) == 12, "nothing is dropped while a reader still needs it"
        client().put_item(TableName="things", Item=item("a", "12"))
        streams.get_records(ShardIterator=records["NextShardIterator"])
        assert len(moto_table().stream_shard.items) == 5, "only the newest RETAINED_RECORDS stay once read"
        with pytest.raises(streams.exceptions.ExpiredIteratorException):
            streams.get_records(ShardIterator=reader)  # superseded once its successor was used
    finally:
        moto_streams.release_read_records(False)


def test_a_backup_of_a_table_with_index_partitions_restores_with_its_own(aws):
    create_table()
    dynamo = client()
    dynamo.put_item(TableName="things", Item=item("a", "1", due="EXPIRE#0", ts="t1"))
    query = {"IndexName": "due", "KeyConditionExpression": "due = :d",
             "ExpressionAttributeValues": {":d": {"S": "EXPIRE#0"}}}
    assert len(dynamo.query(TableName="things", **query)["Items"]) == 1  # the partitions exist now
    arn = dynamo.create_backup(TableName="things", BackupName="things-backup")["BackupDetails"]["BackupArn"]
    dynamo.restore_table_from_backup(TargetTableName="restored", BackupArn=arn)

    assert len(dynamo.query(TableName="restored", **query)["Items"]) == 1
