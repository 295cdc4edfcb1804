"""Signed bearer tokens for buyers and staff (HS256 JWT, core/tokens.py).

Buyers and staff get tokens with different audiences, so a buyer token can never
pass as a staff one: a route for staff given a well-signed buyer token answers 403,
a missing, expired or tampered token 401.

A staff token is only the start: `admit_staff` (run by the HTTP edge on every staff
route) reads the account behind it and judges it there, so a disabled account, an
ended session, a password changed since the token was issued or a missing
permission are refused at once, not when the token expires.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import field

from chalicelib.core import clock, config, tokens
from chalicelib.core.errors import Forbidden, Unauthorized
from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)

ISSUER = "micromall"
BUYER_AUDIENCE = "micromall:buyer"
STAFF_AUDIENCE = "micromall:staff"
BUYER_ROLE = "buyer"
STAFF_ROLES = ("owner", "operator")
BUYER_TOKEN_SECONDS = 7 * 24 * 3600
STAFF_TOKEN_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Principal:
    subject: str  # user_id for a buyer, staff username for staff
    role: str
    issued_at: int = field(default=0, compare=False)  # the token's `iat`
    session_id: str | None = field(default=None, compare=False)  # a staff login's session (`sid`)
    permissions: frozenset[str] = field(default=frozenset(), compare=False)  # staff, once admitted

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


@dataclass(frozen=True)
class Requirement:
    """Who may call a route: buyers, or staff whose account has one of `roles` and holds `permission`."""
    audience: str
    roles: tuple[str, ...]
    permission: str | None = None  # one of chalicelib.core.permissions

    @property
    def is_staff(self) -> bool:
        return self.audience == STAFF_AUDIENCE

    def describe(self) -> str:
        if not self.is_staff:
            return "buyer"
        if self.permission:
            return f"staff with permission {self.permission}"
        return "staff (" + ", ".join(self.roles) + ")"


BUYER = Requirement(BUYER_AUDIENCE, (BUYER_ROLE,))
STAFF = Requirement(STAFF_AUDIENCE, STAFF_ROLES)
OWNER = Requirement(STAFF_AUDIENCE, ("owner",))


def staff_may(permission: str) -> Requirement:
    """Staff whose account holds `permission` (chalicelib.core.permissions)."""
    from chalicelib.core.permissions import ALL_PERMISSIONS

    if permission not in ALL_PERMISSIONS:
        raise ValueError(f"unknown staff permission {permission!r}")
    return Requirement(STAFF_AUDIENCE, STAFF_ROLES, permission)


# The staff accounts belong to the admin feature; core names its gate lazily, so a
# function without staff routes never imports it, and one with them can never skip it.
STAFF_GATE = "chalicelib.admin.access:admit"


def admit_staff(principal: Principal, requirement: Requirement) -> Principal:
    """The staff principal as its account stands now (see STAFF_GATE); raises 401/403."""
    module, _, name = STAFF_GATE.partition(":")
    return getattr(importlib.import_module(module), name)(principal, requirement)


def _signing_key() -> str:
    return config.secret("jwt_secret")


def issue_buyer_token(user_id: str) -> str:
    return _issue(user_id, BUYER_ROLE, BUYER_AUDIENCE, BUYER_TOKEN_SECONDS)


def issue_staff_token(username: str, role: str, *, session_id: str | None = None) -> str:
    """A staff token; a login names its session (`sid`), which ending the session revokes."""
    if role not in STAFF_ROLES:
        raise ValueError(f"unknown staff role {role!r}")
    extra = {"sid": session_id} if session_id else {}
    return _issue(username, role, STAFF_AUDIENCE, STAFF_TOKEN_SECONDS, **extra)


def _issue(subject: str, role: str, audience: str, ttl_seconds: int, **extra: str) -> str:
    issued = int(clock.timestamp())
    claims = {"iss": ISSUER, "aud": audience, "sub": subject, "role": role,
              "iat": issued, "exp": issued + ttl_seconds, **extra}
    return tokens.encode(claims, _signing_key())


def bearer_token(headers: Mapping[str, str]) -> str:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token", code="UNAUTHENTICATED")
    return token.strip()


def authenticate(headers: Mapping[str, str], requirement: Requirement) -> Principal:
    token = bearer_token(headers)
    try:
        # Times are judged by the mall clock, not the wall clock, so tests can move time.
        claims = tokens.decode(token, _signing_key(), issuer=ISSUER, audiences=(BUYER_AUDIENCE, STAFF_AUDIENCE),
                               now=clock.timestamp())
    except tokens.InvalidToken as exc:
        raise Unauthorized(f"invalid token: {exc}", code="INVALID_TOKEN") from None
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= clock.timestamp():
        raise Unauthorized("token expired", code="TOKEN_EXPIRED")
    session_id = claims.get("sid")
    principal = Principal(subject=str(claims["sub"]), role=str(claims.get("role", "")),
                          issued_at=int(claims["iat"]) if isinstance(claims["iat"], int) else 0,
                          session_id=str(session_id) if session_id else None)
    # A staff token's role is what it was at login: the staff gate judges the account's role now.
    allowed_roles = STAFF_ROLES if requirement.is_staff else requirement.roles
    if claims["aud"] != requirement.audience or principal.role not in allowed_roles:
        raise Forbidden(f"this route is for {requirement.describe()}")
    return principal
