"""The notify feature's tables: the outbox, subscription credits, settings (templates, the token), low stock.

The outbox item's key is the event it announces and who it is for
(`<kind>#<occurrence>#<user_id>`), so deriving it again from a redelivered record
finds the item already there: one notification per event and recipient, however
often the record arrives.
"""
from __future__ import annotations

import zlib

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.db import NEW_AND_OLD_IMAGES, index_meta, register, table_meta

# Notification statuses (the contract's) and the recipients' kinds.
PENDING, SENT, NOT_SUBSCRIBED, FAILED = "PENDING", "SENT", "NOT_SUBSCRIBED", "FAILED"
BUYER, STAFF = "BUYER", "STAFF"

# A flash sale pays thousands of orders a second, each one notification: the listing index is spread
# over shards as the orders' is (one index partition takes about 1,000 writes a second).
SHARDS = 8


def shard_of(notification_id: str) -> int:
    return zlib.crc32(notification_id.encode("ascii")) % SHARDS


class Newest(GlobalSecondaryIndex):
    """Every notification under `listing_shard` = "ALL#<shard>", newest first by the ULID."""
    Meta = index_meta("newest", AllProjection)
    listing_shard = UnicodeAttribute(hash_key=True)
    notification_id = UnicodeAttribute(range_key=True)


@register
class NotificationModel(Model):
    """One message to one recipient. Its stream puts each new PENDING item on the send queue."""
    Meta = table_meta("notifications", stream_view_type=NEW_AND_OLD_IMAGES)

    event_key = UnicodeAttribute(hash_key=True)  # "<kind>#<occurrence>#<user_id>"
    notification_id = UnicodeAttribute()  # ULID: the listing's order and the public id
    kind = UnicodeAttribute()
    recipient_kind = UnicodeAttribute()  # BUYER or STAFF
    user_id = UnicodeAttribute()
    order_id = UnicodeAttribute(null=True)
    sku_id = UnicodeAttribute(null=True)
    template_id = UnicodeAttribute()
    page = UnicodeAttribute(null=True)
    data = MapAttribute()  # WeChat's `data`: {"thing1": {"value": "..."}}, fitted when the item is written
    status = UnicodeAttribute()
    credit_spent = BooleanAttribute(default=False)  # a credit is spent once, even if the send is retried
    claim = UnicodeAttribute(null=True)  # the attempt calling WeChat now: set before the call, cleared after
    claimed_at = UTCDateTimeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    error_code = UnicodeAttribute(null=True)
    error_message = UnicodeAttribute(null=True)
    msgid = UnicodeAttribute(null=True)  # WeChat's id of the message sent
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    sent_at = UTCDateTimeAttribute(null=True)
    listing_shard = UnicodeAttribute()

    newest = Newest()


@register
class SubscriptionModel(Model):
    """What a user's `wx.requestSubscribeMessage` answers left: one credit per accept, spent per send."""
    Meta = table_meta("notify_subscriptions")

    user_id = UnicodeAttribute(hash_key=True)
    template_id = UnicodeAttribute(range_key=True)
    credits = NumberAttribute(default=0)
    banned = BooleanAttribute(default=False)  # "ban": the user turned the template off; an accept turns it on
    accepted = NumberAttribute(default=0)  # accepts ever recorded
    version = NumberAttribute(default=0)  # each answer is conditioned on the version it read
    last_change = UnicodeAttribute(null=True)  # the answer that last committed: a resent one knows its own
    updated_at = UTCDateTimeAttribute()


class FieldSpec(MapAttribute):
    key = UnicodeAttribute()  # WeChat's data key, e.g. "thing1"; its letters name its type
    source = UnicodeAttribute()  # the event's variable it shows, e.g. "product_title"


@register
class NotifySetting(Model):
    """Small shared items by name: `template#<KIND>` (the merchant's choice) and `token#<appid>` (cache)."""
    Meta = table_meta("notify_settings")

    name = UnicodeAttribute(hash_key=True)
    # template#<KIND>
    template_id = UnicodeAttribute(null=True)
    page = UnicodeAttribute(null=True)
    fields = ListAttribute(of=FieldSpec, null=True)
    recipients = ListAttribute(of=UnicodeAttribute, null=True)  # STAFF kinds: the users who get them
    updated_by = UnicodeAttribute(null=True)
    # token#<appid>
    access_token = UnicodeAttribute(null=True)
    refresh_at = UTCDateTimeAttribute(null=True)  # use it until then (a little before WeChat's expiry)
    lease_until = UTCDateTimeAttribute(null=True)  # one sender refreshes at a time
    lease_owner = UnicodeAttribute(null=True)
    expires = TTLAttribute(null=True)  # DynamoDB removes a token past its validity
    updated_at = UTCDateTimeAttribute(null=True)


ALERTS = "ALERTS"
STATE = "STATE"


class AlertsNewest(GlobalSecondaryIndex):
    """Sparse: only alert items carry `listing` (= ALERTS); newest first by the ULID."""
    Meta = index_meta("alerts_newest", AllProjection)
    listing = UnicodeAttribute(hash_key=True)
    alert_id = UnicodeAttribute(range_key=True)


@register
class LowStockModel(Model):
    """Per SKU: its `STATE` item (low or not, since when) and one item per alert raised (range = ULID)."""
    Meta = table_meta("low_stock")

    sku_id = UnicodeAttribute(hash_key=True)
    alert_id = UnicodeAttribute(range_key=True)  # STATE, or the alert's ULID
    low = BooleanAttribute(null=True)  # STATE: below its threshold now
    alerts = NumberAttribute(null=True)  # STATE: alerts raised so far
    sequence = UnicodeAttribute(null=True)  # STATE: the stream record that last moved it (zero-padded)
    listing = UnicodeAttribute(null=True)
    product_id = UnicodeAttribute(null=True)
    title = UnicodeAttribute(null=True)
    available = NumberAttribute(null=True)
    threshold = NumberAttribute(null=True)
    at = UTCDateTimeAttribute()

    alerts_newest = AlertsNewest()
