"""The mall's tables, found from the PynamoDB models every feature registers, and the stream triggers' dead-letter queues."""
from __future__ import annotations

import importlib
import importlib.util

from pynamodb.models import Model

from chalicelib.core import config
from chalicelib.core.db import registered_models


def load_models() -> list[type[Model]]:
    """Import every feature's models module (and core's) and return the registered models."""
    importlib.import_module("chalicelib.core.models")
    for feature in config.ALL_FEATURES:
        module = f"chalicelib.{feature}.models"
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    return sorted(registered_models(), key=lambda model: model.Meta.table_name)


def create_tables(wait: bool = False) -> list[str]:
    """Create every table that does not exist yet, and the on-failure queue of every stream trigger
    (as the stack does in the cloud: the local stack and the tests get them too); returns the tables created."""
    created = []
    for model in load_models():
        if not model.exists():
            model.create_table(wait=wait)
            created.append(model.Meta.table_name)
    create_dead_letter_queues()
    return created


def create_dead_letter_queues() -> list[str]:
    """The stream triggers' on-failure queues, and every queue an SQS handler listens to with its dead-letter
    queue and redrive policy (infra.template), at the DynamoDB endpoint (moto serves SQS there too)."""
    import json

    import boto3

    from infra.template import MAX_RECEIVES, dead_letter_queue_name, discovered_queues
    from infra.triggers import stream_dead_letter_queues

    sqs = boto3.client("sqs", endpoint_url=config.env("MALL_DYNAMODB_ENDPOINT"), region_name=config.region())
    urls = [sqs.create_queue(QueueName=config.table_prefix() + name)["QueueUrl"] for name in stream_dead_letter_queues()]
    for spec in discovered_queues():
        name = config.table_prefix() + spec.logical_name
        dead_url = sqs.create_queue(QueueName=dead_letter_queue_name(name))["QueueUrl"]
        dead_arn = sqs.get_queue_attributes(QueueUrl=dead_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={
            "VisibilityTimeout": str(min(43200, 6 * spec.handler_timeout)),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": str(MAX_RECEIVES)})})
        urls += [dead_url, url]
    return urls
