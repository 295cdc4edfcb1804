"""Idempotency-Key records (`<scope>#<key>` in the core idempotency table, kept 24 h), two ways.

- In the create's own transaction (`transaction_key`), where it has room: the record holds the
  id of what the request created and a fingerprint of the request, and commits with it, so the
  thing exists exactly when its key is taken. A retry (a lost reply, a double tap, a concurrent
  twin) finds the record and answers what the first one created. Coupon claims use it; orders and
  group orders (checkout, groupbuy) follow the same pattern with their own copies of it.
- Before the create (`claimed_id`), for create routes whose transaction has no room for a key
  record (a 99-SKU product is already 100 actions): the key claims the id the create will use.
  A repeated request finds the claim and creates under the same id, so the create's own
  `attribute_not_exists` condition makes a second item impossible, and the caller recognises
  its earlier commit by reading that id back.

Either way the same key with another request is 422 IDEMPOTENCY_KEY_REUSED, and a scope names
the route and the caller (`marketing#claim#<buyer>`), so one buyer's key never answers another's.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.core import clock
from chalicelib.core.db import condition_failed, get_or_none
from chalicelib.core.errors import BadRequest, Unprocessable
from chalicelib.core.ids import new_id
from chalicelib.core.models import IdempotencyRecord
from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)

if TYPE_CHECKING:
    from pynamodb.transactions import TransactWrite

KEY_TTL = timedelta(hours=24)
KEY_PATTERN = re.compile(r"^[0-9A-Za-z_.:-]{8,64}$")


def fingerprint(body: Any) -> str:
    data = body.model_dump(mode="json") if hasattr(body, "model_dump") else body
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _require_well_formed(key: str) -> None:
    if not KEY_PATTERN.match(key):
        raise BadRequest("Idempotency-Key must be 8-64 characters of letters, digits, '_', '-', '.' or ':'",
                         code="INVALID_IDEMPOTENCY_KEY")


def _refuse_reuse() -> Unprocessable:
    return Unprocessable("this Idempotency-Key was used for a different request; use a new key",
                         code="IDEMPOTENCY_KEY_REUSED")


@dataclass(frozen=True)
class TransactionKey:
    """An Idempotency-Key whose record commits in the create's own transaction."""
    record_id: str
    fingerprint: str

    def created(self) -> str | None:
        """The id the first request under this key created, or None when none committed (yet).
        422 IDEMPOTENCY_KEY_REUSED when the key was used for another request."""
        record = get_or_none(IdempotencyRecord, self.record_id)
        if record is None:
            return None
        if record.validation != self.fingerprint:
            raise _refuse_reuse()
        return record.data

    def add_record(self, tx: TransactWrite, created_id: str) -> None:
        """The record, on condition that the key is still free: a twin that committed first fails this."""
        record = IdempotencyRecord(self.record_id, expiration=clock.now() + KEY_TTL, status="COMPLETED",
                                   data=created_id, validation=self.fingerprint)
        tx.save(record, condition=IdempotencyRecord.id.does_not_exist())


def transaction_key(scope: str, key: str | None, request: Any) -> TransactionKey | None:
    """The key for a create that writes its record in its own transaction; None without a key (an optional
    header left out or blank: the create then happens every time). 400 INVALID_IDEMPOTENCY_KEY when malformed."""
    if key is None or not key.strip():
        return None
    _require_well_formed(key)
    return TransactionKey(f"{scope}#{key}", fingerprint(request))


def claimed_id(scope: str, key: str | None, body: Any) -> str | None:
    """The id a create under `key` uses: a new one claimed now, or the one an earlier request claimed.
    None without a key (the create then makes a fresh id, as before)."""
    if key is None or not key.strip():
        return None
    _require_well_formed(key)
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
        raise _refuse_reuse()
    return earlier.data
