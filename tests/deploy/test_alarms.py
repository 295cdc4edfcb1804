"""The environment's alarms and their topic, in the data stack `infra deploy` creates."""
from __future__ import annotations

import json

import pytest

from infra.alarms import TOPIC, metrics_namespace
from infra.stages import API_GATEWAY_STAGE, lambda_name, read_config, stage_functions, stages_of_environment, table_prefix
from infra.template import discovered_queues, render
from infra.triggers import stream_dead_letter_queues, trigger_settings


@pytest.fixture(scope="module", params=["prod", "dev"])
def stack(request):
    env = request.param
    return env, render(table_prefix(env), env=env)


def alarms(template: dict) -> list[dict]:
    return [resource["Properties"] for resource in template["Resources"].values()
            if resource["Type"] == "AWS::CloudWatch::Alarm"]


def alarmed(template: dict, namespace: str, metric: str) -> set:
    return {next((d["Value"] if isinstance(d["Value"], str) else json.dumps(d["Value"])) for d in alarm["Dimensions"])
            for alarm in alarms(template) if alarm.get("Namespace") == namespace and alarm["MetricName"] == metric}


def test_every_function_alarms_on_errors_and_throttles(stack):
    env, template = stack
    functions = {lambda_name(stage, function) for stage in stages_of_environment(env)
                 for function in stage_functions(stage)}
    assert alarmed(template, "AWS/Lambda", "Errors") == functions
    assert alarmed(template, "AWS/Lambda", "Throttles") == functions


def test_every_stream_trigger_alarms_on_iterator_age(stack):
    env, template = stack
    streams = {lambda_name(stage, function) for stage in stages_of_environment(env)
               for function in stage_functions(stage) if trigger_settings(function).kind == "stream"}
    assert streams and alarmed(template, "AWS/Lambda", "IteratorAge") == streams


def test_every_dead_letter_queue_alarms_on_one_message(stack):
    _, template = stack
    depth = [alarm for alarm in alarms(template) if alarm.get("MetricName") == "ApproximateNumberOfMessagesVisible"]
    queues = {alarm["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for alarm in depth}
    names = {template["Resources"][queue]["Properties"]["QueueName"]["Fn::Sub"] for queue in queues}
    handler_queues = {f"{spec.logical_name}-dlq" for spec in discovered_queues()}  # a queue's redrive target
    assert handler_queues, "no feature listens to a queue"
    assert names == {"${TablePrefix}" + logical for logical in [*stream_dead_letter_queues(), *handler_queues]}
    assert all(alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold" for alarm in depth)


def test_every_stream_failure_queue_alarms_on_a_batch_sent_to_it(stack):
    _, template = stack
    sent = [alarm for alarm in alarms(template) if alarm.get("MetricName") == "NumberOfMessagesSent"]
    queues = {alarm["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for alarm in sent}
    names = {template["Resources"][queue]["Properties"]["QueueName"]["Fn::Sub"] for queue in queues}
    assert names == {"${TablePrefix}" + logical for logical in stream_dead_letter_queues()}
    assert all((alarm["Namespace"], alarm["Statistic"], alarm["Threshold"]) == ("AWS/SQS", "Sum", 0) for alarm in sent)


def test_payment_anomalies_and_failed_refunds_alarm_from_the_namespace_the_stages_write(stack):
    env, template = stack
    queries = {alarm["Metrics"][0]["Expression"] for alarm in alarms(template) if "Metrics" in alarm}
    assert queries == {f'SELECT SUM({metric}) FROM "{metrics_namespace(env)}"'
                       for metric in ("PaymentAnomaly", "RefundFailed", "RawEventsUndelivered")}
    for stage in stages_of_environment(env):
        variables = read_config()["stages"][stage]["environment_variables"]
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == metrics_namespace(env), stage


def test_raw_events_alarm_when_firehose_stops_delivering_or_throttles(stack):
    from infra.template import EVENTS_STREAM

    _, template = stack
    assert template["Resources"][EVENTS_STREAM]["Type"] == "AWS::KinesisFirehose::DeliveryStream"
    firehose = {alarm["MetricName"]: alarm for alarm in alarms(template) if alarm.get("Namespace") == "AWS/Firehose"}
    assert set(firehose) == {"DeliveryToS3.Success", "ThrottledRecords"}
    for alarm in firehose.values():
        assert alarm["Dimensions"] == [{"Name": "DeliveryStreamName", "Value": {"Ref": EVENTS_STREAM}}], alarm
    delivered = firehose["DeliveryToS3.Success"]
    assert (delivered["Statistic"], delivered["ComparisonOperator"], delivered["Threshold"]) == (
        "Average", "LessThanThreshold", 1)
    throttled = firehose["ThrottledRecords"]
    assert (throttled["Statistic"], throttled["ComparisonOperator"], throttled["Threshold"]) == (
        "Sum", "GreaterThanThreshold", 0)


def test_the_tracker_queue_dead_letters_alarm(stack):
    _, template = stack
    watched = alarmed(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert json.dumps({"Fn::GetAtt": ["AnalyticsEventsDeadLetterQueue", "QueueName"]}) in watched
    assert json.dumps({"Fn::GetAtt": ["AnalyticsBackfillDeadLetterQueue", "QueueName"]}) in watched


def api_5xx_watched(template: dict) -> set[tuple[str, str]]:
    return {tuple(d["Value"] for d in alarm["Dimensions"]) for alarm in alarms(template)
            if alarm.get("Namespace") == "AWS/ApiGateway" and alarm["MetricName"] == "5XXError"}


def test_each_stage_api_has_a_5xx_alarm_on_the_name_its_app_gives_it(stack):
    env, template = stack
    config = read_config()
    names = {config["stages"][stage]["environment_variables"]["MALL_API_NAME"]
             for stage in stages_of_environment(env)}
    assert api_5xx_watched(template) == {(name, API_GATEWAY_STAGE) for name in names}
    assert len(names) == len(stages_of_environment(env)), names


def test_two_environments_alarms_never_watch_the_same_api():
    dev, prod = (api_5xx_watched(render(table_prefix(env), env=env)) for env in ("dev", "prod"))
    assert dev and prod and not dev & prod, (dev, prod)


def test_the_app_names_its_rest_api_from_the_stage_setting(monkeypatch):
    from chalice.deploy.swagger import CFNSwaggerGenerator

    from infra.apps import built_app

    monkeypatch.setenv("MALL_API_NAME", "micromall-catalog")
    # built_app gives the catalog's blueprint back to the app the other tests use (create_app alone would not)
    with built_app(("catalog",), ("catalog",)) as catalog:
        assert CFNSwaggerGenerator().generate_swagger(catalog)["info"]["title"] == "micromall-catalog"  # chalice's


def test_every_alarm_notifies_the_topic(stack):
    _, template = stack
    assert template["Resources"][TOPIC]["Type"] == "AWS::SNS::Topic" and f"{TOPIC}Arn" in template["Outputs"]
    for alarm in alarms(template):
        assert alarm["AlarmActions"] == [{"Ref": TOPIC}] and alarm["TreatMissingData"] == "notBreaching", alarm


def test_the_stack_stays_within_cloudformations_limits(stack):
    """Past 51,200 bytes `infra deploy` uploads through S3 (infra.cloud.template_source), whose limit is 1 MB;
    a stack holds at most 500 resources."""
    _, template = stack
    assert len(json.dumps(template, separators=(",", ":"))) <= 1_000_000
    assert len(template["Resources"]) <= 500
