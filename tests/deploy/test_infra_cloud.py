"""`python -m infra deploy|destroy` against moto's CloudFormation, DynamoDB, SQS, SSM and STS.

Each test works on a copy of `.chalice/`, so the repository's config is never touched.
"""
from __future__ import annotations

import json
import shutil

import boto3
import pytest
from moto import mock_aws

from infra import cloud
from infra.apps import shape
from infra.cloud import Waits, deploy, destroy, stack_name
from infra.policy import PLACEHOLDER_ACCOUNT, record_path
from infra.stages import CHALICE_DIR, lambda_name, policy_file, stage_functions, stages_of_environment
from infra.template import QueueSpec

FAST = Waits(delay=0, attempts=5)
STACK = stack_name("prod")


@pytest.fixture
def chalice_dir(tmp_path):
    copy = tmp_path / ".chalice"
    shutil.copytree(CHALICE_DIR, copy, ignore=shutil.ignore_patterns("deployments", "deployed", "venv", "stacks"))
    return copy


@pytest.fixture
def cloud_env(monkeypatch):
    with mock_aws():
        yield


@pytest.fixture
def lines():
    return []


def put_some_item(table: str) -> None:
    dynamodb = boto3.client("dynamodb")
    described = dynamodb.describe_table(TableName=table)["Table"]
    types = {d["AttributeName"]: d["AttributeType"] for d in described["AttributeDefinitions"]}
    item = {k["AttributeName"]: {types[k["AttributeName"]]: "1" if types[k["AttributeName"]] == "N" else "x"}
            for k in described["KeySchema"]}
    dynamodb.put_item(TableName=table, Item=item)


def streamed_stage():
    """A production stage whose handlers read a table's stream (catalog's search indexer)."""
    for stage in stages_of_environment("prod"):
        for handler in shape(stage).handlers:
            if handler.kind == "stream":
                return stage, handler.source
    pytest.skip("no feature reads a stream")


def test_deploy_creates_the_stack_and_writes_stream_arns_and_concrete_policies(cloud_env, chalice_dir, lines):
    stage, table = streamed_stage()
    record = deploy(stage, chalice_dir=chalice_dir, say=lines.append, waits=FAST)

    stack = boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    tables = boto3.client("dynamodb").list_tables()["TableNames"]
    assert f"micromall-prod-{table}" in tables and all(name.startswith("micromall-prod-") for name in tables)

    assert json.loads(record_path("prod", chalice_dir).read_text()) == record
    arn = record["stream_arns"][table]
    assert arn.startswith(f"arn:aws:dynamodb:us-east-1:123456789012:table/micromall-prod-{table}/stream/")
    config = json.loads((chalice_dir / "config.json").read_text())
    assert config["stages"][stage]["environment_variables"][f"MALL_STREAM_ARN_{table.upper()}"] == arn
    assert "MALL_STREAM_ARN_PRODUCTS" not in config["stages"]["dev"]["environment_variables"]  # another env

    for prod_stage in stages_of_environment("prod"):
        for function in stage_functions(prod_stage):
            text = (chalice_dir / policy_file(prod_stage, function)).read_text()
            assert PLACEHOLDER_ACCOUNT not in text and "/stream/local" not in text, (prod_stage, function)
            assert ":123456789012:" in text
    dev_policy = (chalice_dir / policy_file("dev")).read_text()
    assert PLACEHOLDER_ACCOUNT in dev_policy, "the dev environment is not deployed: its policies keep placeholders"
    assert any("put-parameter" in line and "/micromall/prod/jwt_secret" in line for line in lines)
    assert lines[-1] == f"next: chalice deploy --stage {stage}"
    groups = {g["logGroupName"]: g.get("retentionInDays") for g in boto3.client("logs").describe_log_groups()["logGroups"]}
    assert groups == {**{f"/aws/lambda/{lambda_name(s, f)}": 30
                         for s in stages_of_environment("prod") for f in stage_functions(s)},
                      "/aws/kinesisfirehose/micromall-prod-events": 30}  # the raw events' delivery errors


def test_deploy_again_updates_the_stack_and_changes_nothing_else(cloud_env, chalice_dir, lines, monkeypatch):
    stage, _ = streamed_stage()
    deploy(stage, chalice_dir=chalice_dir, say=lines.append, waits=FAST)
    before = {path.name: path.read_text() for path in chalice_dir.glob("*.json")}
    lines.clear()
    deploy(stage, chalice_dir=chalice_dir, say=lines.append, waits=FAST)
    assert "  no changes" in lines
    assert {path.name: path.read_text() for path in chalice_dir.glob("*.json")} == before

    # A feature that starts listening to a queue: the next deploy adds it and its dead-letter queue.
    monkeypatch.setattr("infra.template.discovered_queues", lambda: [QueueSpec("notifications", 60)])
    record = deploy(stage, chalice_dir=chalice_dir, say=lines.append, waits=FAST)
    assert boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == \
        "UPDATE_COMPLETE"
    queue = record["queues"]["notifications"]
    assert queue["arn"] == "arn:aws:sqs:us-east-1:123456789012:micromall-prod-notifications"
    assert queue["dead_letter_arn"] == "arn:aws:sqs:us-east-1:123456789012:micromall-prod-notifications-dlq"
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=queue["url"], AttributeNames=["All"])["Attributes"]
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": queue["dead_letter_arn"],
                                                       "maxReceiveCount": 5}
    assert attributes["VisibilityTimeout"] == "360"


