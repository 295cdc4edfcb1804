"""The analytics feature's tables: per-day counters, and the markers that make each count happen once.

`analytics_counters` holds a handful of rows per shop day (partition `day`, sort key `slot`):

    totals            every per-day number: gmv, refunds, orders, paid_orders, new_buyers, the funnel's exact
                      distinct counts, page views ..., and `status#<STATUS>` (orders created that day by status)
    products#<n>      per product (spread over PRODUCT_SLOTS rows by a hash of its id): `v#`, `c#`, `u#`, `a#`
                      + product id = views, cart adds, units paid, amount paid (fen)
    campaigns         per campaign (`<kind>#<id>`): `o#` orders created, `p#` orders paid, `a#` amount paid,
                      `d#` discount given, `n#` its name
    sketch#<step>     a HyperLogLog sketch of the step's visitors (distinct over a range of days)

Counter attributes are named at run time, so they are read and written through raw attribute paths, and
each moves only by DynamoDB `ADD` inside a transaction with the marker of the fact that moves it. So the
dashboard reads a fixed number of rows per day, whatever the number of orders.

`analytics_marks` holds one marker per counted fact (`order#<id>#paid`, `refund#<out_refund_no>`,
`track#<request_id>`, `seen#<day>#<step>#<visitor>` ...), put with `attribute_not_exists` in the same
transaction as the counters it moved. Markers expire after MARK_DAYS, longer than any redelivery can come
(a stream keeps records 24 hours, a dead-letter queue 14 days); a buyer's first payment (`buyer#<user_id>`)
is kept for good: it is what tells a new buyer from a returning one.
"""
from __future__ import annotations

import zlib

from pynamodb.attributes import BinaryAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.core.db import register, table_meta

TOTALS, CAMPAIGNS = "totals", "campaigns"
PRODUCT_SLOTS = 4  # a row holds about 2,900 products' four counters within DynamoDB's 400 KB item limit
MARK_DAYS = 30


def product_slot(product_id: str) -> str:
    return f"products#{zlib.crc32(product_id.encode('utf-8')) % PRODUCT_SLOTS}"


def product_slots() -> list[str]:
    return [f"products#{n}" for n in range(PRODUCT_SLOTS)]


def sketch_slot(step: str) -> str:
    return f"sketch#{step}"


@register
class CounterRow(Model):
    """One row of a day's counters; its counter attributes are named at run time (see the module's text)."""
    Meta = table_meta("analytics_counters")

    day = UnicodeAttribute(hash_key=True)  # YYYY-MM-DD in the shop's time zone
    slot = UnicodeAttribute(range_key=True)
    # sketch rows only
    registers = BinaryAttribute(null=True, legacy_encoding=False)  # zlib of the HyperLogLog registers
    version = NumberAttribute(null=True)  # a sketch is rewritten conditioned on the version read


@register
class Mark(Model):
    """A fact already counted. `order_id` and `day` only on a buyer's first-payment marker, `note` on a status move's."""
    Meta = table_meta("analytics_marks")

    mark = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute(null=True)
    day = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)  # a status move's old status: what a backfill of its order needs (replay.py)
    expires = TTLAttribute(null=True)


RUNNING, DONE, CANCELLED = "RUNNING", "DONE", "CANCELLED"  # a backfill's statuses


@register
class BackfillJob(Model):
    """A replay of the orders placed in `from_day`..`to_day` into the counters (chalicelib/analytics/backfill.py)."""
    Meta = table_meta("analytics_backfills")

    job_id = UnicodeAttribute(hash_key=True)
    from_day = UnicodeAttribute()
    to_day = UnicodeAttribute()
    status = UnicodeAttribute(default=RUNNING)
    live_since = UnicodeAttribute()  # the first shop day the live stream counted orders on
    pages = NumberAttribute(default=0)  # pages recorded; the next message names page `pages`
    cursor = UnicodeAttribute(null=True)  # the last order id of the last page recorded
    recorded_by = UnicodeAttribute(null=True)  # the token of the write that recorded the last page
    orders_read = NumberAttribute(default=0)
    counted = NumberAttribute(default=0)  # facts this job counted (placed, paid, refunded, a first payment)
    already_counted = NumberAttribute(default=0)  # facts the live stream (or an earlier job) had counted
    left_to_live = NumberAttribute(default=0)  # facts of days whose live markers may have expired: left alone
    created_by = UnicodeAttribute()
    cancelled_by = UnicodeAttribute(null=True)
    started_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    finished_at = UTCDateTimeAttribute(null=True)
