"""CloudFormation for every table and queue, rendered from the same models and handlers the code uses.

Keys, GSIs, streams and TTL come from each model; every table gets on-demand
billing, point-in-time recovery and encryption at rest, and is retained if the
stack is deleted (an order history is not something to lose to a typo).

Every queue an SQS handler of any feature listens to (`app.event_sources`) gets a
dead-letter queue: after 5 failed receives a message moves there and waits 14 days
for a redrive (docs/RUNBOOK.md). The queue's visibility timeout is 6 times its
handler's timeout, as Lambda recommends for SQS event sources.

Every stream trigger gets its on-failure queue `<handler>-dlq` (infra.triggers): what its
handler still fails after the retries is described there, kept 14 days, instead of
blocking the shard.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import TTLAttribute
from pynamodb.models import Model

from infra.tables import load_models


def resource_name(logical_table: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^0-9A-Za-z]+", logical_table) if part) + "Table"


def table_resource(model: type[Model]) -> dict[str, Any]:
    schema = model._get_schema()  # PynamoDB's own view of keys and indexes
    definitions = {d["AttributeName"]: d for d in schema["attribute_definitions"]}
    properties: dict[str, Any] = {
        "TableName": {"Fn::Sub": "${TablePrefix}" + model.Meta.logical_name},
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": sorted(definitions.values(), key=lambda d: d["AttributeName"]),
        "KeySchema": hash_first(schema["key_schema"]),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
    }
    indexes = [{"IndexName": index["index_name"], "KeySchema": hash_first(index["key_schema"]),
                "Projection": index["projection"]} for index in schema["global_secondary_indexes"]]
    if indexes:
        properties["GlobalSecondaryIndexes"] = sorted(indexes, key=lambda index: index["IndexName"])
    local_indexes = [{"IndexName": index["index_name"], "KeySchema": hash_first(index["key_schema"]),
                      "Projection": index["projection"]} for index in schema["local_secondary_indexes"]]
    if local_indexes:
        properties["LocalSecondaryIndexes"] = local_indexes
    stream_view = getattr(model.Meta, "stream_view_type", None)
    if stream_view:
        properties["StreamSpecification"] = {"StreamViewType": stream_view}
    ttl = ttl_attribute(model)
    if ttl:
        properties["TimeToLiveSpecification"] = {"AttributeName": ttl, "Enabled": True}
    return {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": properties}


def hash_first(key_schema: list[dict[str, str]]) -> list[dict[str, str]]:
    """CloudFormation wants the HASH key before the RANGE key; PynamoDB keeps declaration order."""
    return sorted(key_schema, key=lambda key: key["KeyType"] != "HASH")


def ttl_attribute(model: type[Model]) -> str | None:
    for attribute in model.get_attributes().values():
        if isinstance(attribute, TTLAttribute):
            return attribute.attr_name
    return None


MAX_RECEIVES = 5
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600


@dataclass(frozen=True)
class QueueSpec:
    logical_name: str
    handler_timeout: int  # seconds, the longest of its consumers


def queue_resource_name(logical_queue: str) -> str:
    return resource_name(logical_queue).removesuffix("Table") + "Queue"


def dead_letter_resource_name(logical_queue: str) -> str:
    return resource_name(logical_queue).removesuffix("Table") + "DeadLetterQueue"


def dead_letter_queue_name(queue_name: str) -> str:
    return f"{queue_name}-dlq"


def discovered_queues() -> list[QueueSpec]:
    """Every queue a feature's SQS handler listens to, with the longest timeout among its consumers."""
    from chalicelib.core import config
    from infra.apps import shape
    from infra.stages import handler_sizing

    timeouts: dict[str, int] = {}
    for feature in config.ALL_FEATURES:
        for handler in shape(feature).handlers:
            if handler.kind == "queue" and handler.source:
                timeouts[handler.source] = max(timeouts.get(handler.source, 0),
                                               handler_sizing(feature, handler.name)[1])
    return [QueueSpec(name, timeout) for name, timeout in sorted(timeouts.items())]


def queue_resources(spec: QueueSpec) -> dict[str, Any]:
    queue, dead = queue_resource_name(spec.logical_name), dead_letter_resource_name(spec.logical_name)
    name = "${TablePrefix}" + spec.logical_name
    return {
        dead: {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
               "Properties": {"QueueName": {"Fn::Sub": dead_letter_queue_name(name)},
                              "MessageRetentionPeriod": DEAD_LETTER_RETENTION_SECONDS, "SqsManagedSseEnabled": True}},
        queue: {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
                "Properties": {"QueueName": {"Fn::Sub": name},
                               "VisibilityTimeout": min(43200, 6 * spec.handler_timeout),
                               "MessageRetentionPeriod": QUEUE_RETENTION_SECONDS, "SqsManagedSseEnabled": True,
                               "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [dead, "Arn"]},
                                                 "maxReceiveCount": MAX_RECEIVES}}},
    }


