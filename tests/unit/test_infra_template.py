"""The CloudFormation template is rendered from the models and passes cfn-lint."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.tables import load_models
from infra.template import render

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template():
    return render()


def test_every_model_has_a_table_with_its_keys_and_indexes(template):
    tables = {r["Properties"]["TableName"]["Fn::Sub"].removeprefix("${TablePrefix}"): r["Properties"]
              for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"}
    for model in load_models():
        table = tables[model.Meta.logical_name]
        schema = model._get_schema()
        assert {k["AttributeName"] for k in table["KeySchema"]} == {k["AttributeName"] for k in schema["key_schema"]}
        assert table["KeySchema"][0]["KeyType"] == "HASH"
        assert sorted(i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])) == \
            sorted(i["index_name"] for i in schema["global_secondary_indexes"])
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        stream = getattr(model.Meta, "stream_view_type", None)
        assert table.get("StreamSpecification", {}).get("StreamViewType") == stream, model.Meta.logical_name


def test_tables_with_a_ttl_attribute_get_ttl(template):
    idempotency = template["Resources"]["IdempotencyTable"]["Properties"]
    assert idempotency["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_stream_arns_are_exported_for_the_stream_handlers(template):
    for name, resource in template["Resources"].items():
        if "StreamSpecification" in resource["Properties"]:
            assert template["Outputs"][f"{name}StreamArn"]["Value"] == {"Fn::GetAtt": [name, "StreamArn"]}


def test_rendered_template_passes_cfn_lint(tmp_path):
    output = tmp_path / "template.json"
    subprocess.run([sys.executable, "-m", "infra", "template", "--output", str(output)], cwd=ROOT, check=True)
    assert json.loads(output.read_text())["Resources"]
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(output)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_personal_data_key_rotates_is_retained_and_has_an_alias(template):
    key = template["Resources"]["PiiKey"]
    assert key["Type"] == "AWS::KMS::Key" and key["DeletionPolicy"] == "Retain"
    assert key["Properties"]["EnableKeyRotation"] is True
    alias = template["Resources"]["PiiKeyAlias"]["Properties"]
    assert alias == {"AliasName": {"Fn::Sub": "alias/${AWS::StackName}-pii"}, "TargetKeyId": {"Ref": "PiiKey"}}
    assert template["Outputs"]["PiiKeyArn"]["Value"] == {"Fn::GetAtt": ["PiiKey", "Arn"]}


def test_kms_calls_map_to_grants_on_the_personal_data_key():
    from infra.access import Names, grants_of_call
    from infra.cloud import stack_name
    from infra.policy import Target, resource_arn
    from infra.stages import pii_key_alias

    names = Names({}, "test-", None)
    assert grants_of_call("kms", "GenerateDataKey", {"KeyId": "alias/x"}, names) == {"key/pii": {"kms:GenerateDataKey"}}
    assert grants_of_call("kms", "Decrypt", {"CiphertextBlob": b"..."}, names) == {"key/pii": {"kms:Decrypt"}}
    with pytest.raises(LookupError):
        grants_of_call("kms", "Encrypt", {}, names)
    arn = "arn:aws:kms:ap-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert resource_arn("key/pii", "dev", Target("aws", "ap-east-1", "123456789012", {}, arn)) == arn
    assert resource_arn("key/pii", "dev", Target()) == "arn:aws:kms:us-east-1:000000000000:key/local-pii"
    assert pii_key_alias("dev") == f"alias/{stack_name('dev')}-pii"


def test_the_access_recorder_notes_kms_where_personal_data_is_sealed_or_opened(aws, monkeypatch):
    from chalicelib.core import pii
    from infra.access_recorder import Recorder

    recorder = Recorder([]).install()
    noted: list[dict] = []
    monkeypatch.setattr(recorder, "note", noted.append)
    try:
        envelope = pii.Envelope(pii.LocalKeys(b"\x02" * 32))
        envelope.open(envelope.seal("13800000000", "t.phone|U"), "t.phone|U")
    finally:
        recorder.uninstall()
    assert noted == [{"key/pii": {"kms:GenerateDataKey"}}, {"key/pii": {"kms:Decrypt"}}]


def test_the_stacks_key_seals_personal_data_through_the_alias_each_stage_is_given(aws, monkeypatch):
    import boto3

    from chalicelib.core import pii
    from infra.cloud import stack_name
    from infra.stages import pii_key_alias

    cfn = boto3.client("cloudformation", region_name="us-east-1")
    cfn.create_stack(StackName=stack_name("dev"), TemplateBody=json.dumps(render()),
                     Parameters=[{"ParameterKey": "TablePrefix", "ParameterValue": "cfn-"}])
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=stack_name("dev"))
               ["Stacks"][0]["Outputs"]}
    monkeypatch.setenv("MALL_PII_KMS_KEY_ID", pii_key_alias("dev"))
    envelope = pii.Envelope(pii.keys_from_config())
    sealed = envelope.seal("13912345678", "addresses.phone|U-1")
    assert sealed.split(":")[1] == outputs["PiiKeyArn"].rsplit("/", 1)[1]
    assert pii.Envelope(pii.keys_from_config()).open(sealed, "addresses.phone|U-1") == "13912345678"


def test_raw_events_go_through_firehose_into_a_retained_bucket_partitioned_by_shop_day(template):
    resources = template["Resources"]
    bucket = resources["EventsBucket"]
    assert bucket["Type"] == "AWS::S3::Bucket" and bucket["DeletionPolicy"] == "Retain"
    assert all(bucket["Properties"]["PublicAccessBlockConfiguration"].values())
    stream = resources["EventsDeliveryStream"]["Properties"]
    assert stream["DeliveryStreamName"] == {"Fn::Sub": "${TablePrefix}events"}
    destination = stream["ExtendedS3DestinationConfiguration"]
    assert destination["Prefix"] == "events/day=!{partitionKeyFromQuery:day}/"
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True
    [extraction] = destination["ProcessingConfiguration"]["Processors"]
    assert {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{day: .day}"} in extraction["Parameters"]
    role = resources["EventsDeliveryRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert template["Outputs"]["EventsFirehoseName"]["Value"] == {"Ref": "EventsDeliveryStream"}


def test_firehose_calls_map_to_grants_on_the_delivery_stream():
    from infra.access import Names, grants_of_call
    from infra.policy import Target, resource_arn
    from infra.stages import events_firehose, render_stage

    names = Names({}, "test-", None)
    assert grants_of_call("firehose", "PutRecordBatch", {"DeliveryStreamName": "test-events", "Records": []},
                          names) == {"deliverystream/events": {"firehose:PutRecordBatch"}}
    assert resource_arn("deliverystream/events", "prod", Target("aws-cn", "cn-north-1", "123456789012")) == \
        "arn:aws-cn:firehose:cn-north-1:123456789012:deliverystream/micromall-prod-events"
    assert events_firehose("prod") == "micromall-prod-events"
    assert render_stage("analytics")["environment_variables"]["MALL_EVENTS_FIREHOSE"] == "micromall-prod-events"
