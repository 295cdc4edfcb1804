"""Raw events: through Kinesis Data Firehose to S3 in the cloud (moto's here), JSON lines under .local/ locally."""
from __future__ import annotations

import json

import pytest

from tests.analytics.conftest import pay, track

BUCKET = "test-raw-events"


@pytest.fixture
def firehose(aws, monkeypatch):
    """A delivery stream into a bucket (as the data stack's), named as each stage names it to the functions."""
    import boto3

    from chalicelib.core import config

    boto3.client("s3", region_name=config.region()).create_bucket(Bucket=BUCKET)
    name = f"{config.table_prefix()}events"
    boto3.client("firehose", region_name=config.region()).create_delivery_stream(
        DeliveryStreamName=name, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": "arn:aws:iam::123456789012:role/firehose",
                                            "BucketARN": f"arn:aws:s3:::{BUCKET}", "Prefix": "events/"})
    monkeypatch.setenv("MALL_EVENTS_FIREHOSE", name)
    return name


def delivered() -> list[dict]:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    events = []
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode("utf-8")
        events += [json.loads(line) for line in body.splitlines() if line]
    return events


def test_every_source_writes_its_raw_events_through_firehose(client, shop, alice, pump, firehose):
    from chalicelib.analytics import sink

    assert isinstance(sink.current(), sink.FirehoseSink)
    sku = shop.sku(price=2500)
    assert track(client, [{"type": "PRODUCT_VIEW", "product_id": "P1"}], device="fh-device").status_code == 202
    assert alice.api.post("/cart/items", {"sku_id": sku, "quantity": 2}).status_code in (200, 201)
    order = alice.placed({sku: 1})
    pay(alice.api, order["order_id"])
    pump.drain()

    events = delivered()
    assert sorted(event["type"] for event in events) == [
        "CART_ADD", "ORDER_CREATED", "ORDER_PAID", "ORDER_STATUS_CHANGED", "PRODUCT_VIEW"]
    assert {event["day"] for event in events} == {"2026-11-25"}
    add = next(event for event in events if event["type"] == "CART_ADD")
    assert (add["visitor"], add["sku_id"], add["quantity"]) == (f"u:{alice.user_id}", sku, 2)
    paid = next(event for event in events if event["type"] == "ORDER_PAID")
    assert (paid["order_id"], paid["amount"], paid["provider"]) == (order["order_id"], order["payable"], "wechat")


def test_firehose_records_it_refuses_are_sent_again():
    from chalicelib.analytics.sink import FirehoseSink

    class Throttling:
        def __init__(self):
            self.calls: list[list[bytes]] = []

        def put_record_batch(self, DeliveryStreamName, Records):
            self.calls.append([record["Data"] for record in Records])
            if len(self.calls) == 1:
                return {"FailedPutCount": 1, "RequestResponses": [{"RecordId": "1"},
                                                                  {"ErrorCode": "ServiceUnavailableException"}]}
            return {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "2"}]}

    client = Throttling()
    FirehoseSink("s", client=client, sleep=lambda _: None).put([{"day": "d", "n": 1}, {"day": "d", "n": 2}])
    assert [[json.loads(data)["n"] for data in call] for call in client.calls] == [[1, 2], [2]]


def test_firehose_that_keeps_refusing_fails_the_batch():
    from chalicelib.analytics.sink import FirehoseSink

    class Refusing:
        def put_record_batch(self, DeliveryStreamName, Records):
            return {"FailedPutCount": len(Records), "RequestResponses": [{"ErrorCode": "X"} for _ in Records]}

    with pytest.raises(RuntimeError, match="refused 1 event"):
        FirehoseSink("s", client=Refusing(), sleep=lambda _: None).put([{"day": "d"}])


def test_big_batches_are_split_within_firehose_limits():
    from chalicelib.analytics.sink import FirehoseSink

    class Recording:
        def __init__(self):
            self.sizes: list[int] = []

        def put_record_batch(self, DeliveryStreamName, Records):
            self.sizes.append(len(Records))
            return {"FailedPutCount": 0, "RequestResponses": [{} for _ in Records]}

    client = Recording()
    FirehoseSink("s", client=client).put([{"day": "d", "n": n} for n in range(1201)])
    assert client.sizes == [500, 500, 201]


def test_locally_each_shop_day_is_a_json_lines_file(tmp_path):
    from chalicelib.analytics.sink import JsonLinesSink

    local = JsonLinesSink(tmp_path / "events")
    local.put([{"day": "2026-11-25", "type": "A"}, {"day": "2026-11-26", "type": "B"}])
    local.put([{"day": "2026-11-25", "type": "C", "q": "连衣裙"}])
    assert [event["type"] for event in local.read("2026-11-25")] == ["A", "C"]
    assert (tmp_path / "events" / "2026-11-26.jsonl").read_text(encoding="utf-8") == '{"day":"2026-11-26","type":"B"}\n'
    assert local.read("2026-11-25")[1]["q"] == "连衣裙"


def test_without_a_stream_or_a_directory_the_sink_is_a_configuration_error(monkeypatch):
    from chalicelib.analytics import sink
    from chalicelib.core.config import ConfigError

    monkeypatch.delenv("MALL_EVENTS_DIR", raising=False)
    monkeypatch.delenv("MALL_EVENTS_FIREHOSE", raising=False)
    with pytest.raises(ConfigError, match="MALL_EVENTS_FIREHOSE"):
        sink.current()