def failure_queue_resource(logical_queue: str) -> dict[str, Any]:
    """The on-failure destination of a stream trigger: no consumer, kept as long as a dead-letter queue."""
    return {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
            "Properties": {"QueueName": {"Fn::Sub": "${TablePrefix}" + logical_queue},
                           "MessageRetentionPeriod": DEAD_LETTER_RETENTION_SECONDS, "SqsManagedSseEnabled": True}}


def logical_table_of_resource(resource: dict[str, Any]) -> str:
    return resource["Properties"]["TableName"]["Fn::Sub"].removeprefix("${TablePrefix}")


def log_group_resources(env: str) -> dict[str, Any]:
    """The log group of every function of the environment's stages, with a retention.

    Created here, before the functions, so their roles need no logs:CreateLogGroup.
    """
    from infra.stages import LOG_RETENTION_DAYS, lambda_name, stage_functions, stages_of_environment

    resources = {}
    for stage in stages_of_environment(env):
        for function in stage_functions(stage):
            name = lambda_name(stage, function)
            resources[resource_name(name).removesuffix("Table") + "LogGroup"] = {
                "Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
                "Properties": {"LogGroupName": f"/aws/lambda/{name}", "RetentionInDays": LOG_RETENTION_DAYS}}
    return resources


PII_KEY = "PiiKey"
PII_KEY_ALIAS = "PiiKeyAlias"


def pii_key_resources() -> dict[str, Any]:
    """The KMS key that wraps the data keys sealing buyers' phones and addresses (chalicelib/core/pii.py).

    Retained with the tables it protects (deleting it would make every sealed value unreadable); yearly
    rotation by KMS keeps old key material for Decrypt, so nothing needs re-sealing. The functions reach it
    by its alias (`MALL_PII_KMS_KEY_ID`); their policies grant GenerateDataKey/Decrypt on its ARN.
    """
    return {
        PII_KEY: {"Type": "AWS::KMS::Key", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                  "Properties": {
                      "Description": {"Fn::Sub": "micromall ${AWS::StackName}: buyers' personal data"},
                      "EnableKeyRotation": True, "KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT",
                      "PendingWindowInDays": 30,
                      # the account administers the key through IAM; functions get only their two actions
                      "KeyPolicy": {"Version": "2012-10-17", "Statement": [{
                          "Sid": "AccountAdministersThroughIam", "Effect": "Allow",
                          "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
                          "Action": "kms:*", "Resource": "*"}]}}},
        PII_KEY_ALIAS: {"Type": "AWS::KMS::Alias",
                        "Properties": {"AliasName": {"Fn::Sub": "alias/${AWS::StackName}-pii"},
                                       "TargetKeyId": {"Ref": PII_KEY}}},
    }


EVENTS_BUCKET, EVENTS_ROLE, EVENTS_STREAM, EVENTS_LOGS = (
    "EventsBucket", "EventsDeliveryRole", "EventsDeliveryStream", "EventsDeliveryLogGroup")
EVENTS_STREAM_NAME = "events"  # the delivery stream is `<TablePrefix>events` (MALL_EVENTS_FIREHOSE of every stage)
EVENTS_PREFIX = "events/day=!{partitionKeyFromQuery:day}/"


