"""The mall's error type and its JSON shape: {"error": {"code", "message"}}.

Services raise these; one place (core.http) turns them into responses, so a
status code is decided by the error's type, never by a route.
"""
from __future__ import annotations

from typing import Any


class MallError(Exception):
    status = 500
    code = "INTERNAL"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details
        self.headers = headers or {}

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class BadRequest(MallError):
    status = 400
    code = "BAD_REQUEST"


class Unauthorized(MallError):
    status = 401
    code = "UNAUTHORIZED"


class Forbidden(MallError):
    status = 403
    code = "FORBIDDEN"


class NotFound(MallError):
    status = 404
    code = "NOT_FOUND"


class Conflict(MallError):
    status = 409
    code = "CONFLICT"


class Unprocessable(MallError):
    status = 422
    code = "UNPROCESSABLE"


class TooManyRequests(MallError):
    status = 429
    code = "TOO_MANY_REQUESTS"


class ServiceUnavailable(MallError):
    status = 503
    code = "SERVICE_UNAVAILABLE"

    def __init__(self, message: str, *, retry_after_seconds: int = 1, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.headers.setdefault("Retry-After", str(retry_after_seconds))


class UpstreamError(MallError):
    """A provider (WeChat, Alipay) failed or answered something we cannot use."""
    status = 502
    code = "UPSTREAM_ERROR"


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def invalid_input(errors: list[tuple[tuple[Any, ...], str]]) -> BadRequest:
    """The 400 for a body or query its model refuses: each error's field path ("items.0.quantity"; "(body)" for
    the whole) and message, whichever validator found them (core/http.py: pydantic or a committed schema)."""
    details = [{"field": ".".join(str(part) for part in loc) or "(body)", "message": message}
               for loc, message in errors]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return BadRequest(f"invalid input: {summary}", code="VALIDATION_ERROR", details=details)
