"""The orders table: one item per order, with the indexes buyers, staff and the sweeper read.

Index keys that a flash sale would write thousands of times a second under one
value (every new order is PENDING_PAYMENT) are spread over `SHARDS` partitions
by a suffix derived from the order id; readers query every shard and merge by
order id, which is time-sortable.
"""
from __future__ import annotations

import zlib

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.core.db import NEW_AND_OLD_IMAGES, index_meta, register, table_meta
from chalicelib.core.pii import EncryptedUnicodeAttribute, OwnsPii

# One index partition takes about 1,000 writes a second; 8 shards carry a sale of 8,000 orders a second.
SHARDS = 8


def shard_of(order_id: str) -> int:
    return zlib.crc32(order_id.encode("ascii")) % SHARDS


class OrderLine(MapAttribute):
    """One SKU as bought: the catalog's card at submit time, so later edits never change an order."""
    sku_id = UnicodeAttribute()
    shard = NumberAttribute(default=0)  # the inventory shard its stock was reserved from
    product_id = UnicodeAttribute()
    title = UnicodeAttribute()
    specs = MapAttribute()
    image = UnicodeAttribute(null=True)
    price = NumberAttribute()  # fen, per unit
    quantity = NumberAttribute()
    line_total = NumberAttribute()
    # this line's share of each discount (pricing.py): what a refund of the line could ever return is
    # line_total minus these
    member_discount = NumberAttribute(default=0)
    coupon_discount = NumberAttribute(default=0)
    points_discount = NumberAttribute(default=0)


class AppliedCouponRecord(MapAttribute):
    """The coupon an order used, as it was when the order was placed."""
    coupon_id = UnicodeAttribute()
    template_id = UnicodeAttribute()
    name = UnicodeAttribute()
    discount = NumberAttribute()
    valid_until = UTCDateTimeAttribute()  # given back after this, it is EXPIRED rather than AVAILABLE


class ShippingAddress(MapAttribute):
    """The address as it was at submit; name, phone and street line sealed (core/pii.py) under the order's buyer.
    A buyer who deleted their account leaves `address_id` = REDACTED and every field the redaction marker."""
    address_id = UnicodeAttribute()
    name = EncryptedUnicodeAttribute("orders.address.name")
    phone = EncryptedUnicodeAttribute("orders.address.phone")
    province = UnicodeAttribute()
    city = UnicodeAttribute()
    district = UnicodeAttribute()
    detail = EncryptedUnicodeAttribute("orders.address.detail")


class Shipment(MapAttribute):
    carrier = UnicodeAttribute()
    tracking_no = UnicodeAttribute()
    shipped_at = UTCDateTimeAttribute()
    shipped_by = UnicodeAttribute()


class RefundRequest(MapAttribute):
    reason = UnicodeAttribute()
    requested_at = UTCDateTimeAttribute()
    from_status = UnicodeAttribute()  # where a rejected request returns the order
    decision = UnicodeAttribute(null=True)  # APPROVED or REJECTED
    decided_at = UTCDateTimeAttribute(null=True)
    decided_by = UnicodeAttribute(null=True)
    reject_reason = UnicodeAttribute(null=True)


class PaymentRecord(MapAttribute):
    provider = UnicodeAttribute()
    transaction_id = UnicodeAttribute()
    paid_at = UTCDateTimeAttribute()
    amount = NumberAttribute()


class RefundRecord(MapAttribute):
    """A refund as the order shows it; its progress (provider, attempts) is the payments ledger's."""
    out_refund_no = UnicodeAttribute()
    amount = NumberAttribute()
    status = UnicodeAttribute()  # PROCESSING, SUCCESS, CLOSED, ABNORMAL, FAILED
    # BUYER: the refund the buyer asked for (it alone finishes REFUNDING); RETURN: money the order could not
    # take (a late, second or wrong-amount payment) sent back. Absent on records older than the distinction.
    kind = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    refund_id = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class ByBuyer(GlobalSecondaryIndex):
    """A buyer's orders, newest first by the ULID range key."""
    Meta = index_meta("by_buyer", AllProjection)
    user_id = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute(range_key=True)


class ByBuyerStatus(GlobalSecondaryIndex):
    """A buyer's orders in one status: `buyer_status` = "<user_id>#<status>"."""
    Meta = index_meta("by_buyer_status", AllProjection)
    buyer_status = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute(range_key=True)


class ByStatus(GlobalSecondaryIndex):
    """The admin's list by status: `status_shard` = "<status>#<shard>"."""
    Meta = index_meta("by_status", AllProjection)
    status_shard = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute(range_key=True)


class AllOrders(GlobalSecondaryIndex):
    """The admin's unfiltered list: `listing_shard` = "ALL#<shard>"."""
    Meta = index_meta("all_orders", AllProjection)
    listing_shard = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute(range_key=True)


class Due(GlobalSecondaryIndex):
    """Sparse: only orders waiting for a deadline carry `due_shard` ("EXPIRE#<n>" while unpaid,
    "CONFIRM#<n>" while shipped) and `due_at`; the sweeper queries `due_at <= now`, never scans."""
    Meta = index_meta("due", KeysOnlyProjection)
    due_shard = UnicodeAttribute(hash_key=True)
    due_at = UTCDateTimeAttribute(range_key=True)


@register
class OrderModel(OwnsPii, Model):
    """An order. Its status moves only by updates conditioned on the status it had (moves.py)."""
    Meta = table_meta("orders", stream_view_type=NEW_AND_OLD_IMAGES)

    order_id = UnicodeAttribute(hash_key=True)  # also the out_trade_no sent to payment providers
    user_id = UnicodeAttribute()
    status = UnicodeAttribute()
    cancel_reason = UnicodeAttribute(null=True)
    lines = ListAttribute(of=OrderLine)
    items_total = NumberAttribute()
    member_discount = NumberAttribute(default=0)
    coupon_discount = NumberAttribute(default=0)
    points_discount = NumberAttribute(default=0)  # = points spent (1 point = 1 fen)
    discount_total = NumberAttribute()  # member + coupon + points
    member_level = NumberAttribute(null=True)  # the buyer's level when the order was placed
    coupon = AppliedCouponRecord(null=True)
    shipping_fee = NumberAttribute()
    payable = NumberAttribute()
    address = ShippingAddress()
    note = UnicodeAttribute(default="")
    idempotency_key = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()  # unpaid orders are cancelled after this
    paid_at = UTCDateTimeAttribute(null=True)
    cancelled_at = UTCDateTimeAttribute(null=True)
    completed_at = UTCDateTimeAttribute(null=True)
    shipment = Shipment(null=True)
    refund_request = RefundRequest(null=True)
    payment = PaymentRecord(null=True)
    refunds = ListAttribute(of=RefundRecord, null=True)
    version = NumberAttribute(default=1)
    flash_sale_id = UnicodeAttribute(null=True)  # a flash sale's order: its units are that sale's pool (marketing)
    last_change = UnicodeAttribute(null=True)  # the move that last committed: a resent move knows its own commit
    group_id = UnicodeAttribute(null=True)  # a group-buy order's group (groupbuy); paid, it waits in AWAITING_GROUP

    buyer_status = UnicodeAttribute()
    status_shard = UnicodeAttribute()
    listing_shard = UnicodeAttribute()
    due_shard = UnicodeAttribute(null=True)
    due_at = UTCDateTimeAttribute(null=True)

    by_buyer = ByBuyer()
    by_buyer_status = ByBuyerStatus()
    by_status = ByStatus()
    all_orders = AllOrders()
    due = Due()
