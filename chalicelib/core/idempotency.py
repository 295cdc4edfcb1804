"""Idempotency-Key records (`<scope>#<key>` in the core idempotency table, kept 24 h), two ways.

- In the create's own transaction (`transaction_key`, `required_transaction_key`), where it has room:
  the record holds the id of what the request created and a fingerprint of the request, and commits
  with it, so the thing exists exactly when its key is taken. A retry (a lost reply, a double tap, a
  concurrent twin) finds the record and answers what the first one created. The one pattern of
  `POST /orders` (key required, scope `checkout#<buyer>`, its own 422 message, 24 h from the order's
  creation), group-buy opens and joins (key optional but never blank, `groupbuy#<buyer>`, the
  request's values fingerprinted in order: `values_fingerprint`, 24 h from the order's creation) and
  coupon claims (key optional, `marketing#claim#<buyer>`, 24 h from now); where they differ it takes
  a parameter.
- Before the create (`claimed_id`), for create routes whose transaction has no room for a key
  record (a 99-SKU product is already 100 actions): the key claims the id the create will use.
  A repeated request finds the claim and creates under the same id, so the create's own
  `attribute_not_exists` condition makes a second item impossible, and the caller recognises
  its earlier commit by reading that id back.

Either way the same key with another request is 422 IDEMPOTENCY_KEY_REUSED, and a scope names
the route and the caller (`marketing#claim#<buyer>`), so one buyer's key never answers another's.
Record ids and fingerprints are what a live table holds: a retry sent across a deploy must still
find its key, so neither format may change (each caller's tests write a record by hand as the first
release did and retry under it: tests/checkout/test_key_records.py, tests/groupbuy/test_group_keys.py,
tests/marketing/test_coupon_claim_keys.py, tests/admin/test_lost_replies.py).
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.core import clock
from chalicelib.core.db import condition_failed, get_or_none
from chalicelib.core.errors import BadRequest, Unprocessable
from chalicelib.core.ids import new_id
from chalicelib.core.models import IdempotencyRecord
from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)
from chalicelib.core.views import jsonable

if TYPE_CHECKING:
    from collections.abc import Callable

    from pynamodb.transactions import TransactWrite

    from chalicelib.core.batch_reads import ReadBatch

KEY_TTL = timedelta(hours=24)
KEY_PATTERN = re.compile(r"^[0-9A-Za-z_.:-]{8,64}$")
REUSED = "this Idempotency-Key was used for a different request; use a new key"


def fingerprint(body: Any) -> str:
    """The request as canonical JSON (keys sorted, no spaces), the same whether the edge validated a body by its
    committed schema (core/input_schemas.Fields) or by its pydantic model, or a caller built a dict."""
    canonical = json.dumps(jsonable(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def values_fingerprint(values: tuple[Any, ...]) -> str:
    """The request's values in order, as `json.dumps` writes them by default: the format group-buy's records
    have carried since launch (not `fingerprint`'s, so that a key stored before stays the same request)."""
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()


def _require_well_formed(key: str) -> None:
    if not KEY_PATTERN.match(key):
        raise BadRequest("Idempotency-Key must be 8-64 characters of letters, digits, '_', '-', '.' or ':'",
                         code="INVALID_IDEMPOTENCY_KEY")


@dataclass(frozen=True)
class TransactionKey:
    """An Idempotency-Key whose record commits in the create's own transaction."""
    record_id: str
    fingerprint: str
    reused: str = REUSED  # the 422's message when the key comes back with another request

    def created(self) -> str | None:
        """The id the first request under this key created, or None when none committed (yet).
        422 IDEMPOTENCY_KEY_REUSED when the key was used for another request."""
        return self._created_by(get_or_none(IdempotencyRecord, self.record_id))

    def ask_created(self, batch: ReadBatch) -> Callable[[], str | None]:
        """`created`, its record read (consistently, as `created` reads it) in `batch` with other reads."""
        record = batch.ask(IdempotencyRecord, (self.record_id,), consistent=True)
        return lambda: self._created_by(record())

    def _created_by(self, record: IdempotencyRecord | None) -> str | None:
        if record is None:
            return None
        if record.validation != self.fingerprint:
            raise Unprocessable(self.reused, code="IDEMPOTENCY_KEY_REUSED")
        return record.data

    def add_record(self, tx: TransactWrite, created_id: str, *, created_at: datetime | None = None) -> None:
        """The record, on condition that the key is still free: a twin that committed first fails this. Kept
        KEY_TTL from `created_at` (the created thing's own creation time) or, without one, from now."""
        expiration = (created_at if created_at is not None else clock.now()) + KEY_TTL
        record = IdempotencyRecord(self.record_id, expiration=expiration, status="COMPLETED", data=created_id,
                                   validation=self.fingerprint)
        tx.save(record, condition=IdempotencyRecord.id.does_not_exist())


def transaction_key(scope: str, key: str | None, request: Any, *,
                    fingerprint_of: Callable[[Any], str] = fingerprint, reused: str = REUSED,
                    blank_is_absent: bool = True) -> TransactionKey | None:
    """The key for a create that writes its record in its own transaction; None without a key (an optional
    header left out, or blank unless `blank_is_absent=False`: the create then happens every time).
    400 INVALID_IDEMPOTENCY_KEY when malformed."""
    if key is None or (blank_is_absent and not key.strip()):
        return None
    _require_well_formed(key)
    return TransactionKey(f"{scope}#{key}", fingerprint_of(request), reused)


def required_transaction_key(scope: str, key: str | None, request: Any, *, missing: str,
                             fingerprint_of: Callable[[Any], str] = fingerprint,
                             reused: str = REUSED) -> TransactionKey:
    """As `transaction_key` for a route whose key is required: without one (or blank), 400
    IDEMPOTENCY_KEY_REQUIRED saying `missing`."""
    if key is None or not key.strip():
        raise BadRequest(missing, code="IDEMPOTENCY_KEY_REQUIRED")
    _require_well_formed(key)
    return TransactionKey(f"{scope}#{key}", fingerprint_of(request), reused)


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
        raise Unprocessable(REUSED, code="IDEMPOTENCY_KEY_REUSED")
    return earlier.data
