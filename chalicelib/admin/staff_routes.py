"""Staff login and accounts: `/admin/login`, `/admin/logout`, `/admin/me`, `/admin/staff`, `/admin/sessions`.

The HTTP edge admits every staff request (chalicelib.admin.access) before a handler
runs: the account is enabled, the token's session live, the permission held.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import ConfigDict, Field, StrictBool, StrictStr, model_validator

from chalicelib.admin import login as staff_login_service
from chalicelib.admin import service, sessions
from chalicelib.admin.api import api
from chalicelib.admin.models import StaffAccount
from chalicelib.core import clock
from chalicelib.core.auth import STAFF, staff_may
from chalicelib.core.http import Context
from chalicelib.core.permissions import STAFF_MANAGE, permissions_of
from chalicelib.core.schema import Schema

StaffRole = Literal["owner", "operator"]
Grant = Literal["orders.view", "orders.ship", "orders.cancel", "refunds.decide", "payments.view", "catalog.view",
                "catalog.edit", "stock.adjust", "marketing.manage"]  # core.permissions.GRANTABLE
MIN_NEW_PASSWORD_LENGTH = 8
MANAGE_STAFF = staff_may(STAFF_MANAGE)


class LoginIn(Schema):
    model_config = ConfigDict(extra="forbid")
    username: StrictStr = Field(min_length=1, max_length=64)
    password: StrictStr = Field(min_length=1, max_length=service.MAX_PASSWORD_LENGTH)


class LoginOut(Schema):
    token: str
    username: str
    role: StaffRole
    expires_in: int = Field(description="seconds the token is valid for")
    session_id: Optional[str] = Field(default=None, description="the session this token belongs to")

    @classmethod
    def of(cls, result: staff_login_service.LoginResult) -> LoginOut:
        return cls(token=result.token, username=result.username, role=result.role,
                   expires_in=result.expires_in, session_id=result.session_id)


class PasswordChangeIn(Schema):
    model_config = ConfigDict(extra="forbid")
    current_password: StrictStr = Field(min_length=1, max_length=service.MAX_PASSWORD_LENGTH)
    new_password: StrictStr = Field(min_length=MIN_NEW_PASSWORD_LENGTH, max_length=service.MAX_PASSWORD_LENGTH)


class NewStaffIn(Schema):
    model_config = ConfigDict(extra="forbid")
    username: StrictStr = Field(pattern=service.USERNAME_PATTERN)
    password: StrictStr = Field(min_length=MIN_NEW_PASSWORD_LENGTH, max_length=service.MAX_PASSWORD_LENGTH)
    role: StaffRole


class StaffChangeIn(Schema):
    model_config = ConfigDict(extra="forbid")
    role: Optional[StaffRole] = None
    disabled: Optional[StrictBool] = None
    password: Optional[StrictStr] = Field(default=None, min_length=MIN_NEW_PASSWORD_LENGTH,
                                          max_length=service.MAX_PASSWORD_LENGTH)
    grants: Optional[list[Grant]] = Field(default=None, max_length=20,
                                          description="permissions beyond the role's (replaces the earlier grants)")

    @model_validator(mode="after")
    def changes_something(self) -> StaffChangeIn:
        if self.role is None and self.disabled is None and self.password is None and self.grants is None:
            raise ValueError("give at least one of role, disabled, password, grants")
        return self


class StaffView(Schema):
    username: str
    role: StaffRole
    disabled: bool
    created_at: str
    last_login_at: Optional[str]
    grants: list[str] = Field(default_factory=list, description="permissions granted beyond the role")
    permissions: list[str] = Field(default_factory=list, description="everything the account may do")

    @classmethod
    def of(cls, account: StaffAccount) -> StaffView:
        last_login = clock.iso(account.last_login_at) if account.last_login_at else None
        grants = sorted(account.grants or ())
        return cls(username=account.username, role=account.role, disabled=account.disabled,
                   created_at=clock.iso(account.created_at), last_login_at=last_login, grants=grants,
                   permissions=sorted(permissions_of(account.role, set(grants))))


class SessionView(Schema):
    session_id: str
    username: str
    created_at: str
    expires_at: str
    source_ip: Optional[str]
    user_agent: Optional[str]

    @classmethod
    def of(cls, session: sessions.Session) -> SessionView:
        return cls(**session.__dict__)


class SessionsEnded(Schema):
    ended: int = Field(description="how many live sessions were ended")


class Unlocked(Schema):
    username: str
    was_locked: bool = Field(description="whether the username had failed logins to forget")


@api.route("/admin/login", "POST", body=LoginIn, response=LoginOut, errors=(401, 429),
           summary="staff login: username and password -> staff token (a new session); repeated failures lock "
                   "the username and the source IP for a growing delay (429 + Retry-After)")
def staff_login(ctx: Context) -> LoginOut:
    result = service.login(ctx.body.username, ctx.body.password, source_ip=ctx.source_ip,
                           user_agent=ctx.headers.get("user-agent"))
    return LoginOut.of(result)


@api.route("/admin/logout", "POST", status=204, auth=STAFF, summary="end the caller's session (its token)")
def staff_logout(ctx: Context) -> None:
    staff_login_service.logout(ctx.user_id, ctx.principal.session_id)


@api.route("/admin/me", "GET", response=StaffView, auth=STAFF, summary="the calling staff member")
def staff_me(ctx: Context) -> StaffView:
    return StaffView.of(service.get_staff(ctx.user_id))


@api.route("/admin/me/password", "PUT", body=PasswordChangeIn, response=LoginOut, auth=STAFF, errors=(403, 429),
           summary="change one's own password (the current one required): every session ends, and the answer "
                   "is a new token")
def staff_change_own_password(ctx: Context) -> LoginOut:
    result = staff_login_service.change_own_password(
        ctx.user_id, ctx.body.current_password, ctx.body.new_password, source_ip=ctx.source_ip,
        user_agent=ctx.headers.get("user-agent"))
    return LoginOut.of(result)


@api.route("/admin/staff", "GET", response=list[StaffView], auth=MANAGE_STAFF, summary="every staff account")
def staff_list(ctx: Context) -> list[StaffView]:
    return [StaffView.of(account) for account in service.list_staff()]


@api.route("/admin/staff", "POST", body=NewStaffIn, response=StaffView, status=201, auth=MANAGE_STAFF,
           errors=(409,), summary="create a staff account")
def staff_create(ctx: Context) -> StaffView:
    body = ctx.body
    return StaffView.of(service.create_staff(body.username, body.password, body.role))


@api.route("/admin/staff/{username}", "GET", response=StaffView, auth=MANAGE_STAFF, errors=(404,),
           summary="one staff account")
def staff_get(ctx: Context, username: str) -> StaffView:
    return StaffView.of(service.get_staff(username))


@api.route("/admin/staff/{username}", "PUT", body=StaffChangeIn, response=StaffView, auth=MANAGE_STAFF,
           errors=(404, 409), summary="change a staff account's role or grants, disable or enable it, reset its "
                                      "password (which ends its sessions)")
def staff_update(ctx: Context, username: str) -> StaffView:
    body = ctx.body
    changed = service.update_staff(username, role=body.role, disabled=body.disabled, password=body.password,
                                   grants=body.grants)
    return StaffView.of(changed)


@api.route("/admin/sessions", "GET", response=list[SessionView], auth=MANAGE_STAFF,
           summary="every live staff session, newest first")
def sessions_list(ctx: Context) -> list[SessionView]:
    rows = [row for account in service.list_staff() for row in sessions.of(account)]
    return [SessionView.of(row) for row in sorted(rows, key=lambda row: row.created_at, reverse=True)]


@api.route("/admin/staff/{username}/sessions", "GET", response=list[SessionView], auth=MANAGE_STAFF,
           errors=(404,), summary="a staff account's live sessions, newest first")
def staff_sessions(ctx: Context, username: str) -> list[SessionView]:
    return [SessionView.of(row) for row in sessions.of(service.get_staff(username))]


@api.route("/admin/staff/{username}/sessions", "DELETE", response=SessionsEnded, auth=MANAGE_STAFF,
           errors=(404,), summary="end every session of a staff account: its tokens stop working at once")
def staff_end_sessions(ctx: Context, username: str) -> SessionsEnded:
    return SessionsEnded(ended=sessions.end_all(service.get_staff(username)))


@api.route("/admin/staff/{username}/sessions/{session_id}", "DELETE", status=204, auth=MANAGE_STAFF,
           errors=(404,), summary="end one session: its token stops working at once")
def staff_end_session(ctx: Context, username: str, session_id: str) -> None:
    sessions.end(service.get_staff(username), session_id)


@api.route("/admin/staff/{username}/unlock", "POST", response=Unlocked, auth=MANAGE_STAFF,
           summary="forget a username's failed logins and lift its login lock")
def staff_unlock(ctx: Context, username: str) -> Unlocked:
    return Unlocked(username=username, was_locked=staff_login_service.unlock(username))
