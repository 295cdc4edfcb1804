"""The members feature's tables: users, the openid claims that keep users unique, address books."""
from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.core.db import register, table_meta


@register
class UserModel(Model):
    """One buyer. `session_key` is WeChat's per-login key: it is kept here and never sent to a client."""
    Meta = table_meta("users")

    user_id = UnicodeAttribute(hash_key=True)
    openid = UnicodeAttribute()
    unionid = UnicodeAttribute(null=True)
    session_key = UnicodeAttribute()
    nickname = UnicodeAttribute()
    level = NumberAttribute()
    growth = NumberAttribute()
    points = NumberAttribute()
    created_at = UTCDateTimeAttribute()
    last_login_at = UTCDateTimeAttribute()


@register
class OpenidClaim(Model):
    """openid -> user_id, written with attribute_not_exists in the same transaction as the user.

    It is what makes two concurrent first logins of one WeChat user produce one
    user, and it turns login into a strongly consistent GetItem (a GSI on openid
    is only eventually consistent, so a fresh user could be missed and created twice).
    """
    Meta = table_meta("user_openids")

    openid = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()


@register
class AddressModel(Model):
    """One address of a buyer's book; `address_id` is a ULID, so it sorts by creation."""
    Meta = table_meta("addresses")

    user_id = UnicodeAttribute(hash_key=True)
    address_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    phone = UnicodeAttribute()
    province = UnicodeAttribute()
    city = UnicodeAttribute()
    district = UnicodeAttribute()
    detail = UnicodeAttribute()
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
