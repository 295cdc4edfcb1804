"""Idempotency-Key for create routes whose transaction has no room for a key record (a 99-SKU product is
already 100 actions): the key claims, before the create, the id the create will use.

The claim (`<scope>#<key>` in the core idempotency table, kept 24 h) stores that id and a
fingerprint of the request. A repeated request finds the claim and creates under the same
id, so the create's own `attribute_not_exists` condition makes a second item impossible, and
the caller recognises its earlier commit by reading that id back. The same key with another
body is 422 IDEMPOTENCY_KEY_REUSED.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Any

from chalicelib.core import clock
from chalicelib.core.db import condition_failed, get_or_none
from chalicelib.core.errors import BadRequest, Unprocessable
from chalicelib.core.ids import new_id
from chalicelib.core.models import IdempotencyRecord

KEY_TTL = timedelta(hours=24)
KEY_PATTERN = re.compile(r"^[0-9A-Za-z_.:-]{8,64}$")


def fingerprint(body: Any) -> str:
    data = body.model_dump(mode="json") if hasattr(body, "model_dump") else body
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def claimed_id(scope: str, key: str | None, body: Any) -> str | None:
    """The id a create under `key` uses: a new one claimed now, or the one an earlier request claimed.
    None without a key (the create then makes a fresh id, as before)."""
    if key is None or not key.strip():
        return None
    if not KEY_PATTERN.match(key):
        raise BadRequest("Idempotency-Key must be 8-64 characters of letters, digits, '_', '-', '.' or ':'",
                         code="INVALID_IDEMPOTENCY_KEY")
    record_id, print_ = f"{scope}#{key}", fingerprint(body)
    claim = IdempotencyRecord(record_id, expiration=clock.now() + KEY_TTL, status="CLAIMED", data=new_id(),
                              validation=print_)
    try:
        claim.save(condition=IdempotencyRecord.id.does_not_exist())
        return claim.data
    except Exception as exc:  # noqa: BLE001 - only a failed condition means "claimed before"
        if not condition_failed(exc):
            raise
    earlier = get_or_none(IdempotencyRecord, record_id)
    if earlier is None:  # expired between the two calls: claim again
        return claimed_id(scope, key, body)
    if earlier.validation != print_:
        raise Unprocessable("this Idempotency-Key was used for a different request; use a new key",
                            code="IDEMPOTENCY_KEY_REUSED")
    return earlier.data
