"""Tables core owns: idempotency records (Powertools-compatible) and effect markers."""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.core.db import register, table_meta


@register
class IdempotencyRecord(Model):
    """Powertools' DynamoDB idempotency layout: key `id`, `expiration` TTL, `status`, `data`."""
    Meta = table_meta("idempotency")

    id = UnicodeAttribute(hash_key=True)
    expiration = TTLAttribute(null=True)
    in_progress_expiration = NumberAttribute(null=True)
    status = UnicodeAttribute(null=True)
    data = UnicodeAttribute(null=True)
    validation = UnicodeAttribute(null=True)


@register
class LimitState(Model):
    """One abuse-limit key (`<action>#<scope>#<value>`): a token bucket, or a run of failures and the lock it set.

    Written only by chalicelib.core.limits, always conditioned on `version`, so two
    requests never both spend the same token or both count as the same failure.
    """
    Meta = table_meta("limits")

    key = UnicodeAttribute(hash_key=True)
    version = NumberAttribute(default=0)
    last_request = UnicodeAttribute(null=True)  # the write that set `version`: a resent write knows its own
    tokens = NumberAttribute(null=True)  # a bucket's tokens at `updated_at`
    updated_at = NumberAttribute(null=True)  # epoch seconds
    failures = NumberAttribute(null=True)  # a lockout's failures in a row
    locked_until = NumberAttribute(null=True)  # epoch seconds
    expiration = TTLAttribute(null=True)  # an idle key disappears; judged by the clock, never by TTL's timing
