"""Abuse limits: token buckets per buyer, device and source IP, and lockouts that grow after repeated failures.

Both live in DynamoDB (`LimitState`, one item per key, gone by TTL when idle) rather than
in API Gateway usage plans: a usage plan throttles per API key, and a mini-program cannot
keep an API key secret nor does it identify a buyer, a device or an IP; its counts are
approximate and per stage, and the local stack has no API Gateway at all. A bucket keyed
by what the mall knows (the token's buyer, `X-Device-Id`, the request's `sourceIp`) is
exact, works the same locally and in the cloud, and costs one BatchGetItem and, when the
request is let through, one TransactWriteItems (a refused request writes nothing).

A bucket holds `tokens` at `updated_at` and is refilled lazily from the clock by whoever
reads it next. Taking a token is a write conditioned on the `version` read, so two
requests racing for the last token cannot both have it; the loser reads again. A
request takes one token from each of its buckets in one transaction, or from none.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import math
import re
from collections.abc import Mapping
from typing import Any

from chalicelib.core import clock, config
from chalicelib.core.db import batch_get, commit_if_conditions_hold, condition_failed, get_or_none
from chalicelib.core.errors import TooManyRequests
from chalicelib.core.ids import new_id
from chalicelib.core.models import LimitState
from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)

SCOPES = ("buyer", "device", "ip")
DEVICE_ID_PATTERN = re.compile(r"^[0-9A-Za-z_.:-]{1,64}$")
WRITE_ATTEMPTS = 5  # reads and conditional writes before a key this contended is refused
IDLE_MARGIN_SECONDS = 60  # a key outlives the time its bucket takes to fill, then TTL removes it


@dataclass(frozen=True)
class Rate:
    """`requests` per `seconds`: the bucket holds `requests` tokens and refills them evenly over `seconds`."""
    requests: int
    seconds: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def parse_rate(name: str, text: str) -> Rate | None:
    """`"<requests>/<seconds>"`, or `off` (also `0`) for no limit."""
    value = text.strip().lower()
    if value in ("off", "0"):
        return None
    match = re.fullmatch(r"(\d{1,9})/(\d{1,9})", value)
    if not match or int(match[1]) < 1 or int(match[2]) < 1:
        raise config.ConfigError(f"{name} must be '<requests>/<seconds>' (e.g. 10/60) or 'off', got {text!r}")
    return Rate(int(match[1]), int(match[2]))


@dataclass(frozen=True)
class Limit:
    """An action's buckets: a default rate per scope, each overridden by `MALL_LIMIT_<ACTION>_<SCOPE>`."""
    action: str
    defaults: tuple[tuple[str, str], ...]

    def env_name(self, scope: str) -> str:
        return f"MALL_LIMIT_{self.action.upper()}_{scope.upper()}"

    def rate(self, scope: str) -> Rate | None:
        default = dict(self.defaults).get(scope)
        if default is None:
            return None
        name = self.env_name(scope)
        return parse_rate(name, config.env(name, default))


# A buyer login has no buyer yet (the WeChat code is single-use), so it is counted per device and IP.
BUYER_LOGIN = Limit("buyer_login", (("device", "10/60"), ("ip", "60/60")))
ORDER_SUBMIT = Limit("order_submit", (("buyer", "10/60"), ("device", "20/60"), ("ip", "120/60")))
REFUND_REQUEST = Limit("refund_request", (("buyer", "5/3600"), ("device", "10/3600"), ("ip", "60/3600")))
COUPON_CLAIM = Limit("coupon_claim", (("buyer", "20/60"), ("device", "30/60"), ("ip", "300/60")))
# A flash sale's orders, on top of ORDER_SUBMIT: a buyer or a device may try a few times in a few seconds (a
# retry after BUSY, a second unit), not run a script at the sale (README: Flash sales).
FLASH_ORDER = Limit("flash_order", (("buyer", "3/10"), ("device", "5/10"), ("ip", "300/10")))
# The storefront's behaviour events (POST /track): calls, not events, per device and IP. A call carries up to 50
# events, and the storefront batches them (web/shop/src/lib/track.js: at most one post per 1.5 s of browsing, or
# per 50 events, and one as the page is left), so a shopper posts at most about 40 times a minute. The route
# reads its buyer token inside the handler, so the edge knows no buyer: a token's holder still has its device
# and IP. An IP is shared by whole malls' Wi-Fi and carriers' NAT, so its bucket is wide (README: Abuse limits).
TRACK = Limit("track", (("device", "60/60"), ("ip", "1200/60")))
LIMITS = (BUYER_LOGIN, ORDER_SUBMIT, REFUND_REQUEST, COUPON_CLAIM, FLASH_ORDER, TRACK)


