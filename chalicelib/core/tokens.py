"""HS256 JSON Web Tokens with the standard library: what the mall's bearer tokens need, and nothing else.

PyJWT did this until it was a measurable part of every authenticated cold start; the
mall signs and verifies only HS256 with its own key, which is `hmac` and `base64`. The
rules are PyJWT's (tests/unit/test_tokens.py holds them against PyJWT as an oracle:
each one's tokens verify in the other, and tampered ones fail in both), with the
choices a single-algorithm verifier can make stricter:

- the header's `alg` must be exactly HS256 (`none`, RS256, HS512 ... are refused before
  any key is used), and a header naming critical extensions (`crit`, `b64`) is refused;
- the signature is compared in constant time (`hmac.compare_digest`) over the segments
  exactly as received; segments must be canonical base64url (no padding, no stray
  characters, which PyJWT's decoder skips);
- claims: `exp`, `iat`, `sub`, `aud`, `iss` are required, `iss` must match, `aud` (a
  string or a list of strings) must name an accepted audience, `sub` and `jti` must be
  strings; a `nbf` must read as an integer not after `now` (the mall clock); `exp` and `iat` are
  judged by the caller (core/auth.py), by the mall clock too, as it did with PyJWT.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from typing import Any

ALGORITHM = "HS256"
_HEADER = {"alg": ALGORITHM, "typ": "JWT"}
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]*$")
REQUIRED_CLAIMS = ("exp", "iat", "sub", "aud", "iss")


class InvalidToken(Exception):
    """The token is malformed, wrongly signed or its claims are not acceptable."""


def encode(claims: dict[str, Any], key: str) -> str:
    """`claims` signed with `key` (HS256), as PyJWT's `jwt.encode(claims, key, algorithm="HS256")` writes it."""
    signing_input = _b64(_json(_HEADER)) + "." + _b64(_json(claims))
    return signing_input + "." + _b64(_sign(signing_input.encode("ascii"), key))


def decode(token: str, key: str, *, issuer: str, audiences: Iterable[str], now: float) -> dict[str, Any]:
    """The claims of a token signed with `key`; raises InvalidToken. `exp` is the caller's to judge."""
    header_segment, payload_segment, signature = _segments(token)
    header = _json_object(header_segment, "header")
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("The specified alg value is not allowed")
    if "crit" in header or "b64" in header:
        raise InvalidToken("Unsupported critical extension")
    if "kid" in header and not isinstance(header["kid"], str):
        raise InvalidToken("Key ID header parameter must be a string")
    expected = _sign(f"{header_segment}.{payload_segment}".encode("ascii"), key)
    if not hmac.compare_digest(expected, _unb64(signature, "signature")):
        raise InvalidToken("Signature verification failed")
    claims = _json_object(payload_segment, "payload")
    _check_claims(claims, issuer, tuple(audiences), now)
    return claims


def _check_claims(claims: dict[str, Any], issuer: str, audiences: tuple[str, ...], now: float) -> None:
    for name in REQUIRED_CLAIMS:
        if claims.get(name) is None:
            raise InvalidToken(f'Token is missing the "{name}" claim')
    if "nbf" in claims:
        try:
            not_before = int(claims["nbf"])  # as PyJWT reads it
        except (ValueError, TypeError, OverflowError):
            raise InvalidToken("Not Before claim (nbf) must be an integer.") from None
        if not_before > now:
            raise InvalidToken("The token is not yet valid (nbf)")
    if not isinstance(claims["iss"], str) or claims["iss"] != issuer:
        raise InvalidToken("Invalid issuer")
    named = [claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"]
    if not isinstance(named, list) or not all(isinstance(aud, str) for aud in named):
        raise InvalidToken("Invalid claim format in token")
    if not any(aud in named for aud in audiences):
        raise InvalidToken("Audience doesn't match")
    if not isinstance(claims["sub"], str):
        raise InvalidToken("Subject must be a string")
    if "jti" in claims and not isinstance(claims["jti"], str):
        raise InvalidToken("JWT ID must be a string")


def _segments(token: str) -> tuple[str, str, str]:
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("Not enough segments" if len(parts) < 3 else "Too many segments")
    if not all(part.isascii() and _SEGMENT.match(part) for part in parts):
        raise InvalidToken("Invalid base64url segment")
    return parts[0], parts[1], parts[2]


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_unb64(segment, what))
    except (ValueError, RecursionError):
        raise InvalidToken(f"Invalid {what} string") from None
    if not isinstance(value, dict):
        raise InvalidToken(f"Invalid {what} string: must be a json object")
    return value


def _sign(signing_input: bytes, key: str) -> bytes:
    return hmac.new(key.encode("utf-8"), signing_input, hashlib.sha256).digest()


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(segment: str, what: str) -> bytes:
    if len(segment) % 4 == 1:  # no whole number of bytes
        raise InvalidToken(f"Invalid {what} padding")
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken(f"Invalid {what} padding") from None
    if _b64(data) != segment:  # unused bits set: another spelling of the same bytes
        raise InvalidToken(f"Invalid {what} encoding")
    return data