def test_deploy_needs_a_known_stage_and_a_region(cloud_env, chalice_dir, monkeypatch):
    with pytest.raises(cloud.InfraError, match="unknown stage"):
        deploy("nope", chalice_dir=chalice_dir, say=print, waits=FAST)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    with pytest.raises(cloud.InfraError, match="no AWS region"):
        deploy("catalog", chalice_dir=chalice_dir, say=print, waits=FAST)


def test_destroy_refuses_while_a_table_holds_data_unless_told_twice(cloud_env, chalice_dir, lines):
    stage, table = streamed_stage()
    deploy(stage, chalice_dir=chalice_dir, say=lines.append, waits=FAST)
    dynamodb = boto3.client("dynamodb")
    put_some_item(f"micromall-prod-{table}")

    lines.clear()
    assert destroy(stage, chalice_dir=chalice_dir, say=lines.append, waits=FAST) == 2
    assert f"  table micromall-prod-{table}: holds items" in lines
    assert destroy(stage, delete_data=True, chalice_dir=chalice_dir, say=lines.append, waits=FAST) == 2
    assert destroy(stage, confirm=STACK, chalice_dir=chalice_dir, say=lines.append, waits=FAST) == 2
    assert destroy(stage, delete_data=True, confirm="micromall-dev-data", chalice_dir=chalice_dir,
                   say=lines.append, waits=FAST) == 2
    assert boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == \
        "CREATE_COMPLETE"

    lines.clear()
    assert destroy(stage, delete_data=True, confirm=STACK, chalice_dir=chalice_dir, say=lines.append,
                   waits=FAST) == 0
    assert not [name for name in dynamodb.list_tables()["TableNames"] if name.startswith("micromall-prod-")]
    backups = dynamodb.list_backups()["BackupSummaries"]
    assert [b["TableName"] for b in backups] == [f"micromall-prod-{table}"], "a final backup of the table with data"
    assert not record_path("prod", chalice_dir).exists()
    config = json.loads((chalice_dir / "config.json").read_text())
    assert not [key for key in config["stages"][stage]["environment_variables"] if key.startswith("MALL_STREAM_ARN")]
    assert PLACEHOLDER_ACCOUNT in (chalice_dir / policy_file(stage)).read_text()


def test_destroy_of_empty_tables_needs_no_confirmation(cloud_env, chalice_dir, lines):
    deploy("cart", chalice_dir=chalice_dir, say=lines.append, waits=FAST)
    assert destroy("cart", chalice_dir=chalice_dir, say=lines.append, waits=FAST) == 0
    assert not boto3.client("dynamodb").list_tables()["TableNames"]
    assert destroy("cart", chalice_dir=chalice_dir, say=lines.append, waits=FAST) == 0
    assert lines[-1].startswith("nothing to destroy")


def test_destroy_counts_messages_waiting_in_a_dead_letter_queue_as_data(cloud_env, chalice_dir, lines, monkeypatch):
    monkeypatch.setattr("infra.template.discovered_queues", lambda: [QueueSpec("notifications", 60)])
    record = deploy("cart", chalice_dir=chalice_dir, say=lines.append, waits=FAST)
    boto3.client("sqs").send_message(QueueUrl=record["queues"]["notifications"]["dead_letter_url"], MessageBody="{}")
    lines.clear()
    assert destroy("cart", chalice_dir=chalice_dir, say=lines.append, waits=FAST) == 2
    assert "  queue micromall-prod-notifications-dlq: 1 message(s)" in lines


def test_the_command_line_runs_deploy_and_refuses_destroy(cloud_env, monkeypatch, tmp_path, capsys):
    from infra import stages
    from infra.__main__ import main

    monkeypatch.setattr(cloud, "Waits", lambda: FAST)
    copy = tmp_path / ".chalice"
    shutil.copytree(CHALICE_DIR, copy, ignore=shutil.ignore_patterns("deployments", "deployed", "venv", "stacks"))
    monkeypatch.setattr(stages, "CHALICE_DIR", copy)
    assert main(["deploy", "--stage", "members"]) == 0
    assert record_path("prod", copy).exists()
    put_some_item("micromall-prod-users")
    assert main(["destroy", "--stage", "members"]) == 2
    assert "--delete-data --confirm micromall-prod-data" in capsys.readouterr().out
    assert main(["deploy", "--stage", "nope"]) == 1