def events_resources() -> dict[str, Any]:
    """Raw analytics events (chalicelib/analytics/sink.py): Kinesis Data Firehose into S3, partitioned by the
    event's shop day (`events/day=YYYY-MM-DD/`, gzipped JSON lines) for Athena (docs/DEPLOY.md, "Raw events").

    Dynamic partitioning reads `day` from each record (the shop's day, not the arrival's UTC hour), and wants
    buffers of at least 64 MB; a quiet shop's files arrive every 5 minutes. The bucket is retained with the
    tables: it is the merchant's history. Firehose's own role may only write there and log its errors.
    """
    bucket_arn = {"Fn::GetAtt": [EVENTS_BUCKET, "Arn"]}
    log_group = {"Fn::Sub": "/aws/kinesisfirehose/${TablePrefix}" + EVENTS_STREAM_NAME}
    return {
        EVENTS_BUCKET: {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                        "Properties": {
                            "BucketName": {"Fn::Sub": "${TablePrefix}events-${AWS::AccountId}-${AWS::Region}"},
                            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
                            "PublicAccessBlockConfiguration": {
                                "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
                                "RestrictPublicBuckets": True},
                            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                            "LifecycleConfiguration": {"Rules": [{
                                "Id": "AbortIncompleteUploads", "Status": "Enabled",
                                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]}}},
        EVENTS_LOGS: {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
                      "Properties": {"LogGroupName": log_group, "RetentionInDays": 30}},
        f"{EVENTS_LOGS}Stream": {"Type": "AWS::Logs::LogStream",
                                 "Properties": {"LogGroupName": {"Ref": EVENTS_LOGS}, "LogStreamName": "S3Delivery"}},
        EVENTS_ROLE: {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": {"Ref": "AWS::AccountId"}}}}]},
            "Policies": [{"PolicyName": "WriteRawEvents", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject",
                                               "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutObject"],
                 "Resource": [bucket_arn, {"Fn::Sub": "${" + EVENTS_BUCKET + ".Arn}/*"}]},
                {"Effect": "Allow", "Action": ["logs:PutLogEvents"],
                 "Resource": {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
                                         "/aws/kinesisfirehose/${TablePrefix}" + EVENTS_STREAM_NAME + ":*"}}]}}]}},
        EVENTS_STREAM: {"Type": "AWS::KinesisFirehose::DeliveryStream",
                        "Properties": {
                            "DeliveryStreamName": {"Fn::Sub": "${TablePrefix}" + EVENTS_STREAM_NAME},
                            "DeliveryStreamType": "DirectPut",
                            "DeliveryStreamEncryptionConfigurationInput": {"KeyType": "AWS_OWNED_CMK"},
                            "ExtendedS3DestinationConfiguration": {
                                "BucketARN": bucket_arn, "RoleARN": {"Fn::GetAtt": [EVENTS_ROLE, "Arn"]},
                                "Prefix": EVENTS_PREFIX,
                                "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/",
                                "BufferingHints": {"IntervalInSeconds": 300, "SizeInMBs": 64},
                                "CompressionFormat": "GZIP",
                                "DynamicPartitioningConfiguration": {"Enabled": True,
                                                                     "RetryOptions": {"DurationInSeconds": 300}},
                                "ProcessingConfiguration": {"Enabled": True, "Processors": [{
                                    "Type": "MetadataExtraction", "Parameters": [
                                        {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{day: .day}"},
                                        {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}]},
                                "CloudWatchLoggingOptions": {"Enabled": True, "LogGroupName": {"Ref": EVENTS_LOGS},
                                                             "LogStreamName": "S3Delivery"}}}},
    }


def render(default_prefix: str = "micromall-dev-", queues: list[QueueSpec] | None = None,
           env: str | None = None) -> dict[str, Any]:
    """The stack of tables and queues; with `env`, also that environment's log groups, alarms and their topic."""
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for model in load_models():
        logical = model.Meta.logical_name
        name = resource_name(logical)
        resources[name] = table_resource(model)
        outputs[f"{name}Name"] = {"Value": {"Ref": name}}
        if getattr(model.Meta, "stream_view_type", None):
            # The deploy helper copies these into MALL_STREAM_ARN_<TABLE> for the stream handlers.
            outputs[f"{name}StreamArn"] = {"Value": {"Fn::GetAtt": [name, "StreamArn"]}}
    resources.update(pii_key_resources())
    outputs[f"{PII_KEY}Arn"] = {"Value": {"Fn::GetAtt": [PII_KEY, "Arn"]}}
    resources.update(events_resources())
    outputs["EventsBucketName"] = {"Value": {"Ref": EVENTS_BUCKET}}
    outputs["EventsFirehoseName"] = {"Value": {"Ref": EVENTS_STREAM}}
    for spec in discovered_queues() if queues is None else queues:
        resources.update(queue_resources(spec))
        for name in (queue_resource_name(spec.logical_name), dead_letter_resource_name(spec.logical_name)):
            outputs[f"{name}Url"] = {"Value": {"Ref": name}}
            outputs[f"{name}Arn"] = {"Value": {"Fn::GetAtt": [name, "Arn"]}}
    from infra.triggers import stream_dead_letter_queues

    dead_letters = {dead_letter_resource_name(spec.logical_name): dead_letter_queue_name(spec.logical_name)
                    for spec in (discovered_queues() if queues is None else queues)}
    for logical in stream_dead_letter_queues():
        name = queue_resource_name(logical)
        resources[name] = failure_queue_resource(logical)
        dead_letters[name] = logical
        outputs[f"{name}Url"] = {"Value": {"Ref": name}}
        outputs[f"{name}Arn"] = {"Value": {"Fn::GetAtt": [name, "Arn"]}}
    if env is not None:
        from infra.alarms import TOPIC, alarm_resources

        resources.update(log_group_resources(env))
        resources.update(alarm_resources(env, dead_letters))
        outputs[f"{TOPIC}Arn"] = {"Value": {"Ref": TOPIC}}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "micromall tables, queues and raw events (rendered from the models and handlers by "
                       "`python -m infra template`)",
        "Parameters": {"TablePrefix": {
            "Type": "String", "Default": default_prefix, "AllowedPattern": "[a-zA-Z0-9_.-]*",
            "Description": "Prefix of every table name; the stage's MALL_TABLE_PREFIX"}},
        "Resources": resources,
        "Outputs": outputs,
    }
