"""Staff accounts: login, the owner's account management, and the bootstrap admin.

Rules kept here:
- a wrong username and a wrong password fail alike, in about the same time
  (an unknown username is checked against a dummy hash);
- a token is only as good as the account behind it: routes re-check that the
  account still exists, is enabled and (for owner routes) is still an owner;
- the shop always keeps at least one active owner (see models.ActiveOwnerTally).
"""
from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass

from pynamodb.exceptions import TransactWriteError, UpdateError

from chalicelib.admin.models import OWNER_TALLY_KEY, ActiveOwnerTally, StaffAccount
from chalicelib.admin.passwords import DEFAULT_COST, ScryptCost, hash_password, needs_rehash, verify_password
from chalicelib.core import auth, clock
from chalicelib.core.db import CONDITION_FAILED, cancellation_codes, condition_failed, get_or_none, run_transaction
from chalicelib.core.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from chalicelib.core.ids import new_id

OWNER = "owner"
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{1,31}$"
MAX_PASSWORD_LENGTH = 1024
# A PUT re-reads and retries when the account changed between its read and its write.
UPDATE_ATTEMPTS = 3

_USERNAME = re.compile(USERNAME_PATTERN)


class StaffExists(Conflict):
    code = "STAFF_EXISTS"


class LastActiveOwner(Conflict):
    code = "LAST_OWNER"


class StaffChanged(Conflict):
    code = "STAFF_CHANGED"


@dataclass(frozen=True)
class LoginResult:
    token: str
    username: str
    role: str
    expires_in: int


# --- login ------------------------------------------------------------------

def login(username: str, password: str, *, cost: ScryptCost = DEFAULT_COST) -> LoginResult:
    """A staff token for the right username and password; 401 otherwise.

    `cost` is the hashing cost of today's hashes: an unknown user is checked
    against a dummy of that cost, and a stored hash of another cost is upgraded.
    """
    account = _find_account(username)
    stored = account.password_hash if account else _dummy_hash(cost)
    password_matches = verify_password(password, stored)
    if account is None or not password_matches:
        raise Unauthorized("wrong username or password", code="INVALID_CREDENTIALS")
    # Said only to someone who knows the password, so it reveals nothing to a guesser.
    if account.disabled:
        raise Unauthorized("this staff account is disabled", code="ACCOUNT_DISABLED")
    _record_login(account, password, cost)
    token = auth.issue_staff_token(account.username, account.role)
    return LoginResult(token=token, username=account.username, role=account.role,
                       expires_in=auth.STAFF_TOKEN_SECONDS)


@functools.lru_cache(maxsize=4)
def _dummy_hash(cost: ScryptCost) -> str:
    return hash_password(secrets.token_urlsafe(16), cost=cost)


def _record_login(account: StaffAccount, password: str, cost: ScryptCost) -> None:
    actions = [StaffAccount.last_login_at.set(clock.now())]
    condition = StaffAccount.username.exists()
    if needs_rehash(account.password_hash, cost=cost):
        actions.append(StaffAccount.password_hash.set(hash_password(password, cost=cost)))
        # Never overwrite a password an owner reset while this login was being checked.
        condition &= StaffAccount.password_hash == account.password_hash
    try:
        account.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        # The password changed meanwhile: this login was checked a moment before and
        # stands; the new hash stays and the upgrade waits for the next login.


# --- who is calling ---------------------------------------------------------

def require_active_staff(username: str) -> StaffAccount:
    """The enabled account behind a staff token; 401 when it was disabled or never existed."""
    account = _find_account(username)
    if account is None or account.disabled:
        raise Unauthorized("this staff account is disabled or does not exist", code="ACCOUNT_INACTIVE")
    return account


def require_owner(username: str) -> StaffAccount:
    """Like `require_active_staff`, and 403 unless the account is an owner now (not just at login)."""
    account = require_active_staff(username)
    if account.role != OWNER:
        raise Forbidden("this route is for staff (owner)")
    return account


# --- accounts ---------------------------------------------------------------

def get_staff(username: str) -> StaffAccount:
    account = _find_account(username)
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
            stored = _find_account(username)
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
    if _find_account(username) is not None:
        return False
    try:
        create_staff(username, password, OWNER, cost=cost)
    except StaffExists:
        return False
    return True


def update_staff(username: str, *, role: str | None = None, disabled: bool | None = None,
                 password: str | None = None, cost: ScryptCost = DEFAULT_COST) -> StaffAccount:
    """Change role, enable/disable, or reset the password; 409 LAST_OWNER if no active owner would remain."""
    if role is not None:
        _check_role(role)
    if password is not None:
        _check_password(password)
    new_hash = hash_password(password, cost=cost) if password is not None else None
    for _ in range(UPDATE_ATTEMPTS):
        account = get_staff(username)
        if _commit_change(account, role=role, disabled=disabled, new_hash=new_hash):
            return get_staff(username)
    raise StaffChanged(f"staff account {username!r} is being changed by someone else; retry")


def _commit_change(account: StaffAccount, *, role: str | None, disabled: bool | None,
                   new_hash: str | None) -> bool:
    """One transaction for one change; False when the account changed since it was read."""
    next_role = account.role if role is None else role
    next_disabled = account.disabled if disabled is None else disabled
    will_be_active_owner = next_role == OWNER and not next_disabled
    actions = [StaffAccount.updated_at.set(clock.now()), StaffAccount.role.set(next_role),
               StaffAccount.disabled.set(next_disabled)]
    if new_hash is not None:
        actions.append(StaffAccount.password_hash.set(new_hash))
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

def _find_account(username: str) -> StaffAccount | None:
    # Anything not shaped like a username (the tally's key, an empty string) is nobody.
    if not _USERNAME.fullmatch(username):
        return None
    return get_or_none(StaffAccount, username)


def _check_username(username: str) -> None:
    if not _USERNAME.fullmatch(username):
        raise BadRequest("a username is 2-32 of a-z, 0-9, '_', '.', '-', starting with a letter or digit",
                         code="INVALID_USERNAME")


def _check_role(role: str) -> None:
    if role not in auth.STAFF_ROLES:
        raise BadRequest(f"role must be one of {', '.join(auth.STAFF_ROLES)}", code="INVALID_ROLE")


def _check_password(password: str) -> None:
    if not password or len(password) > MAX_PASSWORD_LENGTH:
        raise BadRequest(f"a password is 1-{MAX_PASSWORD_LENGTH} characters", code="INVALID_PASSWORD")
