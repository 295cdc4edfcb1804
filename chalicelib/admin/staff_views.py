"""What the staff console's routes accept and answer, named lazily by chalicelib/admin/staff_routes.py: a cold
start of the admin function imports none of it until a request uses it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Optional

from pydantic import ConfigDict, Field, StrictBool, StrictStr, model_validator

from chalicelib.admin import service, sessions
from chalicelib.core import clock
from chalicelib.core.permissions import permissions_of
from chalicelib.core.schema import Schema

if TYPE_CHECKING:
    from chalicelib.admin import login as staff_login_service
    from chalicelib.admin.models import StaffAccount

StaffRole = Literal["owner", "operator"]
Grant = Literal["orders.view", "orders.ship", "orders.cancel", "refunds.decide", "payments.view", "catalog.view",
                "catalog.edit", "stock.adjust", "marketing.manage", "segments.grant"]  # core.permissions.GRANTABLE
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


StaffList = list[StaffView]  # `GET /admin/staff`
SessionList = list[SessionView]  # the sessions pages
