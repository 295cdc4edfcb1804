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
    """The stream triggers' on-failure queues, at the DynamoDB endpoint (moto serves SQS there too)."""
    import boto3

    from infra.triggers import stream_dead_letter_queues

    sqs = boto3.client("sqs", endpoint_url=config.env("MALL_DYNAMODB_ENDPOINT"), region_name=config.region())
    return [sqs.create_queue(QueueName=config.table_prefix() + name)["QueueUrl"] for name in stream_dead_letter_queues()]
