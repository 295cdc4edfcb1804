"""Tables the admin feature owns: staff accounts, and the tally of active owners beside them.

The tally lives in the staff table as one item under a key no username can take
(usernames never contain `#`). Every write that makes an account an active owner
or stops it being one moves the tally in the same transaction, and a decrement
is conditional on `active_owners > 1`: that condition, not a count read
beforehand, is what keeps two owners demoting each other at once from leaving the
shop with none.
"""
from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from chalicelib.core.db import register, table_meta

STAFF_TABLE = "staff"
OWNER_TALLY_KEY = "#active-owners"


@register
class StaffAccount(Model):
    Meta = table_meta(STAFF_TABLE)

    username = UnicodeAttribute(hash_key=True)
    password_hash = UnicodeAttribute()
    role = UnicodeAttribute()  # one of chalicelib.core.auth.STAFF_ROLES
    disabled = BooleanAttribute(default=False)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    last_login_at = UTCDateTimeAttribute(null=True)
    request_token = UnicodeAttribute(null=True)  # the create request that wrote it: a resent create knows its own
    last_change = UnicodeAttribute(null=True)  # the change that wrote it last: a resent change knows its own
    grants = UnicodeSetAttribute(null=True)  # permissions an owner granted beyond the role (core.permissions)
    # Live sessions, session id -> {"created_at", "expires_at" (epoch s), "source_ip", "user_agent"}: a login adds
    # one, ending it removes it, a password change empties the map. A token naming a session not here is refused.
    sessions = MapAttribute(null=True)
    # Tokens issued (`iat`) before this (epoch seconds) are refused; it guards tokens that name no session.
    tokens_valid_after = NumberAttribute(null=True)
    password_changed_at = UTCDateTimeAttribute(null=True)

    @property
    def is_active_owner(self) -> bool:
        return self.role == "owner" and not self.disabled


class ActiveOwnerTally(Model):
    """The one tally item in the staff table (not registered: StaffAccount creates the table)."""
    Meta = table_meta(STAFF_TABLE)

    username = UnicodeAttribute(hash_key=True, default=OWNER_TALLY_KEY)
    active_owners = NumberAttribute(default=0)
