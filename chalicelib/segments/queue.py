"""The grant worker's queue (`segments-grants`): one message names one page of one grant to walk."""
from __future__ import annotations

import json
from typing import Any

from chalicelib.core import config, events

GRANTS_QUEUE = "segments-grants"

_queue_url: dict[tuple[str | None, str], str] = {}


def sqs() -> Any:
    import boto3

    return boto3.client("sqs", endpoint_url=config.dynamodb_endpoint(), region_name=config.region())


def queue_url(client: Any) -> str:
    key = (config.dynamodb_endpoint(), events.queue_name(GRANTS_QUEUE))  # per endpoint: tests switch between two
    if key not in _queue_url:
        _queue_url[key] = client.get_queue_url(QueueName=key[1])["QueueUrl"]
    return _queue_url[key]


def send_page(grant_id: str, page: int) -> None:
    client = sqs()
    client.send_message(QueueUrl=queue_url(client), MessageBody=json.dumps({"grant_id": grant_id, "page": page}))


def page_of(body: str) -> tuple[str, int]:
    """(grant_id, page) from a message body; ValueError for one the mall did not write."""
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError(f"not a grant page message: {body[:200]!r}")
    grant_id, page = data.get("grant_id"), data.get("page")
    if not isinstance(grant_id, str) or not isinstance(page, int) or isinstance(page, bool) or page < 0:
        raise ValueError(f"not a grant page message: {body[:200]!r}")
    return grant_id, page
