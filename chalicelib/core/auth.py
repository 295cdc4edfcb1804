"""Signed bearer tokens for buyers and staff (HS256 JWT).

Buyers and staff get tokens with different audiences, so a buyer token can never
pass as a staff one: a route for staff given a well-signed buyer token answers 403,
a missing, expired or tampered token 401.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.core import clock, config
from chalicelib.core.errors import Forbidden, Unauthorized

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

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


@dataclass(frozen=True)
class Requirement:
    """Who may call a route: buyers, or staff with one of `roles`."""
    audience: str
    roles: tuple[str, ...]

    def describe(self) -> str:
        return "buyer" if self.audience == BUYER_AUDIENCE else "staff (" + ", ".join(self.roles) + ")"


BUYER = Requirement(BUYER_AUDIENCE, (BUYER_ROLE,))
STAFF = Requirement(STAFF_AUDIENCE, STAFF_ROLES)
OWNER = Requirement(STAFF_AUDIENCE, ("owner",))


def _signing_key() -> str:
    return config.secret("jwt_secret")


def issue_buyer_token(user_id: str) -> str:
    return _issue(user_id, BUYER_ROLE, BUYER_AUDIENCE, BUYER_TOKEN_SECONDS)


def issue_staff_token(username: str, role: str) -> str:
    if role not in STAFF_ROLES:
        raise ValueError(f"unknown staff role {role!r}")
    return _issue(username, role, STAFF_AUDIENCE, STAFF_TOKEN_SECONDS)


def _issue(subject: str, role: str, audience: str, ttl_seconds: int) -> str:
    import jwt  # lazy: routes without auth never import it

    issued = int(clock.timestamp())
    claims = {"iss": ISSUER, "aud": audience, "sub": subject, "role": role,
              "iat": issued, "exp": issued + ttl_seconds}
    return jwt.encode(claims, _signing_key(), algorithm="HS256")


def bearer_token(headers: Mapping[str, str]) -> str:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token", code="UNAUTHENTICATED")
    return token.strip()


def authenticate(headers: Mapping[str, str], requirement: Requirement) -> Principal:
    import jwt

    token = bearer_token(headers)
    try:
        claims = jwt.decode(
            token, _signing_key(), algorithms=["HS256"], issuer=ISSUER,
            audience=[BUYER_AUDIENCE, STAFF_AUDIENCE],
            # Times are judged by the mall clock below, not PyJWT's wall clock, so tests can move time.
            options={"require": ["exp", "iat", "sub", "aud", "iss"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid token: {exc}", code="INVALID_TOKEN") from None
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= clock.timestamp():
        raise Unauthorized("token expired", code="TOKEN_EXPIRED")
    principal = Principal(subject=str(claims["sub"]), role=str(claims.get("role", "")))
    if claims["aud"] != requirement.audience or principal.role not in requirement.roles:
        raise Forbidden(f"this route is for {requirement.describe()}")
    return principal
