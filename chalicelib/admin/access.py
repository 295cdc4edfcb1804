"""The staff gate: every staff route passes here, from the HTTP edge (core.auth.STAFF_GATE), before its handler.

One read of the account behind the token decides everything, so a handler never
re-checks: the account exists and is enabled (else 401 ACCOUNT_INACTIVE), the token's
session is live (else 401 SESSION_ENDED: ended by an owner, or by a password change),
the account's role *now* is one the route allows, and it holds the route's permission
(else 403 PERMISSION_DENIED, naming the permission).
"""
from __future__ import annotations

import dataclasses
import re

from chalicelib.admin import sessions
from chalicelib.admin.models import StaffAccount
from chalicelib.core import auth
from chalicelib.core.db import get_or_none
from chalicelib.core.errors import Forbidden, Unauthorized
from chalicelib.core.permissions import permissions_of

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{1,31}$"
_USERNAME = re.compile(USERNAME_PATTERN)


def find_account(username: str) -> StaffAccount | None:
    # Anything not shaped like a username (the owner tally's key, an empty string) is nobody.
    if not _USERNAME.fullmatch(username):
        return None
    return get_or_none(StaffAccount, username)


def admit(principal: auth.Principal, requirement: auth.Requirement) -> auth.Principal:
    account = find_account(principal.subject)
    if account is None or account.disabled:
        raise Unauthorized("this staff account is disabled or does not exist", code="ACCOUNT_INACTIVE")
    if not sessions.token_is_live(account, principal):
        raise Unauthorized("this session has ended (signed out, ended by an owner, or the password changed); "
                           "log in again", code="SESSION_ENDED")
    if account.role not in requirement.roles:
        raise Forbidden(f"this route is for {requirement.describe()}")
    granted = permissions_of(account.role, account.grants)
    if requirement.permission is not None and requirement.permission not in granted:
        raise Forbidden(f"this needs the permission {requirement.permission}, which your account does not hold",
                        code="PERMISSION_DENIED", details={"permission": requirement.permission})
    return dataclasses.replace(principal, role=account.role, permissions=granted)
