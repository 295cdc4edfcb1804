"""CloudFormation for every table, rendered from the same PynamoDB models the code uses.

Keys, GSIs, streams and TTL come from each model; every table gets on-demand
billing, point-in-time recovery and encryption at rest, and is retained if the
stack is deleted (an order history is not something to lose to a typo).
"""
from __future__ import annotations

import re
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


def render(default_prefix: str = "micromall-dev-") -> dict[str, Any]:
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
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "micromall tables (rendered from the PynamoDB models by `python -m infra template`)",
        "Parameters": {"TablePrefix": {
            "Type": "String", "Default": default_prefix, "AllowedPattern": "[a-zA-Z0-9_.-]*",
            "Description": "Prefix of every table name; the stage's MALL_TABLE_PREFIX"}},
        "Resources": resources,
        "Outputs": outputs,
    }