def enabled() -> bool:
    """`MALL_RATE_LIMITS`: `on` by default; `off` by default in sandbox mode (the local stack and tests),
    where every client shares one machine and load tests would trip them."""
    value = (config.env("MALL_RATE_LIMITS") or ("off" if config.is_sandbox() else "on")).lower()
    if value not in ("on", "off"):
        raise config.ConfigError(f"MALL_RATE_LIMITS must be 'on' or 'off', got {value!r}")
    return value == "on"


@dataclass(frozen=True)
class Caller:
    """Who a request counts against: its buyer, its device and its source IP (any may be unknown)."""
    buyer_id: str | None = None
    device_id: str | None = None
    source_ip: str | None = None

    def value(self, scope: str) -> str | None:
        return {"buyer": self.buyer_id, "device": self.device_id, "ip": self.source_ip}[scope]


def counted_ip(source_ip: str | None) -> str | None:
    """The source IP to count, or None: a loopback address (the local stack, where every client is one
    machine) or something that is not an address is not counted."""
    try:
        address = ipaddress.ip_address((source_ip or "").strip())
    except ValueError:
        return None
    return None if address.is_loopback else str(address)


def counted_device(headers: Mapping[str, str]) -> str | None:
    """`X-Device-Id` when it is well formed (1-64 of [0-9A-Za-z_.:-]); a client that sends none or a bad one
    is still counted per buyer and per IP."""
    raw = (headers.get("x-device-id") or "").strip()
    return raw if DEVICE_ID_PATTERN.fullmatch(raw) else None


def caller_of(principal: Any, headers: Mapping[str, str], source_ip: str | None) -> Caller:
    """The buyer of a buyer token (staff are not counted as buyers), the device and the source IP."""
    buyer_id = principal.subject if principal is not None and not principal.is_staff else None
    return Caller(buyer_id=buyer_id, device_id=counted_device(headers), source_ip=counted_ip(source_ip))


def enforce_for(ctx: Any, limit: Limit) -> None:
    """From inside a handler, the same as the route option `limit=`: `limits.enforce_for(ctx, COUPON_CLAIM)`."""
    enforce(limit, caller_of(ctx.principal, ctx.headers, ctx.source_ip))


class RateLimited(TooManyRequests):
    code = "RATE_LIMITED"

    def __init__(self, action: str, scope: str, retry_after: int):
        super().__init__(f"too many requests; retry in {retry_after} s",
                         details={"limit": action, "scope": scope, "retry_after_seconds": retry_after},
                         headers={"Retry-After": str(retry_after)})


def enforce(limit: Limit, caller: Caller) -> None:
    """Take one token from each of `caller`'s buckets for `limit`, or raise 429 RATE_LIMITED with Retry-After."""
    if not enabled():
        return
    buckets = []
    for scope in SCOPES:
        value, rate = caller.value(scope), limit.rate(scope)
        if value and rate:
            buckets.append((scope, f"{limit.action}#{scope}#{value}", rate))
    if not buckets:
        return
    request = new_id()
    for _ in range(WRITE_ATTEMPTS):
        if _take_tokens(limit, buckets, request):
            return
    raise RateLimited(limit.action, buckets[0][0], 1)  # every attempt lost a race for these keys


def _take_tokens(limit: Limit, buckets: list[tuple[str, str, Rate]], request: str) -> bool:
    """One read and one conditional write; False when a bucket changed in between."""
    now = clock.timestamp()
    stored = {item.key: item for item in batch_get(LimitState, [(key,) for _, key, _ in buckets], consistent=True)}
    if any(item.last_request == request for item in stored.values()):
        return True  # our write committed and its reply was lost: the SDK's resend found it in the way
    available = {key: _tokens_now(stored.get(key), rate, now) for _, key, rate in buckets}
    waits = [(_whole_seconds((1 - available[key]) / rate.per_second), scope)
             for scope, key, rate in buckets if available[key] < 1]
    if waits:
        wait, scope = max(waits)
        raise RateLimited(limit.action, scope, max(wait, 1))

    def build(tx: Any) -> None:
        for _, key, rate in buckets:
            item = stored.get(key)
            tx.update(LimitState(key), condition=_unchanged(item), actions=[
                LimitState.tokens.set(available[key] - 1), LimitState.updated_at.set(now),
                LimitState.version.set((item.version if item else 0) + 1), LimitState.last_request.set(request),
                LimitState.expiration.set(_expiry(now + rate.seconds)),
            ])
    return commit_if_conditions_hold(build)


def _tokens_now(item: LimitState | None, rate: Rate, now: float) -> float:
    if item is None or item.tokens is None or item.updated_at is None:
        return float(rate.requests)
    elapsed = max(0.0, now - float(item.updated_at))
    return min(float(rate.requests), float(item.tokens) + elapsed * rate.per_second)


