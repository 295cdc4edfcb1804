"""The members feature's tables: users, openid claims, address books, member levels, accounts and points."""
from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.core.db import index_meta, register, table_meta
from chalicelib.core.pii import EncryptedUnicodeAttribute, OwnsPii


class LevelEntry(MapAttribute):
    level = NumberAttribute()
    name = UnicodeAttribute()
    growth_threshold = NumberAttribute()  # growth (yuan paid) from which a buyer holds this level
    discount_percent = NumberAttribute()  # percent off every line of the buyer's orders


@register
class UserModel(Model):
    """One buyer. `session_key` is WeChat's per-login key: it is kept here and never sent to a client.
    A buyer who has only logged in on the web (members/web_login.py) has an empty `openid` and `session_key`."""
    Meta = table_meta("users")

    user_id = UnicodeAttribute(hash_key=True)
    openid = UnicodeAttribute()  # the mini-program's openid: what WeChat Pay and subscribe messages address
    unionid = UnicodeAttribute(null=True)
    session_key = UnicodeAttribute()
    nickname = UnicodeAttribute()
    # written at creation and never since: a buyer's level, growth and points live in MemberAccountModel
    level = NumberAttribute()
    growth = NumberAttribute()
    points = NumberAttribute()
    created_at = UTCDateTimeAttribute()
    last_login_at = UTCDateTimeAttribute()
    # set when the buyer deleted their account (members/privacy.py): openid, unionid, session_key and
    # nickname are anonymised then and the openid claim removed, so the next login is a new user
    deleted_at = UTCDateTimeAttribute(null=True)
    # the identity claims the buyer holds besides the mini-program openid (unionid:, wechat-oa:, alipay:), which
    # deleting the account releases (members/identities.py)
    linked_claims = UnicodeSetAttribute(null=True)


@register
class OpenidClaim(Model):
    """openid -> user_id, written with attribute_not_exists in the same transaction as the user.

    It holds a buyer's other identities too, under prefixed keys no openid has (`unionid:<unionid>`,
    `wechat-oa:<official account openid>`, `alipay:<user_id>`: members/identities.py).

    It is what makes two concurrent first logins of one WeChat user produce one
    user, and it turns login into a strongly consistent GetItem (a GSI on openid
    is only eventually consistent, so a fresh user could be missed and created twice).
    """
    Meta = table_meta("user_openids")

    openid = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()


@register
class AddressModel(OwnsPii, Model):
    """One address of a buyer's book; `address_id` is a ULID, so it sorts by creation.

    The recipient's name, phone and street line are sealed (core/pii.py); province, city and
    district stay readable (coarse, and what logistics and reports group by)."""
    Meta = table_meta("addresses")

    user_id = UnicodeAttribute(hash_key=True)
    address_id = UnicodeAttribute(range_key=True)
    name = EncryptedUnicodeAttribute("addresses.name")
    phone = EncryptedUnicodeAttribute("addresses.phone")
    province = UnicodeAttribute()
    city = UnicodeAttribute()
    district = UnicodeAttribute()
    detail = EncryptedUnicodeAttribute("addresses.detail")
    is_default = BooleanAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


@register
class AddressBookModel(Model):
    """Per-buyer summary of the address book, the item every address change is conditioned on.

    Each change writes this item with `version == what it read`, so changes to one
    book are serialized: the count limit and the single default cannot be broken
    by two requests that each saw the book before the other wrote.
    """
    Meta = table_meta("address_books")

    user_id = UnicodeAttribute(hash_key=True)
    address_count = NumberAttribute()
    default_address_id = UnicodeAttribute(null=True)
    version = NumberAttribute()
    last_change = UnicodeAttribute(null=True)  # the change that last committed: a resent change knows its own
    closed = BooleanAttribute(null=True)  # the buyer deleted their account: no address is added again


@register
class LevelTableModel(Model):
    """The merchant's member levels: one item (`table_id` = "LEVELS"), replaced whole under a version condition.
    Absent until the merchant first saves it; the defaults in levels.py stand until then."""
    Meta = table_meta("member_levels")

    table_id = UnicodeAttribute(hash_key=True)
    levels = ListAttribute(of=LevelEntry)
    version = NumberAttribute()
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute(null=True)


class ExpiryDue(GlobalSecondaryIndex):
    """Sparse: released lots of points not yet expired carry `expiry_shard` and `expires_at`."""
    Meta = index_meta("expiry_due", KeysOnlyProjection)
    expiry_shard = UnicodeAttribute(hash_key=True)
    expires_at = UTCDateTimeAttribute(range_key=True)


class ReleaseDue(GlobalSecondaryIndex):
    """Sparse: frozen earnings carry `release_shard` and `release_at` until they are released or clawed back."""
    Meta = index_meta("release_due", KeysOnlyProjection)
    release_shard = UnicodeAttribute(hash_key=True)
    release_at = UTCDateTimeAttribute(range_key=True)


@register
class MemberAccountModel(Model):
    """A buyer's growth and points balance: the item every points change is conditioned on.

    `points` (spendable) = `credited` - `debited` always. `credited` counts every point ever released
    into the balance, in order, so a lot of points occupies positions [position, position + amount) of
    that sequence; `debited` counts every point that left it (redeemed, expired, clawed back; less what
    was returned), and debits consume the oldest positions first. A lot that expires takes with it what
    of it is unspent: max(0, its end - debited). `expired_through` is the end of the last lot expired,
    so points returned later from an expired lot expire at once instead of living forever.
    """
    Meta = table_meta("member_accounts")

    user_id = UnicodeAttribute(hash_key=True)
    growth = NumberAttribute(default=0)  # yuan paid for completed orders, less refunded ones
    points = NumberAttribute(default=0)
    frozen = NumberAttribute(default=0)  # earned, waiting for the refund window to close
    credited = NumberAttribute(default=0)
    debited = NumberAttribute(default=0)
    expired_through = NumberAttribute(default=0)
    shortfall = NumberAttribute(default=0)  # points clawed back on refunds that were already spent
    version = NumberAttribute(default=0)  # +1 on every change: read-check-commit changes are conditioned on it
    updated_at = UTCDateTimeAttribute(null=True)


@register
class PointsEntryModel(Model):
    """One change of a buyer's points (the ledger): reason ORDER_COMPLETED, REDEEMED, REDEMPTION_RETURNED,
    REFUND_CLAWBACK, EXPIRED or ADMIN. An earning is also a lot: FROZEN, then RELEASED (with its position
    in the credited sequence and its expiry), CLAWED back, or EXPIRED."""
    Meta = table_meta("points_ledger")

    user_id = UnicodeAttribute(hash_key=True)
    entry_id = UnicodeAttribute(range_key=True)  # ULID: the ledger reads newest first
    delta = NumberAttribute()
    reason = UnicodeAttribute()
    order_id = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    lot_status = UnicodeAttribute(null=True)  # FROZEN, RELEASED, CLAWED, EXPIRED: earnings only
    position = NumberAttribute(null=True)
    shortfall = NumberAttribute(null=True)  # a clawback: what could not be taken back
    release_shard = UnicodeAttribute(null=True)
    release_at = UTCDateTimeAttribute(null=True)
    expiry_shard = UnicodeAttribute(null=True)
    expires_at = UTCDateTimeAttribute(null=True)

    expiry_due = ExpiryDue()
    release_due = ReleaseDue()
