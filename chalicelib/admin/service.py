"""Staff accounts: the owner's account management and the bootstrap admin (login is in `login.py`).

Rules kept here:
- the shop always keeps at least one active owner (see models.ActiveOwnerTally);
- a password reset ends every session of the account (its tokens stop working at once);
- every change carries a `last_change` token, so a change whose reply was lost and which
  the SDK resent recognises its own commit instead of failing or reporting a conflict.
"""
from __future__ import annotations

import re

from pynamodb.exceptions import TransactWriteError

from chalicelib.admin import sessions
from chalicelib.admin.access import USERNAME_PATTERN, find_account
from chalicelib.admin.login import MAX_PASSWORD_LENGTH, LoginResult, login  # noqa: F401  (the service's API)
from chalicelib.admin.models import OWNER_TALLY_KEY, ActiveOwnerTally, StaffAccount
from chalicelib.admin.passwords import DEFAULT_COST, ScryptCost, hash_password
from chalicelib.core import auth, clock
from chalicelib.core.db import CONDITION_FAILED, cancellation_codes, run_transaction
from chalicelib.core.errors import BadRequest, Conflict, NotFound, Unauthorized
from chalicelib.core.ids import new_id
from chalicelib.core.permissions import GRANTABLE

OWNER = "owner"
# A PUT re-reads and retries when the account changed between its read and its write.
UPDATE_ATTEMPTS = 3

_USERNAME = re.compile(USERNAME_PATTERN)


class StaffExists(Conflict):
    code = "STAFF_EXISTS"


class LastActiveOwner(Conflict):
    code = "LAST_OWNER"


class StaffChanged(Conflict):
    code = "STAFF_CHANGED"


# --- who is calling ---------------------------------------------------------

def require_active_staff(username: str) -> StaffAccount:
    """The enabled account `username`; 401 when it was disabled or never existed.

    A staff route need not call this: the HTTP edge admits every staff request through
    `chalicelib.admin.access.admit` (account, session, role and permission) before its handler.
    """
    account = find_account(username)
    if account is None or account.disabled:
        raise Unauthorized("this staff account is disabled or does not exist", code="ACCOUNT_INACTIVE")
    return account


# --- accounts ---------------------------------------------------------------

def get_staff(username: str) -> StaffAccount:
    account = find_account(username)
    if account is None:
        raise NotFound(f"no staff account {username!r}", code="STAFF_NOT_FOUND")
    return account


def list_staff() -> list[StaffAccount]:
    accounts = StaffAccount.scan(StaffAccount.username != OWNER_TALLY_KEY)
    return sorted(accounts, key=lambda account: account.username)


def create_staff(username: str, password: str, role: str, *, cost: ScryptCost = DEFAULT_COST) -> StaffAccount:
    """A new enabled account; 409 STAFF_EXISTS when the username is taken."""
    _check_username(username)
    _check_role(role)
    _check_password(password)
    now = clock.now()
    token = new_id()
    account = StaffAccount(username, password_hash=hash_password(password, cost=cost), role=role,
                           disabled=False, created_at=now, updated_at=now, request_token=token)

    def build(tx) -> None:
        tx.save(account, condition=StaffAccount.username.does_not_exist())
        if account.is_active_owner:
            tx.update(ActiveOwnerTally(), actions=[ActiveOwnerTally.active_owners.add(1)])

    try:
        run_transaction(build)
    except TransactWriteError as exc:
        if cancellation_codes(exc)[:1] == [CONDITION_FAILED]:
            stored = find_account(username)
            if stored is not None and stored.request_token == token:
                return stored  # this very create committed; its reply was lost and the SDK resent it
            raise StaffExists(f"staff account {username!r} already exists") from None
        raise
    return account


def ensure_admin(username: str, password: str, *, cost: ScryptCost = DEFAULT_COST) -> bool:
    """Create the owner account `username` unless it exists; True when it was created.

    Called by the local stack at every start with MALL_ADMIN_PASSWORD, so it never
    changes an existing account, and two starts racing create it once.
    """
    if find_account(username) is not None:
        return False
    try:
        create_staff(username, password, OWNER, cost=cost)
    except StaffExists:
        return False
    return True


