"""The cart feature's table: one partition per buyer holding a header item and the cart lines.

The header and the lines share the partition so that one Query reads the whole
cart, and so that adding or removing a line can update the header's
`line_count` in the same transaction: the 100-line limit then holds under
concurrent adds without any lock.
"""
from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from chalicelib.core.db import NEW_AND_OLD_IMAGES, register, table_meta

# The header's sort key. SKU ids are [0-9A-Za-z_-], so "#" can never name a SKU,
# and it sorts before every SKU id, so the header comes first in the Query.
HEADER_KEY = "#CART"


@register
class CartRecord(Model):
    """Any item of a buyer's cart partition; `kind` says whether it is the header or a line."""
    # Its stream tells the dashboard of every add (chalicelib/cart/events.py, read by analytics).
    Meta = table_meta("carts", stream_view_type=NEW_AND_OLD_IMAGES)

    user_id = UnicodeAttribute(hash_key=True)
    sku_id = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()


class CartHeader(CartRecord, discriminator="header"):
    """Per-buyer cart summary; created on the first add, never deleted (an empty cart has line_count 0)."""
    line_count = NumberAttribute()
    updated_at = UTCDateTimeAttribute()


class CartLineRecord(CartRecord, discriminator="line"):
    """One SKU in the cart. `added_price` is the price when first added, to show drops and rises."""
    product_id = UnicodeAttribute()
    quantity = NumberAttribute()
    selected = BooleanAttribute()
    added_price = NumberAttribute()
    added_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    # The add request that last wrote the line: a write the SDK resent after a lost reply finds itself here
    # instead of adding its units a second time.
    request_token = UnicodeAttribute(null=True)
