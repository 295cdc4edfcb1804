"""The event pump delivers stream records, queue messages and schedules to the handlers an app registers."""
from __future__ import annotations

import json

import boto3
import pytest
from chalice import Blueprint, Chalice, Rate
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.core import events
from chalicelib.core.db import NEW_AND_OLD_IMAGES, table_meta
from infra.local.pump import EventPump


class Widget(Model):
    Meta = table_meta("pump-widgets", stream_view_type=NEW_AND_OLD_IMAGES)
    widget_id = UnicodeAttribute(hash_key=True)
    count = NumberAttribute(default=0)


def build_app(seen: dict[str, list]) -> Chalice:
    """An app whose handlers come from a blueprint, as the features' do."""
    blueprint = Blueprint(__name__)

    @blueprint.on_dynamodb_record(stream_arn=events.stream_arn("pump-widgets"), batch_size=10)
    def widget_changed(event):
        for record in event:
            seen["stream"].append((record.event_name, events.image(record, "new"), events.image(record, "old"),
                                   record.event_source_arn))

    @blueprint.on_sqs_message(queue=events.queue_name("pump-jobs"), batch_size=5)
    def job_arrived(event):
        for record in event:
            seen["queue"].append(json.loads(record.body))

    @blueprint.schedule(Rate(1, unit=Rate.MINUTES))
    def every_minute(event):
        seen["schedule"].append(event.to_dict()["detail-type"])

    app = Chalice(app_name="pump-test")
    app.register_blueprint(blueprint)
    return app


@pytest.fixture
def seen():
    return {"stream": [], "queue": [], "schedule": []}


@pytest.fixture
def pump(aws, seen):
    Widget.create_table(wait=True)
    pump = EventPump(build_app(seen), raise_errors=True)
    pump.create_queues()
    return pump


def test_pump_discovers_every_handler_kind_from_the_app(pump):
    assert [c.handler for c in pump.stream_cursors] == ["widget_changed"]
    assert [s.name for s in pump.queue_sources] == ["job_arrived"]
    assert [s.name for s in pump.schedules] == ["every_minute"]


def test_stream_records_reach_the_handler_with_old_and_new_images(pump, seen):
    Widget(widget_id="w1", count=1).save()
    widget = Widget.get("w1")
    widget.update(actions=[Widget.count.add(2)])
    widget.delete()

    assert pump.drain() == 3
    names = [entry[0] for entry in seen["stream"]]
    assert names == ["INSERT", "MODIFY", "REMOVE"], names
    assert seen["stream"][1][1] == {"widget_id": "w1", "count": 3}
    assert seen["stream"][1][2] == {"widget_id": "w1", "count": 1}
    assert ":table/test-pump-widgets/stream/" in seen["stream"][0][3]


def test_each_stream_record_is_delivered_once_per_drain(pump, seen):
    Widget(widget_id="w1").save()
    pump.drain()
    Widget(widget_id="w2").save()
    pump.drain()
    assert [entry[1]["widget_id"] for entry in seen["stream"]] == ["w1", "w2"]


def test_queue_messages_reach_the_handler_and_are_deleted_after_success(pump, seen):
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=events.queue_name("pump-jobs"))["QueueUrl"]
    for n in range(7):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))

    pump.drain()

    assert sorted(message["n"] for message in seen["queue"]) == list(range(7))
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_schedules_run_their_handlers_with_a_scheduled_event(pump, seen):
    assert pump.run_schedules() == 1
    assert seen["schedule"] == ["Scheduled Event"]


def test_a_failing_stream_handler_gets_the_same_batch_again(aws):
    Widget.create_table(wait=True)
    blueprint = Blueprint(__name__)
    attempts = []

    @blueprint.on_dynamodb_record(stream_arn=events.stream_arn("pump-widgets"))
    def flaky(event):
        attempts.append([record.keys["widget_id"]["S"] for record in event])
        if len(attempts) == 1:
            raise RuntimeError("first delivery fails")

    app = Chalice(app_name="pump-flaky")
    app.register_blueprint(blueprint)
    pump = EventPump(app)
    Widget(widget_id="w1").save()

    pump.poll_once()
    pump.poll_once()

    assert attempts == [["w1"], ["w1"]]


def test_the_background_loop_runs_schedules_every_interval(pump, seen):
    pump.schedule_seconds = 0.05
    pump.start(poll_seconds=0.01)
    try:
        import time

        deadline = time.monotonic() + 5
        while len(seen["schedule"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        pump.stop()
    assert len(seen["schedule"]) >= 2
