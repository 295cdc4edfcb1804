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
