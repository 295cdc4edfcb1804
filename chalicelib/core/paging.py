"""Opaque page cursors for lists ordered by time-sortable ids."""
from __future__ import annotations

import base64
import binascii
import json

from chalicelib.core.errors import BadRequest
from chalicelib.core.ids import looks_like_id


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
    if not looks_like_id(after_id):
        raise BadRequest("cursor is not one this API returned", code="INVALID_CURSOR")
    return after_id
