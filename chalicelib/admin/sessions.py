"""Staff sessions: each login is one, named in its token (`sid`); ending it revokes that token.

The live sessions are a map inside the staff account item, not items of their own:
the staff gate reads the account on every staff request anyway (is it enabled, what
may it do), so judging the session costs no extra DynamoDB call. A session lasts as
long as its token (auth.STAFF_TOKEN_SECONDS); expired ones are pruned at the next
login, and an account keeps at most SESSION_LIMIT (a login past it ends the oldest).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from chalicelib.admin.models import StaffAccount
from chalicelib.core import auth, clock
from chalicelib.core.db import condition_failed
from chalicelib.core.errors import NotFound
from chalicelib.core.ids import new_id
from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)

SESSION_LIMIT = 20
USER_AGENT_LENGTH = 200


@dataclass(frozen=True)
class Session:
    session_id: str
    username: str
    created_at: str
    expires_at: str
    source_ip: str | None
    user_agent: str | None


def entries(account: StaffAccount) -> dict[str, dict[str, Any]]:
    return account.sessions.as_dict() if account.sessions is not None else {}


def live_entries(account: StaffAccount, now: float | None = None) -> dict[str, dict[str, Any]]:
    moment = clock.timestamp() if now is None else now
    return {sid: entry for sid, entry in entries(account).items() if float(entry.get("expires_at", 0)) > moment}


def token_is_live(account: StaffAccount, principal: auth.Principal) -> bool:
    """A token naming a session: that session is still in the account. A token naming none (issued by a
    script, not a login): it was issued at or after the account's `tokens_valid_after`."""
    if principal.session_id is not None:
        return principal.session_id in live_entries(account)
    return account.tokens_valid_after is None or principal.issued_at >= float(account.tokens_valid_after)


def new_entry(source_ip: str | None, user_agent: str | None) -> tuple[str, dict[str, Any]]:
    now = clock.timestamp()
    entry = {"created_at": clock.iso(clock.now()), "expires_at": int(now) + auth.STAFF_TOKEN_SECONDS,
             "source_ip": source_ip, "user_agent": (user_agent or "")[:USER_AGENT_LENGTH] or None}
    return new_id(), entry


def opening(account: StaffAccount, session_id: str, entry: dict[str, Any]) -> tuple[list[Any], Any]:
    """The update actions and condition that add a session to `account` as read, pruning expired sessions
    and the oldest beyond SESSION_LIMIT. The condition fails if `sessions` appeared or vanished meanwhile."""
    if account.sessions is None:
        return [StaffAccount.sessions.set({session_id: entry})], StaffAccount.sessions.does_not_exist()
    live = live_entries(account)
    keep = sorted(live, key=lambda sid: live[sid].get("created_at", ""))[-(SESSION_LIMIT - 1):]
    stale = [sid for sid in entries(account) if sid not in keep]
    actions = [StaffAccount.sessions[session_id].set(entry)] + [StaffAccount.sessions[sid].remove() for sid in stale]
    return actions, StaffAccount.sessions.exists()


def replacing_all(session: tuple[str, dict[str, Any]] | None = None) -> list[Any]:
    """Update actions that end every session of an account (and every session-less token issued until now),
    optionally opening `session` in their place (a password change answers with a new token)."""
    fresh = {session[0]: session[1]} if session else {}
    return [StaffAccount.sessions.set(fresh), StaffAccount.tokens_valid_after.set(clock.timestamp())]


def of(account: StaffAccount) -> list[Session]:
    live = live_entries(account)
    rows = [Session(session_id=sid, username=account.username, created_at=str(entry.get("created_at")),
                    expires_at=clock.iso(dt.datetime.fromtimestamp(float(entry["expires_at"]), tz=dt.UTC)),
                    source_ip=entry.get("source_ip"), user_agent=entry.get("user_agent"))
            for sid, entry in live.items()]
    return sorted(rows, key=lambda row: row.created_at, reverse=True)


def end(account: StaffAccount, session_id: str) -> None:
    """End one session: its token is refused from the next request on. 404 when it is not live."""
    if session_id not in live_entries(account):
        raise NotFound(f"no live session {session_id!r} of {account.username!r}", code="SESSION_NOT_FOUND")
    try:
        account.update(actions=[StaffAccount.sessions[session_id].remove()],
                       condition=StaffAccount.sessions[session_id].exists())
    except Exception as exc:  # noqa: BLE001 - only a failed condition means "already gone"
        if not condition_failed(exc):
            raise
        # Ended by someone else (or this very request, resent after a lost reply): it is ended.


def end_all(account: StaffAccount) -> int:
    """End every session of `account`; the number that were live."""
    count = len(live_entries(account))
    account.update(actions=[StaffAccount.updated_at.set(clock.now()), *replacing_all()],
                   condition=StaffAccount.username.exists())
    return count