def _unchanged(item: LimitState | None) -> Any:
    return LimitState.key.does_not_exist() if item is None else LimitState.version == item.version


def _whole_seconds(seconds: float) -> int:
    # Rounded first: refill arithmetic in floats makes an exact 1 s read as 1.0000000002 s.
    return math.ceil(round(seconds, 6))


def _expiry(moment: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(moment + IDLE_MARGIN_SECONDS, tz=dt.UTC)


# --- lockouts ----------------------------------------------------------------------

@dataclass(frozen=True)
class Lockout:
    """Failures in a row per key; from the `max_failures`-th on, each failure locks the key for a delay that
    doubles (first `lock_seconds`, at most `max_lock_seconds`). Failures older than `window_seconds` are
    forgotten. Settings: `<env_prefix>_<SCOPE>_MAX_FAILURES`, `<env_prefix>_LOCK_SECONDS`,
    `<env_prefix>_MAX_LOCK_SECONDS`, `<env_prefix>_FAILURE_WINDOW`."""
    action: str
    env_prefix: str
    max_failures: tuple[tuple[str, int], ...]
    lock_seconds: int = 60
    max_lock_seconds: int = 3600
    window_seconds: int = 86400

    def threshold(self, scope: str) -> int:
        return max(1, config.env_int(f"{self.env_prefix}_{scope.upper()}_MAX_FAILURES", dict(self.max_failures)[scope]))

    def delay(self, failures: int, scope: str) -> int:
        first = config.env_int(f"{self.env_prefix}_LOCK_SECONDS", self.lock_seconds)
        cap = config.env_int(f"{self.env_prefix}_MAX_LOCK_SECONDS", self.max_lock_seconds)
        doublings = min(failures - self.threshold(scope), 30)
        return max(1, min(cap, first * 2**doublings))

    def window(self) -> int:
        return config.env_int(f"{self.env_prefix}_FAILURE_WINDOW", self.window_seconds)

    def key(self, scope: str, value: str) -> str:
        return f"{self.action}#{scope}#{value}"

    def check(self, values: Mapping[str, str | None], message: str, code: str) -> dict[str, LimitState]:
        """Raise 429 `code` with Retry-After while any of the keys is locked; else what was read, for
        `record_failure` and `clear` (one BatchGetItem for every key)."""
        keys = {scope: self.key(scope, value) for scope, value in values.items() if value}
        stored = {item.key: item for item in batch_get(LimitState, [(key,) for key in keys.values()], consistent=True)}
        now = clock.timestamp()
        until = max((float(item.locked_until) for item in stored.values() if item.locked_until), default=0.0)
        if until > now:
            wait = max(1, _whole_seconds(until - now))
            raise TooManyRequests(f"{message}; try again in {wait} s", code=code,
                                  details={"retry_after_seconds": wait}, headers={"Retry-After": str(wait)})
        return stored

    def record_failure(self, values: Mapping[str, str | None], seen: Mapping[str, LimitState]) -> None:
        """Count one failure against every key (each a conditional write, re-read when another failure won)."""
        for scope, value in values.items():
            if value:
                self._count(scope, self.key(scope, value), seen.get(self.key(scope, value)))

    def _count(self, scope: str, key: str, item: LimitState | None) -> None:
        request = new_id()
        for _ in range(WRITE_ATTEMPTS):
            if item is not None and item.last_request == request:
                return  # a resent write found its own commit
            now = clock.timestamp()
            fresh = item is not None and item.failures and now - float(item.updated_at or 0) <= self.window()
            failures = (int(item.failures) if fresh else 0) + 1
            locked_until = now + self.delay(failures, scope) if failures >= self.threshold(scope) else None
            actions = [LimitState.failures.set(failures), LimitState.updated_at.set(now),
                       LimitState.version.set((item.version if item else 0) + 1),
                       LimitState.last_request.set(request),
                       LimitState.expiration.set(_expiry(max(now + self.window(), locked_until or now)))]
            actions.append(LimitState.locked_until.set(locked_until) if locked_until else LimitState.locked_until.remove())
            try:
                LimitState(key).update(actions=actions, condition=_unchanged(item))
                return
            except Exception as exc:  # noqa: BLE001 - only a failed condition means "changed meanwhile"
                if not condition_failed(exc):
                    raise
            item = get_or_none(LimitState, key)
        # Every attempt lost to other failures on this key: they counted, which is what matters.

    def clear(self, scope: str, value: str, seen: Mapping[str, LimitState] | None = None) -> bool:
        """Forget `value`'s failures and lock (a success, or staff unlocking it); True when there were any.
        `seen`: what `check` read (no second read); None reads the key."""
        key = self.key(scope, value)
        item = seen.get(key) if seen is not None else get_or_none(LimitState, key)
        if item is None:
            return False
        LimitState(key).delete()
        return True
