"""The segments feature's tables: per-buyer facts, segment membership and snapshots, the thresholds, grants.

- `buyer_facts`: what the orders stream taught about each buyer who ever paid (first and last payment,
  orders, money kept by day for the high-value window), each order applied once (segments/facts.py).
- `segment_members`: who is in each segment now, one item per (segment, buyer); the scheduled refresh
  writes only the buyers who joined and deletes those who left (segments/refresh.py).
- `segments`: one snapshot per segment (size, computed_at, the thresholds it was computed with).
- `segment_settings`: the thresholds the merchant set (one item).
- `coupon_grants`: a coupon template granted to a segment, walked page by page by the grant worker.
"""
from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.core.db import index_meta, register, table_meta

NEW, ACTIVE, DORMANT, HIGH_VALUE = "NEW", "ACTIVE", "DORMANT", "HIGH_VALUE"
SEGMENTS = (NEW, ACTIVE, DORMANT, HIGH_VALUE)

RUNNING, DONE, CANCELLED = "RUNNING", "DONE", "CANCELLED"  # a grant's statuses
THRESHOLDS_KEY = "thresholds"


@register
class BuyerFactsModel(Model):
    """One buyer who paid at least once. `paid_by_day` is the money kept per UTC day of payment ("YYYY-MM-DD"
    -> fen, refunds taken off the day their order was paid), for the days a high-value window can reach."""
    Meta = table_meta("buyer_facts")

    user_id = UnicodeAttribute(hash_key=True)
    first_paid_at = UTCDateTimeAttribute(null=True)
    last_paid_at = UTCDateTimeAttribute(null=True)
    paid_orders = NumberAttribute(default=0)  # orders ever paid, refunded ones included
    refunded_orders = NumberAttribute(default=0)
    paid_total = NumberAttribute(default=0)  # fen paid, less what was refunded
    paid_by_day = JSONAttribute(default=dict)
    version = NumberAttribute(default=0)
    updated_at = UTCDateTimeAttribute(null=True)


@register
class SegmentMemberModel(Model):
    """A buyer in a segment since `joined_at` (the refresh that first found them there)."""
    Meta = table_meta("segment_members")

    segment = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)
    joined_at = UTCDateTimeAttribute()


@register
class SegmentSnapshotModel(Model):
    """A segment as the last refresh left it."""
    Meta = table_meta("segments")

    segment = UnicodeAttribute(hash_key=True)
    size = NumberAttribute(default=0)
    computed_at = UTCDateTimeAttribute()
    thresholds = JSONAttribute()  # the thresholds it was computed with, their `version` included


@register
class SegmentSettingsModel(Model):
    """The merchant's thresholds (key `thresholds`); defaults stand until saved."""
    Meta = table_meta("segment_settings")

    name = UnicodeAttribute(hash_key=True)
    new_days = NumberAttribute()
    active_days = NumberAttribute()
    dormant_days = NumberAttribute()
    high_value_fen = NumberAttribute()
    high_value_days = NumberAttribute()
    version = NumberAttribute(default=0)
    updated_at = UTCDateTimeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)


class RunningGrants(GlobalSecondaryIndex):
    """Sparse: only RUNNING grants carry `running`; what the watchdog looks at."""
    Meta = index_meta("running_grants", KeysOnlyProjection)
    running = UnicodeAttribute(hash_key=True)
    grant_id = UnicodeAttribute(range_key=True)


class AllGrants(GlobalSecondaryIndex):
    """Every grant in one partition, newest first (grants are a few a day at most)."""
    Meta = index_meta("all_grants", AllProjection)
    listing = UnicodeAttribute(hash_key=True)
    grant_id = UnicodeAttribute(range_key=True)


@register
class CouponGrantModel(Model):
    """A coupon template granted to a segment's members, RUNNING until its last page (DONE) or a cancel.

    The worker walks the segment's members in user_id order, one page per queue message: `pages` pages are
    recorded, the last one ending at `cursor`. A page's outcome is recorded on condition `pages` still equals
    its number, so a page delivered twice is counted once; the coupons themselves are given once per
    (grant, buyer) by marketing.
    """
    Meta = table_meta("coupon_grants")

    grant_id = UnicodeAttribute(hash_key=True)
    segment = UnicodeAttribute()
    template_id = UnicodeAttribute()
    status = UnicodeAttribute(default=RUNNING)
    total = NumberAttribute(default=0)  # the segment's size when the grant began
    pages = NumberAttribute(default=0)
    cursor = UnicodeAttribute(null=True)  # the last user_id of the last page recorded
    recorded_by = UnicodeAttribute(null=True)  # the token of the write that recorded the last page
    processed = NumberAttribute(default=0)
    granted = NumberAttribute(default=0)
    already_holds = NumberAttribute(default=0)
    per_user_limit = NumberAttribute(default=0)
    template_exhausted = NumberAttribute(default=0)
    template_ended = NumberAttribute(default=0)
    account_deleted = NumberAttribute(default=0)
    failed = NumberAttribute(default=0)
    created_by = UnicodeAttribute()
    started_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    finished_at = UTCDateTimeAttribute(null=True)
    cancelled_by = UnicodeAttribute(null=True)
    running = UnicodeAttribute(null=True)  # RUNNING while running (the sparse index)
    listing = UnicodeAttribute(default="ALL")

    running_grants = RunningGrants()
    all_grants = AllGrants()
