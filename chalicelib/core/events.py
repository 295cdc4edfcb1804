"""Event plumbing shared by features: stream ARNs, queue names and record images.

Chalice needs a DynamoDB stream ARN when a handler is declared. In the cloud the
deploy helper puts each table's real stream ARN in `MALL_STREAM_ARN_<TABLE>`;
locally the ARN is a placeholder naming the table, and the event pump reads that
table's stream. Either way the handler code is the same.
"""
from __future__ import annotations

from typing import Any

from chalicelib.core import config

LOCAL_ACCOUNT = "000000000000"


def stream_arn(logical_table: str) -> str:
    configured = config.env(f"MALL_STREAM_ARN_{logical_table.upper()}")
    if configured:
        return configured
    table = config.table_name(logical_table)
    return f"arn:aws:dynamodb:{config.region()}:{LOCAL_ACCOUNT}:table/{table}/stream/local"


def table_of_stream_arn(arn: str) -> str:
    """The table name inside a DynamoDB stream ARN (`...:table/<name>/stream/<label>`)."""
    try:
        return arn.split(":table/", 1)[1].split("/stream/", 1)[0]
    except IndexError:
        raise ValueError(f"not a DynamoDB stream ARN: {arn!r}") from None


def queue_name(logical_queue: str) -> str:
    return f"{config.table_prefix()}{logical_queue}"


def image(record: Any, which: str = "new") -> dict[str, Any] | None:
    """A Chalice DynamoDBRecord's new or old image as plain Python values (whole numbers as int)."""
    raw = record.new_image if which == "new" else record.old_image
    if not raw:
        return None
    return plain_item(raw)


def plain_item(raw: dict[str, Any], *, leave_out: frozenset[str] = frozenset()) -> dict[str, Any]:
    """An item in DynamoDB's JSON (a stream image, a low-level read) as plain Python values, as `image` gives."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {key: _plain(deserializer.deserialize(value)) for key, value in raw.items() if key not in leave_out}


def _plain(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, set):
        return {_plain(item) for item in value}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value
