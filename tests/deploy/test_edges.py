"""What each stage's package holds beyond Chalice's own rendering: Gateway Responses and the stream triggers' settings."""
from __future__ import annotations

import json

import pytest

from infra.edges import UNKNOWN_ROUTE, gateway_responses
from infra.stages import environment, stage_names, table_prefix
from infra.template import queue_resource_name, render
from infra.triggers import stream_functions, trigger_settings
from tests.deploy.test_package import functions, role_policy


def body_of(response: dict, message: str = "what API Gateway said") -> dict:
    """The mapping template rendered as API Gateway would, with `$context.error.messageString` filled in."""
    template = response["ResponseTemplates"]["application/json"]
    return json.loads(template.replace("$context.error.messageString", json.dumps(message)))


@pytest.mark.parametrize("stage", stage_names())
def test_every_stage_answers_throttling_with_503_retry_after_in_the_mall_shape(sam, stage):
    responses = sam[stage]["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    assert responses == gateway_responses()
    throttled = responses["THROTTLED"]
    assert throttled["StatusCode"] == "503"
    assert throttled["ResponseParameters"]["Headers"]["Retry-After"] == "'1'"
    assert body_of(throttled)["error"]["code"] == "BUSY"


def test_an_unknown_route_is_a_json_404_and_function_failures_keep_the_shape():
    responses = gateway_responses()
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["StatusCode"] == "404" and body_of(missing) == UNKNOWN_ROUTE
    for kind in ("DEFAULT_5XX", "INTEGRATION_TIMEOUT", "DEFAULT_4XX", "REQUEST_TOO_LARGE", "QUOTA_EXCEEDED"):
        body = body_of(responses[kind], 'a "quoted" message')
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, (kind, body)
    assert body_of(responses["DEFAULT_4XX"], 'a "quoted" message')["error"]["message"] == 'a "quoted" message'
    assert "Retry-After" in responses["DEFAULT_5XX"]["ResponseParameters"]["Headers"]


def test_some_stages_have_stream_triggers():
    assert stream_functions("dev") and stream_functions("checkout") and stream_functions("catalog")


@pytest.mark.parametrize("stage", stage_names())
def test_every_stream_trigger_is_bounded_and_dead_letters_to_a_queue_of_its_environment(sam, stage):
    template = sam[stage]
    packaged = functions(template)
    queues = {resource["Properties"]["QueueName"]["Fn::Sub"].replace("${TablePrefix}", table_prefix(environment(stage)))
              for resource in render(table_prefix(environment(stage)))["Resources"].values()
              if resource["Type"] == "AWS::SQS::Queue"}
    for function in stream_functions(stage):
        settings = trigger_settings(function)
        [event] = packaged[function]["Events"].values()
        assert event["Type"] == "DynamoDB"
        properties = event["Properties"]
        assert properties["MaximumRetryAttempts"] == settings.maximum_retry_attempts <= 10, (stage, function)
        assert properties["BisectBatchOnFunctionError"] is True
        assert 60 <= properties["MaximumRecordAgeInSeconds"] == settings.maximum_record_age_seconds <= 86400
        destination = properties["DestinationConfig"]["OnFailure"]["Destination"]["Fn::Sub"]
        queue = destination.rsplit(":", 1)[1]
        assert queue == table_prefix(environment(stage)) + settings.on_failure_queue and queue in queues
        assert ("FunctionResponseTypes" in properties) == settings.report_batch_item_failures
        allowed = [statement for statement in role_policy(template, packaged[function])["Statement"]
                   if statement["Action"] == ["sqs:SendMessage"]]
        assert [statement["Resource"].rsplit(":", 1)[1] for statement in allowed] == [queue], (stage, function)


def test_the_data_stack_exports_every_stream_dead_letter_queue():
    template = render("micromall-prod-")
    for function in stream_functions("dev"):
        name = queue_resource_name(trigger_settings(function).on_failure_queue)
        assert template["Resources"][name]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert {f"{name}Url", f"{name}Arn"} <= set(template["Outputs"])
