"""Staff login, logout, changing one's own password, and the lockout after repeated failures.

- A wrong username and a wrong password fail alike, in about the same time: an
  unknown username is checked against a dummy hash of today's cost.
- Failures are counted per username (known or not: the answer must not tell) and per
  source IP; from MALL_STAFF_LOGIN_USER_MAX_FAILURES (5) failures in a row on a username,
  or MALL_STAFF_LOGIN_IP_MAX_FAILURES (20) from an IP, each further failure locks it for
  a delay that doubles: 1, 2, 4 ... minutes, at most MALL_STAFF_LOGIN_MAX_LOCK_SECONDS.
  A locked attempt is 429 LOGIN_LOCKED with Retry-After, before any password is checked,
  so it says and costs the same whether or not the username exists. A success clears
  the username's count; an owner can clear it too (`unlock`).
- Each login opens a session (sessions.py) named in its token.
"""
from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass

from pynamodb.exceptions import UpdateError

from chalicelib.admin import sessions
from chalicelib.admin.access import find_account
from chalicelib.admin.models import StaffAccount
from chalicelib.admin.passwords import DEFAULT_COST, ScryptCost, hash_password, needs_rehash, verify_password
from chalicelib.core import auth, clock
from chalicelib.core.db import condition_failed
from chalicelib.core.errors import BadRequest, Forbidden, Unauthorized
from chalicelib.core.ids import new_id
from chalicelib.core.limits import Lockout, counted_ip

MAX_PASSWORD_LENGTH = 1024
LOGIN_ATTEMPTS = 3  # reads of the account when a password change or another login races this one

STAFF_LOGIN_LOCKOUT = Lockout("staff_login", "MALL_STAFF_LOGIN", max_failures=(("user", 5), ("ip", 20)),
                              lock_seconds=60, max_lock_seconds=3600, window_seconds=86400)
LOCKED_MESSAGE = "too many failed logins"


@dataclass(frozen=True)
class LoginResult:
    token: str
    username: str
    role: str
    expires_in: int
    session_id: str | None = None


def _lock_keys(username: str, source_ip: str | None) -> dict[str, str | None]:
    return {"user": username, "ip": counted_ip(source_ip)}


def login(username: str, password: str, *, source_ip: str | None = None, user_agent: str | None = None,
          cost: ScryptCost = DEFAULT_COST) -> LoginResult:
    """A staff token for the right username and password, opening a session; 401 otherwise, 429 while locked.

    `cost` is the hashing cost of today's hashes: an unknown user is checked
    against a dummy of that cost, and a stored hash of another cost is upgraded.
    """
    keys = _lock_keys(username, source_ip)
    seen = STAFF_LOGIN_LOCKOUT.check(keys, LOCKED_MESSAGE, "LOGIN_LOCKED")
    account = find_account(username)
    stored = account.password_hash if account else _dummy_hash(cost)
    password_matches = verify_password(password, stored)  # always, so an unknown user costs the same time
    if account is None or not password_matches:
        STAFF_LOGIN_LOCKOUT.record_failure(keys, seen)
        raise Unauthorized("wrong username or password", code="INVALID_CREDENTIALS")
    STAFF_LOGIN_LOCKOUT.clear("user", username, seen)
    for _ in range(LOGIN_ATTEMPTS):
        # Said only to someone who knows the password, so it reveals nothing to a guesser.
        if account.disabled:
            raise Unauthorized("this staff account is disabled", code="ACCOUNT_DISABLED")
        opened = _open_session(account, password, stored, cost, source_ip, user_agent)
        if opened is not None:
            return opened
        account = find_account(username)
        if account is None or account.password_hash != stored:
            # Reset (or deleted) while this login was checked: the password it checked no longer opens anything.
            raise Unauthorized("wrong username or password", code="INVALID_CREDENTIALS")
    raise Unauthorized("this account is being changed; log in again", code="INVALID_CREDENTIALS")


