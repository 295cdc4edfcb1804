"""`python -m infra edges` after `chalice deploy`: Gateway Responses and trigger settings, against moto."""
from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest

from infra.cloud import InfraError, deploy
from infra.edges import apply_edges, gateway_responses
from infra.stages import api_name, lambda_name
from infra.triggers import stream_functions, trigger_settings
from tests.deploy.test_infra_cloud import FAST, chalice_dir, cloud_env, lines  # noqa: F401 - fixtures

STAGE = "checkout"


def chalice_deployed(stage: str, chalice_dir, record: dict) -> str:  # noqa: F811
    """What `chalice deploy --stage S` leaves: the stream handlers' functions and mappings, a REST API, its record."""
    iam, lambda_ = boto3.client("iam"), boto3.client("lambda")
    role = iam.create_role(RoleName=f"{stage}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return None\n")
    for function in stream_functions(stage):
        name = lambda_name(stage, function)
        lambda_.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler",
                                Code={"ZipFile": code.getvalue()})
        lambda_.create_event_source_mapping(FunctionName=name, StartingPosition="LATEST", BatchSize=45,
                                            EventSourceArn=record["stream_arns"][trigger_settings(function).source])
    apigateway = boto3.client("apigateway")
    api_id = apigateway.create_rest_api(name="micromall")["id"]
    root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
    apigateway.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    deployed = chalice_dir / "deployed"
    deployed.mkdir(exist_ok=True)
    (deployed / f"{stage}.json").write_text(json.dumps({"resources": [
        {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": api_id}]}))
    return api_id


def test_edges_set_gateway_responses_and_bound_every_stream_trigger(cloud_env, chalice_dir, lines):  # noqa: F811
    record = deploy(STAGE, chalice_dir=chalice_dir, say=lambda line: None, waits=FAST)
    api_id = chalice_deployed(STAGE, chalice_dir, record)
    assert stream_functions(STAGE)

    apply_edges(STAGE, chalice_dir=chalice_dir, say=lines.append)

    apigateway = boto3.client("apigateway")
    throttled = apigateway.get_gateway_response(restApiId=api_id, responseType="THROTTLED")
    assert throttled["statusCode"] == "503"
    assert throttled["responseParameters"] == {"gatewayresponse.header.Retry-After": "'1'"}
    assert throttled["responseTemplates"] == gateway_responses()["THROTTLED"]["ResponseTemplates"]
    assert apigateway.get_gateway_response(restApiId=api_id, responseType="MISSING_AUTHENTICATION_TOKEN")[
        "statusCode"] == "404"
    assert apigateway.get_deployments(restApiId=api_id)["items"], "the API stage was not redeployed"
    assert apigateway.get_rest_api(restApiId=api_id)["name"] == api_name(STAGE), "its 5XX alarm watches that name"

    lambda_, sqs = boto3.client("lambda"), boto3.client("sqs")
    for function in stream_functions(STAGE):
        settings = trigger_settings(function)
        [mapping] = lambda_.list_event_source_mappings(FunctionName=lambda_name(STAGE, function))["EventSourceMappings"]
        assert mapping["MaximumRetryAttempts"] == settings.maximum_retry_attempts
        assert mapping["BisectBatchOnFunctionError"] is True
        assert mapping["MaximumRecordAgeInSeconds"] == settings.maximum_record_age_seconds
        queue_arn = mapping["DestinationConfig"]["OnFailure"]["Destination"]
        url = sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[1])["QueueUrl"]  # the stack created it
        assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] == queue_arn
        assert queue_arn.endswith(f":micromall-prod-{settings.on_failure_queue}")
    assert any(settings_line.startswith(lambda_name(STAGE, "checkout_order_stream")) for settings_line in lines)


def test_edges_before_deploying_say_what_to_run_first(cloud_env, chalice_dir):  # noqa: F811
    with pytest.raises(InfraError, match="infra deploy --stage checkout"):
        apply_edges(STAGE, chalice_dir=chalice_dir)
    deploy(STAGE, chalice_dir=chalice_dir, say=lambda line: None, waits=FAST)
    with pytest.raises(InfraError, match="chalice deploy --stage checkout"):
        apply_edges(STAGE, chalice_dir=chalice_dir)