def update_staff(username: str, *, role: str | None = None, disabled: bool | None = None,
                 password: str | None = None, grants: list[str] | None = None,
                 cost: ScryptCost = DEFAULT_COST) -> StaffAccount:
    """Change role, enable/disable, reset the password (ending every session), or set the permissions
    granted beyond the role; 409 LAST_OWNER if no active owner would remain."""
    if role is not None:
        _check_role(role)
    if password is not None:
        _check_password(password)
    if grants is not None:
        _check_grants(grants)
    new_hash = hash_password(password, cost=cost) if password is not None else None
    change = new_id()
    for _ in range(UPDATE_ATTEMPTS):
        account = get_staff(username)
        if account.last_change == change:
            return account  # committed, its reply lost, and the SDK's resend failed on its own commit
        if _commit_change(account, role=role, disabled=disabled, new_hash=new_hash, grants=grants, change=change):
            return get_staff(username)
    raise StaffChanged(f"staff account {username!r} is being changed by someone else; retry")


def _commit_change(account: StaffAccount, *, role: str | None, disabled: bool | None,
                   new_hash: str | None, grants: list[str] | None, change: str) -> bool:
    """One transaction for one change; False when the account changed since it was read."""
    next_role = account.role if role is None else role
    next_disabled = account.disabled if disabled is None else disabled
    will_be_active_owner = next_role == OWNER and not next_disabled
    actions = [StaffAccount.updated_at.set(clock.now()), StaffAccount.role.set(next_role),
               StaffAccount.disabled.set(next_disabled), StaffAccount.last_change.set(change)]
    if new_hash is not None:
        actions += [StaffAccount.password_hash.set(new_hash), StaffAccount.password_changed_at.set(clock.now()),
                    *sessions.replacing_all()]
    if grants is not None:
        actions.append(StaffAccount.grants.set(set(grants)) if grants else StaffAccount.grants.remove())
    # The tally move below is right only if role and disabled are still what was read.
    unchanged = (StaffAccount.role == account.role) & (StaffAccount.disabled == account.disabled)

    def build(tx) -> None:
        tx.update(account, actions=actions, condition=unchanged)
        if account.is_active_owner and not will_be_active_owner:
            tx.update(ActiveOwnerTally(), actions=[ActiveOwnerTally.active_owners.add(-1)],
                      condition=ActiveOwnerTally.active_owners > 1)
        elif will_be_active_owner and not account.is_active_owner:
            tx.update(ActiveOwnerTally(), actions=[ActiveOwnerTally.active_owners.add(1)])

    try:
        run_transaction(build)
    except TransactWriteError as exc:
        codes = cancellation_codes(exc)
        if codes[:1] == [CONDITION_FAILED]:
            return False
        if codes[1:2] == [CONDITION_FAILED]:
            raise LastActiveOwner("the shop must keep at least one active owner") from None
        raise
    return True


# --- checks -----------------------------------------------------------------


def _check_username(username: str) -> None:
    if not _USERNAME.fullmatch(username):
        raise BadRequest("a username is 2-32 of a-z, 0-9, '_', '.', '-', starting with a letter or digit",
                         code="INVALID_USERNAME")


def _check_role(role: str) -> None:
    if role not in auth.STAFF_ROLES:
        raise BadRequest(f"role must be one of {', '.join(auth.STAFF_ROLES)}", code="INVALID_ROLE")


def _check_grants(grants: list[str]) -> None:
    unknown = sorted(set(grants) - GRANTABLE)
    if unknown:
        raise BadRequest(f"cannot grant {', '.join(unknown)}; grantable: {', '.join(sorted(GRANTABLE))}",
                         code="INVALID_GRANT")


def _check_password(password: str) -> None:
    if not password or len(password) > MAX_PASSWORD_LENGTH:
        raise BadRequest(f"a password is 1-{MAX_PASSWORD_LENGTH} characters", code="INVALID_PASSWORD")
