"""The catalog's tables: products, inventory (with the SKU cards), categories, stock audit, search index."""
from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.core.db import NEW_AND_OLD_IMAGES, index_meta, register, table_meta

ON_SALE = "ON_SALE"
OFF_SALE = "OFF_SALE"
MAIN_SHARD = 0  # shard 0 holds a SKU's regular stock and its card; flash sales add shards 1..n
ALL_PRODUCTS = "ALL"  # the one partition of the admin's all-products index


class SkuEntry(MapAttribute):
    """One SKU inside its product. `active` false = withdrawn: kept for orders and history, hidden from buyers."""
    sku_id = UnicodeAttribute()
    specs = MapAttribute()  # raw map: spec name -> value, e.g. {"颜色": "红"}
    price = NumberAttribute()  # fen
    image = UnicodeAttribute(null=True)
    active = BooleanAttribute(default=True)


class OnSaleByCategory(GlobalSecondaryIndex):
    """Sparse: only on-sale products carry `sale_category_id`; newest first by the ULID range key."""
    Meta = index_meta("on_sale_by_category", AllProjection)
    sale_category_id = UnicodeAttribute(hash_key=True)
    product_id = UnicodeAttribute(range_key=True)


class ByStatus(GlobalSecondaryIndex):
    """Every product under its status; the public listing reads the ON_SALE partition."""
    Meta = index_meta("by_status", AllProjection)
    status = UnicodeAttribute(hash_key=True)
    product_id = UnicodeAttribute(range_key=True)


class AllProducts(GlobalSecondaryIndex):
    """Every product in one partition, for the admin console's unfiltered list (admin writes are rare)."""
    Meta = index_meta("all_products", AllProjection)
    listing = UnicodeAttribute(hash_key=True)
    product_id = UnicodeAttribute(range_key=True)


@register
class ProductModel(Model):
    """The SPU with its SKUs. Its stream keeps the search index fresh."""
    Meta = table_meta("products", stream_view_type=NEW_AND_OLD_IMAGES)

    product_id = UnicodeAttribute(hash_key=True)
    title = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    category_id = UnicodeAttribute()
    images = ListAttribute(of=UnicodeAttribute, default=list)
    skus = ListAttribute(of=SkuEntry, default=list)
    status = UnicodeAttribute()
    sale_category_id = UnicodeAttribute(null=True)  # = category_id while on sale, absent otherwise
    listing = UnicodeAttribute(default=ALL_PRODUCTS)
    sales = NumberAttribute(default=0)
    version = NumberAttribute()  # +1 on every edit; edits are conditional on it (optimistic locking)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute(null=True)
    request_token = UnicodeAttribute(null=True)  # the create request that wrote it: a resent create knows its own
    last_change = UnicodeAttribute(null=True)  # the edit that last committed: a resent edit knows its own

    on_sale_by_category = OnSaleByCategory()
    by_status = ByStatus()
    all_products = AllProducts()


@register
class InventoryModel(Model):
    """Stock of one SKU shard, plus (on shard 0) the SKU card a cart is priced from with one BatchGetItem.

    The card is written in the same transaction as every product change, so it never
    disagrees with the product item.
    """
    Meta = table_meta("inventory", stream_view_type=NEW_AND_OLD_IMAGES)

    sku_id = UnicodeAttribute(hash_key=True)
    shard = NumberAttribute(range_key=True)
    available = NumberAttribute(default=0)
    reserved = NumberAttribute(default=0)
    sold = NumberAttribute(default=0)
    product_id = UnicodeAttribute(null=True)
    title = UnicodeAttribute(null=True)
    specs = MapAttribute(null=True)
    price = NumberAttribute(null=True)
    image = UnicodeAttribute(null=True)
    on_sale = BooleanAttribute(default=False)
    updated_at = UTCDateTimeAttribute(null=True)
    # Shard 0: below this many available the merchant is alerted (notify's stream handler reads it); absent: never.
    low_stock_threshold = NumberAttribute(null=True)


@register
class CategoryModel(Model):
    """Categories in one small partition (`group` = "ALL"), so the tree is one Query, never a Scan.

    Items with `group` = "NAME" claim a (parent, name) pair: written conditionally in the
    same transaction as the category, they keep sibling names unique under races.
    """
    Meta = table_meta("categories")

    group = UnicodeAttribute(hash_key=True)
    category_id = UnicodeAttribute(range_key=True)  # on a NAME claim: "<parent_id>/<name>"
    name = UnicodeAttribute(null=True)
    parent_id = UnicodeAttribute(null=True)
    sort = NumberAttribute(default=0)
    owner_id = UnicodeAttribute(null=True)  # on a NAME claim: the category holding the name
    created_at = UTCDateTimeAttribute(null=True)
    request_token = UnicodeAttribute(null=True)  # the create request that wrote it
    last_change = UnicodeAttribute(null=True)  # the edit that last committed: a resent edit knows its own
    updated_at = UTCDateTimeAttribute(null=True)


@register
class StockAdjustmentModel(Model):
    """The audit trail: every stock set or adjustment, who did it and why; ULID range key = time order."""
    Meta = table_meta("stock_adjustments")

    sku_id = UnicodeAttribute(hash_key=True)
    adjustment_id = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()  # SET or ADJUST
    delta = NumberAttribute()
    available_before = NumberAttribute()
    available_after = NumberAttribute()
    reason = UnicodeAttribute()
    actor = UnicodeAttribute()
    at = UTCDateTimeAttribute()


class ByProduct(GlobalSecondaryIndex):
    """A product's tokens, so a rebuild can find what to delete even if a stream record was lost."""
    Meta = index_meta("by_product", KeysOnlyProjection)
    product_id = UnicodeAttribute(hash_key=True)
    token = UnicodeAttribute(range_key=True)


@register
class SearchTokenModel(Model):
    """token -> on-sale product ids; maintained only by the products stream handler."""
    Meta = table_meta("search_index")

    token = UnicodeAttribute(hash_key=True)
    product_id = UnicodeAttribute(range_key=True)
    category_id = UnicodeAttribute(null=True)

    by_product = ByProduct()
