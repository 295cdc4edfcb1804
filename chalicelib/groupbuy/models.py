"""The group-buy tables: campaigns, groups (whose stream drives settlement), members, and buyers' quotas.

A place in a group is held by `holders` on the group item, moved in the same
transaction as the order that holds it (`holders < group_size`), and by a member
item per (group, buyer) written on condition that none exists: so a group never has
more than `group_size` live orders and a buyer never two places in one group.
"""
from __future__ import annotations

import zlib

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.core.db import NEW_AND_OLD_IMAGES, index_meta, register, table_meta

# Campaign statuses. A campaign is running while ACTIVE and starts_at <= now < ends_at.
ACTIVE, ENDED = "ACTIVE", "ENDED"
# Group statuses.
PENDING, OPEN, SUCCEEDED, FAILED = "PENDING", "OPEN", "SUCCEEDED", "FAILED"
UNFINISHED = (PENDING, OPEN)
# Member states: a place held by an unpaid order, or paid.
HELD, PAID = "HELD", "PAID"

CAMPAIGN_LIST = "CAMPAIGNS"
# Due index partitions: an unfinished group waits for its deadline under EXPIRE#<n>, a finished one for its
# members' orders to be settled under SETTLE#<n>.
DUE_SHARDS = 4
EXPIRE, SETTLE = "EXPIRE", "SETTLE"


def due_shard(kind: str, group_id: str) -> str:
    return f"{kind}#{zlib.crc32(group_id.encode('ascii')) % DUE_SHARDS}"


class CampaignList(GlobalSecondaryIndex):
    """Every campaign, newest first (few per shop: one partition)."""
    Meta = index_meta("campaign_list", AllProjection)
    listing = UnicodeAttribute(hash_key=True)
    campaign_id = UnicodeAttribute(range_key=True)


@register
class CampaignModel(Model):
    Meta = table_meta("groupbuy_campaigns")

    campaign_id = UnicodeAttribute(hash_key=True)
    product_id = UnicodeAttribute()
    sku_id = UnicodeAttribute()
    title = UnicodeAttribute()
    image = UnicodeAttribute(null=True)
    group_price = NumberAttribute()  # fen, per unit
    group_size = NumberAttribute()
    duration_minutes = NumberAttribute()
    stock = NumberAttribute()  # units the campaign may sell in all
    stock_left = NumberAttribute()  # not yet taken by a live order (taken at order time, back on cancel/refund)
    per_user_limit = NumberAttribute(null=True)  # orders per buyer over the campaign; None: no limit
    starts_at = UTCDateTimeAttribute()
    ends_at = UTCDateTimeAttribute()
    status = UnicodeAttribute()  # ACTIVE or ENDED
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute()
    version = NumberAttribute(default=1)
    listing = UnicodeAttribute(default=CAMPAIGN_LIST)

    campaign_list = CampaignList()


class GroupsOfCampaign(GlobalSecondaryIndex):
    """A campaign's groups (its end caps their deadlines)."""
    Meta = index_meta("groups_of_campaign", KeysOnlyProjection)
    campaign_id = UnicodeAttribute(hash_key=True)
    group_id = UnicodeAttribute(range_key=True)


class DueGroups(GlobalSecondaryIndex):
    """Sparse: only groups waiting for a deadline or a settlement carry `due_shard` and `due_at`."""
    Meta = index_meta("due_groups", KeysOnlyProjection)
    due_shard = UnicodeAttribute(hash_key=True)
    due_at = UTCDateTimeAttribute(range_key=True)


@register
class GroupModel(Model):
    """A group: its terms are the campaign's as they were when it was opened, so a later edit never changes it."""
    Meta = table_meta("groupbuys", stream_view_type=NEW_AND_OLD_IMAGES)

    group_id = UnicodeAttribute(hash_key=True)
    campaign_id = UnicodeAttribute()
    leader_id = UnicodeAttribute()
    leader_order_id = UnicodeAttribute()
    product_id = UnicodeAttribute()
    sku_id = UnicodeAttribute()
    title = UnicodeAttribute()
    image = UnicodeAttribute(null=True)
    group_price = NumberAttribute()
    group_size = NumberAttribute()
    duration_minutes = NumberAttribute()
    status = UnicodeAttribute()  # PENDING, OPEN, SUCCEEDED, FAILED
    holders = NumberAttribute()  # places held by live orders, paid or not: never above group_size
    paid_members = NumberAttribute()
    campaign_ends_at = UTCDateTimeAttribute()  # no deadline of this group runs past it
    expires_at = UTCDateTimeAttribute(null=True)  # set when the leader pays (PENDING -> OPEN)
    created_at = UTCDateTimeAttribute()
    opened_at = UTCDateTimeAttribute(null=True)
    closed_at = UTCDateTimeAttribute(null=True)  # SUCCEEDED or FAILED at
    updated_at = UTCDateTimeAttribute()
    due_shard = UnicodeAttribute(null=True)
    due_at = UTCDateTimeAttribute(null=True)

    groups_of_campaign = GroupsOfCampaign()
    due = DueGroups()


@register
class MemberModel(Model):
    """A buyer's place in a group (one per buyer per group), from order time; deleted when the order is cancelled."""
    Meta = table_meta("groupbuy_members")

    group_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)
    order_id = UnicodeAttribute()
    nickname = UnicodeAttribute()
    avatar = UnicodeAttribute(null=True)
    is_leader = BooleanAttribute(default=False)
    state = UnicodeAttribute()  # HELD or PAID
    joined_at = UTCDateTimeAttribute()
    paid_at = UTCDateTimeAttribute(null=True)


@register
class BuyerQuotaModel(Model):
    """How many live orders a buyer holds in a campaign, moved in each order's transaction (per_user_limit)."""
    Meta = table_meta("groupbuy_buyers")

    campaign_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)
    orders = NumberAttribute(default=0)
