"""The flash-sale tables (marketing): the sale, its stock pool split over shard items, the buyers' quotas.

Every item a sale's buyers write has a partition key of its own: a pool shard is
`<sale_id>#<shard>` and a quota `<sale_id>#<user_id>`, so the writes of a sale spread
over as many partitions as it has shards (DynamoDB takes about 1,000 write units a second
per item, and a transactional write costs two), never one hot item collection.
"""
from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.db import NEW_AND_OLD_IMAGES, index_meta, register, table_meta

OPEN_LISTING = "OPEN"  # the one partition of the sparse index of sales not yet closed
ALL_SALES = "ALL"


class OpenSales(GlobalSecondaryIndex):
    """Sparse: sales not yet closed carry `open_listing`; by `ends_at`, so the closer finds the ones past it."""
    Meta = index_meta("open_sales", AllProjection)
    open_listing = UnicodeAttribute(hash_key=True)
    ends_at = UTCDateTimeAttribute(range_key=True)


class AllSales(GlobalSecondaryIndex):
    """Every sale in one partition (staff create few), newest first by the ULID range key."""
    Meta = index_meta("all_sales", AllProjection)
    group = UnicodeAttribute(hash_key=True)
    sale_id = UnicodeAttribute(range_key=True)


@register
class FlashSaleModel(Model):
    """A sale: its SKU (as the catalog showed it at creation), price, window, limits and shard count.

    Written by staff (create, edit, end) and by the pool's stream handler (`sold_out`, conditioned on a
    growing `pool_version`); buyers only read it, at most once a second per function (flash_stock.py).
    `version` grows with every edit, and each shard's `terms` names the version it sells under
    (flash_edits.py).
    """
    Meta = table_meta("flash_sales")

    sale_id = UnicodeAttribute(hash_key=True)
    sku_id = UnicodeAttribute()
    product_id = UnicodeAttribute()
    title = UnicodeAttribute()
    specs_json = UnicodeAttribute(default="{}")
    image = UnicodeAttribute(null=True)
    original_price = NumberAttribute()  # fen: the SKU's price when the sale was created
    sale_price = NumberAttribute()  # fen
    stock = NumberAttribute()  # the cap: units moved out of regular stock into the pool
    per_user_limit = NumberAttribute()
    payment_timeout_seconds = NumberAttribute()
    shards = NumberAttribute()
    starts_at = UTCDateTimeAttribute()
    ends_at = UTCDateTimeAttribute()
    sold_out = BooleanAttribute(default=False)  # every shard empty, as of `pool_version` (the stream handler's)
    pool_version = NumberAttribute(default=0)
    closed_at = UTCDateTimeAttribute(null=True)  # ended by staff or by the closer; the pool is closed
    close_reason = UnicodeAttribute(null=True)  # STAFF or TIME
    open_listing = UnicodeAttribute(null=True)  # OPEN_LISTING until closed
    group = UnicodeAttribute(default=ALL_SALES)
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    version = NumberAttribute(default=0)  # the terms' version: grows with every edit
    edited_at = UTCDateTimeAttribute(null=True)
    edited_by = UnicodeAttribute(null=True)
    edit_token = UnicodeAttribute(null=True)  # the last edit's own id: tells its lost reply from a lost race

    open_sales = OpenSales()
    all_sales = AllSales()


@register
class FlashPoolModel(Model):
    """One shard of a sale's pool. allotted = available + reserved + sold + returned, always.

    `available` only goes down by a reservation conditioned on `available >= qty`, the pool
    being open, the sale's window (by the server clock) and `terms` being the sale version the
    order was priced from; `returned` grows when the closed pool's available units go back to the
    SKU's regular stock. An edit of the sale moves `allotted` and `available` together. `version`
    grows with every change, so the stream handler can tell a newer snapshot of the pool from an
    older one.
    """
    Meta = table_meta("flash_pools", stream_view_type=NEW_AND_OLD_IMAGES)

    pool_key = UnicodeAttribute(hash_key=True)  # <sale_id>#<shard>
    sale_id = UnicodeAttribute()
    shard = NumberAttribute()
    sku_id = UnicodeAttribute()
    allotted = NumberAttribute()
    available = NumberAttribute()
    reserved = NumberAttribute(default=0)
    sold = NumberAttribute(default=0)
    returned = NumberAttribute(default=0)
    opens_at = UTCDateTimeAttribute()
    closes_at = UTCDateTimeAttribute()
    closed = BooleanAttribute(default=False)
    version = NumberAttribute(default=0)
    terms = NumberAttribute(default=0)  # the sale's `version` this shard sells under (absent on older shards: 0)


@register
class FlashQuotaModel(Model):
    """What one buyer holds of one sale: `bought` + qty <= the sale's per_user_limit, in the order's transaction."""
    Meta = table_meta("flash_quotas")

    quota_key = UnicodeAttribute(hash_key=True)  # <sale_id>#<user_id>
    bought = NumberAttribute(default=0)


def pool_key(sale_id: str, shard: int) -> str:
    return f"{sale_id}#{shard}"


def quota_key(sale_id: str, user_id: str) -> str:
    return f"{sale_id}#{user_id}"
