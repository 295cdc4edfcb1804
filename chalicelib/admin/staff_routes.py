"""Staff login and accounts: `/admin/login`, `/admin/me`, `/admin/staff`.

Core checks the token's audience and role before a handler runs; the handlers
then re-check the account itself through the service, so a staff member who was
disabled or demoted loses access at once, not when the token expires.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import ConfigDict, Field, StrictBool, StrictStr, model_validator

from chalicelib.admin import service
from chalicelib.admin.api import api
from chalicelib.admin.models import StaffAccount
from chalicelib.core import clock
from chalicelib.core.auth import OWNER, STAFF
from chalicelib.core.http import Context
from chalicelib.core.schema import Schema

StaffRole = Literal["owner", "operator"]
MIN_NEW_PASSWORD_LENGTH = 8


class LoginIn(Schema):
    model_config = ConfigDict(extra="forbid")
    username: StrictStr = Field(min_length=1, max_length=64)
    password: StrictStr = Field(min_length=1, max_length=service.MAX_PASSWORD_LENGTH)


class LoginOut(Schema):
    token: str
    username: str
    role: StaffRole
    expires_in: int = Field(description="seconds the token is valid for")


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

    @model_validator(mode="after")
    def changes_something(self) -> StaffChangeIn:
        if self.role is None and self.disabled is None and self.password is None:
            raise ValueError("give at least one of role, disabled, password")
        return self


class StaffView(Schema):
    username: str
    role: StaffRole
    disabled: bool
    created_at: str
    last_login_at: Optional[str]

    @classmethod
    def of(cls, account: StaffAccount) -> StaffView:
        last_login = clock.iso(account.last_login_at) if account.last_login_at else None
        return cls(username=account.username, role=account.role, disabled=account.disabled,
                   created_at=clock.iso(account.created_at), last_login_at=last_login)


@api.route("/admin/login", "POST", body=LoginIn, response=LoginOut, errors=(401,),
           summary="staff login: username and password -> staff token")
def staff_login(ctx: Context) -> LoginOut:
    result = service.login(ctx.body.username, ctx.body.password)
    return LoginOut(token=result.token, username=result.username, role=result.role,
                    expires_in=result.expires_in)


@api.route("/admin/me", "GET", response=StaffView, auth=STAFF, summary="the calling staff member")
def staff_me(ctx: Context) -> StaffView:
    return StaffView.of(service.require_active_staff(ctx.user_id))


@api.route("/admin/staff", "GET", response=list[StaffView], auth=OWNER, summary="every staff account")
def staff_list(ctx: Context) -> list[StaffView]:
    service.require_owner(ctx.user_id)
    return [StaffView.of(account) for account in service.list_staff()]


@api.route("/admin/staff", "POST", body=NewStaffIn, response=StaffView, status=201, auth=OWNER,
           errors=(409,), summary="create a staff account")
def staff_create(ctx: Context) -> StaffView:
    service.require_owner(ctx.user_id)
    body = ctx.body
    return StaffView.of(service.create_staff(body.username, body.password, body.role))


@api.route("/admin/staff/{username}", "GET", response=StaffView, auth=OWNER, errors=(404,),
           summary="one staff account")
def staff_get(ctx: Context, username: str) -> StaffView:
    service.require_owner(ctx.user_id)
    return StaffView.of(service.get_staff(username))


@api.route("/admin/staff/{username}", "PUT", body=StaffChangeIn, response=StaffView, auth=OWNER,
           errors=(404, 409), summary="change a staff account's role, disable or enable it, reset its password")
def staff_update(ctx: Context, username: str) -> StaffView:
    service.require_owner(ctx.user_id)
    body = ctx.body
    changed = service.update_staff(username, role=body.role, disabled=body.disabled, password=body.password)
    return StaffView.of(changed)