@functools.lru_cache(maxsize=4)
def _dummy_hash(cost: ScryptCost) -> str:
    return hash_password(secrets.token_urlsafe(16), cost=cost)


def _open_session(account: StaffAccount, password: str, checked_hash: str, cost: ScryptCost,
                  source_ip: str | None, user_agent: str | None) -> LoginResult | None:
    """Record the login and its session, conditioned on the password and status checked; None if they changed."""
    session_id, entry = sessions.new_entry(source_ip, user_agent)
    actions, condition = sessions.opening(account, session_id, entry)
    actions.append(StaffAccount.last_login_at.set(clock.now()))
    # Never open a session with a password an owner reset (or for an account disabled) meanwhile.
    condition &= (StaffAccount.password_hash == checked_hash) & (StaffAccount.disabled == account.disabled)
    if needs_rehash(checked_hash, cost=cost):
        actions.append(StaffAccount.password_hash.set(hash_password(password, cost=cost)))
    try:
        account.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        current = find_account(account.username)
        if current is None or session_id not in sessions.entries(current):
            return None
        # Our own write, committed, its reply lost and the SDK's resend refused: the session is open.
    token = auth.issue_staff_token(account.username, account.role, session_id=session_id)
    return LoginResult(token=token, username=account.username, role=account.role,
                       expires_in=auth.STAFF_TOKEN_SECONDS, session_id=session_id)


def logout(username: str, session_id: str | None) -> None:
    """End the caller's own session (a token without one has nothing to end: it lapses by its expiry)."""
    account = find_account(username)
    if account is not None and session_id is not None and session_id in sessions.live_entries(account):
        sessions.end(account, session_id)


def change_own_password(username: str, current_password: str, new_password: str, *, source_ip: str | None = None,
                        user_agent: str | None = None, cost: ScryptCost = DEFAULT_COST) -> LoginResult:
    """Replace one's own password; the current one is required (a wrong one counts as a failed login and is
    403 WRONG_PASSWORD). Every session of the account ends, and the answer is a new login's token."""
    if not new_password or len(new_password) > MAX_PASSWORD_LENGTH:
        raise BadRequest(f"a password is 1-{MAX_PASSWORD_LENGTH} characters", code="INVALID_PASSWORD")
    keys = _lock_keys(username, source_ip)
    seen = STAFF_LOGIN_LOCKOUT.check(keys, LOCKED_MESSAGE, "LOGIN_LOCKED")
    account = find_account(username)
    if account is None or account.disabled:
        raise Unauthorized("this staff account is disabled or does not exist", code="ACCOUNT_INACTIVE")
    if not verify_password(current_password, account.password_hash):
        STAFF_LOGIN_LOCKOUT.record_failure(keys, seen)
        raise Forbidden("the current password is wrong", code="WRONG_PASSWORD")
    session = sessions.new_entry(source_ip, user_agent)
    change = new_id()
    now = clock.now()
    actions = [StaffAccount.password_hash.set(hash_password(new_password, cost=cost)),
               StaffAccount.password_changed_at.set(now), StaffAccount.updated_at.set(now),
               StaffAccount.last_change.set(change), *sessions.replacing_all(session)]
    try:
        account.update(actions=actions, condition=StaffAccount.password_hash == account.password_hash)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        current = find_account(username)
        if current is None or current.last_change != change:
            raise Unauthorized("the password was changed meanwhile; log in again", code="SESSION_ENDED") from None
        # Our own write: committed, its reply lost, and the SDK's resend refused by its own commit.
    token = auth.issue_staff_token(account.username, account.role, session_id=session[0])
    return LoginResult(token=token, username=account.username, role=account.role,
                       expires_in=auth.STAFF_TOKEN_SECONDS, session_id=session[0])


def unlock(username: str) -> bool:
    """Forget a username's failed logins and lift its lock (an owner's action); True when it had any."""
    return STAFF_LOGIN_LOCKOUT.clear("user", username)
