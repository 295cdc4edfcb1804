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


def failing_app(fails, calls: list) -> Chalice:
    """A stream handler that raises while any record of its batch is in `fails`, recording every batch it got."""
    blueprint = Blueprint(__name__)

    @blueprint.on_dynamodb_record(stream_arn=events.stream_arn("pump-widgets"), batch_size=10)
    def picky(event):
        ids = [record.keys["widget_id"]["S"] for record in event]
        calls.append(ids)
        if set(ids) & set(fails):
            raise RuntimeError("poison record")

    app = Chalice(app_name="pump-picky")
    app.register_blueprint(blueprint)
    return app


def use_settings(monkeypatch, **settings):
    from infra import triggers
    from infra.local import pump as pump_module

    chosen = triggers.TriggerSettings(**settings)
    monkeypatch.setattr(pump_module, "trigger_settings", lambda name: chosen)
    return chosen


def dead_letters(queue: str) -> list[dict]:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=events.queue_name(queue))["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_a_poison_record_is_split_out_retried_then_described_on_the_failure_queue(aws, monkeypatch):
    Widget.create_table(wait=True)
    use_settings(monkeypatch, maximum_retry_attempts=1, on_failure_queue="pump-failures")
    calls: list = []
    pump = EventPump(failing_app({"w3"}, calls))
    pump.create_queues()
    for n in range(6):
        Widget(widget_id=f"w{n}").save()

    pump.poll_once()

    delivered = {widget for batch in calls for widget in batch if "w3" not in batch}
    assert delivered == {"w0", "w1", "w2", "w4", "w5"}, "the good records around the poison one get through"
    assert calls.count(["w3"]) == 2, "the poison record alone: one attempt and one retry"
    [letter] = dead_letters("pump-failures")
    info = letter["DDBStreamBatchInfo"]
    assert (info["batchSize"], info["startSequenceNumber"]) == (1, info["endSequenceNumber"])
    assert letter["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert letter["requestContext"]["approximateInvokeCount"] == 2
    assert pump.dead_lettered == 1


def test_without_splitting_the_whole_batch_is_retried_then_given_up(aws, monkeypatch):
    Widget.create_table(wait=True)
    use_settings(monkeypatch, maximum_retry_attempts=2, bisect_batch_on_function_error=False)
    calls: list = []
    pump = EventPump(failing_app({"w1"}, calls))
    for n in range(3):
        Widget(widget_id=f"w{n}").save()

    pump.poll_once()
    pump.poll_once()  # the shard moved on: nothing is delivered again

    assert calls == [["w0", "w1", "w2"]] * 3
    assert pump.dead_lettered == 3


def dead_lettered_metrics(text: str) -> list[tuple[float, str]]:
    """(value, handler) of every DeadLettered embedded-metric line printed."""
    found = []
    for line in text.splitlines():
        if line.startswith('{"_aws"'):
            metric = json.loads(line)
            if "DeadLettered" in metric:
                found.extend((value, metric["handler"]) for value in metric["DeadLettered"])
    return found


def test_records_put_on_the_failure_queue_are_counted_as_dead_lettered(aws, monkeypatch, capsys):
    Widget.create_table(wait=True)
    use_settings(monkeypatch, maximum_retry_attempts=0, bisect_batch_on_function_error=False,
                 on_failure_queue="pump-failures")
    pump = EventPump(failing_app({"w1"}, []))
    pump.create_queues()
    for n in range(3):
        Widget(widget_id=f"w{n}").save()

    pump.poll_once()

    [letter] = dead_letters("pump-failures")
    assert letter["DDBStreamBatchInfo"]["batchSize"] == 3
    assert dead_lettered_metrics(capsys.readouterr().out) == [(3.0, "picky")]


def test_records_dropped_without_a_failure_queue_are_not_counted_as_dead_lettered(aws, monkeypatch, capsys):
    Widget.create_table(wait=True)
    use_settings(monkeypatch, maximum_retry_attempts=0, bisect_batch_on_function_error=False)
    pump = EventPump(failing_app({"w0"}, []))
    Widget(widget_id="w0").save()

    pump.poll_once()

    assert pump.dead_lettered == 1  # given up, and dropped with an error line
    assert dead_lettered_metrics(capsys.readouterr().out) == []


def test_records_older_than_the_maximum_age_are_not_delivered(aws, monkeypatch):
    Widget.create_table(wait=True)
    use_settings(monkeypatch, maximum_record_age_seconds=60, on_failure_queue="pump-failures")
    calls: list = []
    pump = EventPump(failing_app(set(), calls))
    pump.create_queues()
    Widget(widget_id="w0").save()
    import time as time_module

    real_time = time_module.time
    monkeypatch.setattr("infra.local.pump.time.time", lambda: real_time() + 61)

    pump.poll_once()

    assert calls == []
    assert dead_letters("pump-failures")[0]["requestContext"]["condition"] == "RecordAgeExceeded"


def test_a_partial_batch_response_retries_from_the_first_failed_record(aws, monkeypatch):
    Widget.create_table(wait=True)
    use_settings(monkeypatch, report_batch_item_failures=True, bisect_batch_on_function_error=False)
    blueprint = Blueprint(__name__)
    calls: list = []

    @blueprint.on_dynamodb_record(stream_arn=events.stream_arn("pump-widgets"), batch_size=10)
    def partial(event):
        records = list(event)
        calls.append([record.keys["widget_id"]["S"] for record in records])
        if len(calls) == 1:
            return {"batchItemFailures": [{"itemIdentifier": records[2].sequence_number}]}
        return {"batchItemFailures": []}

    app = Chalice(app_name="pump-partial")
    app.register_blueprint(blueprint)
    pump = EventPump(app)
    for n in range(4):
        Widget(widget_id=f"w{n}").save()

    pump.poll_once()

    assert calls == [["w0", "w1", "w2", "w3"], ["w2", "w3"]]


def test_a_write_after_a_cancelled_transaction_reaches_its_handler_on_the_embedded_server(monkeypatch):
    """The cancelled transaction's records are gone and the stream goes on: pinned over real HTTP."""
    from infra.local.embedded import EmbeddedAws

    server = EmbeddedAws().start()
    server.reset()
    monkeypatch.setenv("MALL_DYNAMODB_ENDPOINT", server.url)
    try:
        dynamo = boto3.client("dynamodb", endpoint_url=server.url)
        dynamo.create_table(TableName=Widget.Meta.table_name, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "widget_id", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "widget_id", "AttributeType": "S"}],
                            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        seen = {"stream": [], "queue": [], "schedule": []}
        app = Chalice(app_name="pump-embedded")
        blueprint = Blueprint(__name__)

        @blueprint.on_dynamodb_record(stream_arn=events.stream_arn("pump-widgets"))
        def changed(event):
            seen["stream"].extend((r.event_name, r.keys["widget_id"]["S"]) for r in event)

        app.register_blueprint(blueprint)
        pump = EventPump(app, endpoint_url=server.url, raise_errors=True)
        pump.position_streams("LATEST")
        table = Widget.Meta.table_name
        with pytest.raises(dynamo.exceptions.TransactionCanceledException):
            dynamo.transact_write_items(TransactItems=[
                {"Put": {"TableName": table, "Item": {"widget_id": {"S": "ghost"}}}},
                {"Put": {"TableName": table, "Item": {"widget_id": {"S": "never"}},
                         "ConditionExpression": "attribute_exists(widget_id)"}}])
        dynamo.put_item(TableName=table, Item={"widget_id": {"S": "real"}})

        pump.drain()

        assert seen["stream"] == [("INSERT", "real")]
    finally:
        server.reset()
        server.stop()


def test_the_background_loop_backs_off_when_idle_and_wakes_on_a_write(pump, seen):
    import threading
    import time

    wake = threading.Event()
    pump._wake = wake
    pump.schedule_seconds = 3600
    polls = []
    real_poll = pump.poll_once
    pump.poll_once = lambda: polls.append(time.monotonic()) or real_poll()
    pump.start(poll_seconds=0.01, max_idle_seconds=0.5)
    try:
        time.sleep(1.5)
        idle_polls = len(polls)
        Widget(widget_id="w1").save()
        written_at = time.monotonic()
        wake.set()
        deadline = written_at + 2
        while not seen["stream"] and time.monotonic() < deadline:
            time.sleep(0.005)
        delivered_after = time.monotonic() - written_at
    finally:
        pump.stop()
    assert idle_polls <= 12, f"{idle_polls} polls in 1.5 s idle: the pump does not back off"
    assert seen["stream"], "the write was never delivered"
    assert delivered_after < 0.4, f"delivered {delivered_after:.2f} s after the write: the wake-up was missed"


def test_a_queue_batch_deletes_every_message_but_the_ones_its_handler_reports_failed(aws, monkeypatch):
    use_settings(monkeypatch, report_batch_item_failures=True)
    blueprint = Blueprint(__name__)
    received: list = []

    @blueprint.on_sqs_message(queue=events.queue_name("pump-partial-jobs"), batch_size=10)
    def jobs(event):
        records = list(event)
        received.append([json.loads(record.body)["n"] for record in records])
        return {"batchItemFailures": [{"itemIdentifier": r.to_dict()["messageId"]} for r in records
                                      if json.loads(r.body)["n"] == 1]}

    app = Chalice(app_name="pump-partial-queue")
    app.register_blueprint(blueprint)
    pump = EventPump(app)
    pump.create_queues()
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=events.queue_name("pump-partial-jobs"))["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))

    pump.poll_once()
    pump.poll_once()

    assert sorted(received[0]) == [0, 1, 2]
    assert received[1] == [1], "only the reported failure comes back"


def test_the_local_pump_dead_letters_what_infra_redrive_replays_once_the_handler_works():
    """Pump -> on-failure queue -> `infra redrive`, on the embedded server, with the real search indexer."""
    import os
    import subprocess
    import sys

    from tests.e2e.stack import ROOT

    env = {key: value for key, value in os.environ.items() if not key.startswith(("MALL_", "AWS_"))}
    result = subprocess.run([sys.executable, "-m", "tests.unit.dead_letter_flow"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"dead_lettered": 1, "found_while_down": 0, "replayed": 1, "failed": 0, "found": 1}
