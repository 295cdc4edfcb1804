"""The marketing feature's tables: coupon templates, the coupons buyers hold, per-buyer claim counts.

A coupon copies its template's terms when it is claimed or granted, so editing a
template never changes a coupon a buyer already holds.
"""
from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.db import index_meta, register, table_meta

AMOUNT_OFF, PERCENT_OFF, NO_THRESHOLD = "AMOUNT_OFF", "PERCENT_OFF", "NO_THRESHOLD"
KINDS = (AMOUNT_OFF, PERCENT_OFF, NO_THRESHOLD)
SCOPE_ALL, SCOPE_CATEGORIES, SCOPE_PRODUCTS = "ALL", "CATEGORIES", "PRODUCTS"
ACTIVE, ENDED = "ACTIVE", "ENDED"
# What a coupon item stores; EXPIRED is also what a buyer sees of an AVAILABLE coupon past its validity.
AVAILABLE, LOCKED, USED, EXPIRED = "AVAILABLE", "LOCKED", "USED", "EXPIRED"
CLAIMABLE_LISTING = "CLAIMABLE"  # the one partition of the sparse index of claimable, active templates


class CouponTerms:
    """The attributes a template and a coupon share (mixed into both models): what the discount is."""
    name = UnicodeAttribute()
    kind = UnicodeAttribute()  # AMOUNT_OFF (满减), PERCENT_OFF (折扣, capped), NO_THRESHOLD (无门槛)
    amount_off = NumberAttribute(null=True)  # fen
    percent_off = NumberAttribute(null=True)  # 1-99: percent taken off the in-scope lines
    max_discount = NumberAttribute(null=True)  # fen: the cap of a PERCENT_OFF coupon
    min_spend = NumberAttribute(default=0)  # fen: in-scope lines after the member discount
    scope_kind = UnicodeAttribute(default=SCOPE_ALL)
    scope_ids = ListAttribute(of=UnicodeAttribute, default=list)


class Claimable(GlobalSecondaryIndex):
    """Sparse: only active templates buyers may claim carry `listing`; newest first by template id."""
    Meta = index_meta("claimable", AllProjection)
    listing = UnicodeAttribute(hash_key=True)
    template_id = UnicodeAttribute(range_key=True)


class AllTemplates(GlobalSecondaryIndex):
    """Every template in one partition (admin writes are rare), for the console's list."""
    Meta = index_meta("all_templates", AllProjection)
    group = UnicodeAttribute(hash_key=True)
    template_id = UnicodeAttribute(range_key=True)


@register
class CouponTemplateModel(CouponTerms, Model):
    """A kind of coupon the merchant issues. `claimed` only grows, by the claim transaction, while < total."""
    Meta = table_meta("coupon_templates")

    template_id = UnicodeAttribute(hash_key=True)
    valid_days = NumberAttribute(null=True)  # a coupon is valid this many days from its claim...
    starts_at = UTCDateTimeAttribute(null=True)  # ...or within this window
    ends_at = UTCDateTimeAttribute(null=True)
    total = NumberAttribute()
    claimed = NumberAttribute(default=0)
    per_user_limit = NumberAttribute()
    claimable = BooleanAttribute(default=True)  # false: only granted by staff (or a future segment rule)
    status = UnicodeAttribute(default=ACTIVE)
    listing = UnicodeAttribute(null=True)  # CLAIMABLE_LISTING while active and claimable
    group = UnicodeAttribute(default="ALL")
    version = NumberAttribute(default=1)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute(null=True)

    claimable_index = Claimable()
    all_templates = AllTemplates()


@register
class CouponModel(CouponTerms, Model):
    """One coupon a buyer holds, its terms copied from the template at claim.

    status AVAILABLE -> LOCKED (by an unpaid order, in the order's transaction) -> USED (in the payment's)
    -> AVAILABLE again when the order is cancelled, expires or is refunded in full, or EXPIRED when that
    happens after `valid_until`. An AVAILABLE coupon past `valid_until` is shown as EXPIRED.
    """
    Meta = table_meta("coupons")

    user_id = UnicodeAttribute(hash_key=True)
    coupon_id = UnicodeAttribute(range_key=True)  # ULID: a buyer's coupons list newest first
    template_id = UnicodeAttribute()
    source = UnicodeAttribute(default="CLAIM")  # CLAIM or GRANT
    status = UnicodeAttribute(default=AVAILABLE)
    valid_from = UTCDateTimeAttribute()
    valid_until = UTCDateTimeAttribute()
    order_id = UnicodeAttribute(null=True)  # the order that locked or used it
    claimed_at = UTCDateTimeAttribute()
    locked_at = UTCDateTimeAttribute(null=True)
    used_at = UTCDateTimeAttribute(null=True)
    returned_at = UTCDateTimeAttribute(null=True)


@register
class CouponClaimCountModel(Model):
    """How many coupons of a template a buyer holds: the per-buyer limit, moved in the claim's transaction."""
    Meta = table_meta("coupon_claim_counts")

    template_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)
    held = NumberAttribute(default=0)
