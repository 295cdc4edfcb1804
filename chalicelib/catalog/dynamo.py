"""Two DynamoDB idioms the catalog leans on: batch reads that survive throttling, and opaque page cursors."""
from __future__ import annotations

import base64
import binascii
import json
import random
import time
from collections.abc import Iterable
from typing import TypeVar

from pynamodb.models import Model

from chalicelib.catalog.inputs import ID_PATTERN
from chalicelib.core.errors import BadRequest, ServiceUnavailable

BATCH_GET_LIMIT = 100  # keys per BatchGetItem
BATCH_GET_ATTEMPTS = 6

M = TypeVar("M", bound=Model)


def batch_get(model: type[M], keys: Iterable[tuple], *, consistent: bool = False, sleep=time.sleep) -> list[M]:
    """Items for `keys` ((hash,) or (hash, range) tuples), one BatchGetItem per 100 keys; missing keys absent.

    PynamoDB's own batch_get re-asks for UnprocessedKeys in a tight loop; under
    throttling that makes things worse, so the retries here back off with jitter.
    """
    serialized = [_serialize_key(model, key) for key in dict.fromkeys(keys)]  # DynamoDB refuses duplicates
    found: list[M] = []
    for start in range(0, len(serialized), BATCH_GET_LIMIT):
        found.extend(_fetch_chunk(model, serialized[start:start + BATCH_GET_LIMIT], consistent, sleep))
    return found


def _fetch_chunk(model: type[M], keys: list[dict], consistent: bool, sleep) -> list[M]:
    items: list[M] = []
    for attempt in range(BATCH_GET_ATTEMPTS):
        page, unprocessed = model._batch_get_page(keys, consistent_read=consistent, attributes_to_get=None)
        items.extend(model.from_raw_data(raw) for raw in page or [])
        if not unprocessed:
            return items
        keys = unprocessed
        sleep(random.uniform(0, 0.025 * 2**attempt))
    raise ServiceUnavailable("the shop is busy, retry shortly", code="BUSY")


def _serialize_key(model: type[Model], key: tuple) -> dict:
    hash_value, range_value = model._serialize_keys(*key)
    serialized = {model._hash_key_attribute().attr_name: hash_value}
    if range_value is not None:
        serialized[model._range_key_attribute().attr_name] = range_value
    return serialized


def encode_cursor(after_id: str) -> str:
    """Pages are ordered by time-sortable ids, so "everything after this id" is the whole cursor."""
    return base64.urlsafe_b64encode(json.dumps({"after": after_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        after_id = payload["after"]
    except (ValueError, UnicodeError, binascii.Error, KeyError, TypeError):
        raise BadRequest("cursor is not one this API returned", code="INVALID_CURSOR") from None
    if not isinstance(after_id, str) or not ID_PATTERN.match(after_id):
        raise BadRequest("cursor is not one this API returned", code="INVALID_CURSOR")
    return after_id
