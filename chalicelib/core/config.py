"""Configuration: plain settings from the environment, secrets from env or SSM.

Locally everything comes from environment variables that `make run` sets. In the
cloud, secrets live in SSM Parameter Store under `MALL_SSM_PREFIX` and are fetched
lazily (Powertools Parameters, cached), so a request that needs no secret never
pays for the SSM call or for importing Powertools.
"""
from __future__ import annotations

import os
import threading
from datetime import timedelta

from chalicelib.core import clock

ALL_FEATURES = ("members", "catalog", "cart", "checkout", "payments", "marketing", "groupbuy", "admin", "notify",
                "segments", "analytics")

DEFAULT_REGION = "us-east-1"


class ConfigError(RuntimeError):
    """A setting the mall cannot run without is missing or malformed."""


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value in (None, "") else value


def env_int(name: str, default: int) -> int:
    raw = env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def region() -> str:
    return env("AWS_REGION") or env("AWS_DEFAULT_REGION") or DEFAULT_REGION


def dynamodb_endpoint() -> str | None:
    """The embedded DynamoDB's URL locally; None in the cloud (the regional endpoint)."""
    return env("MALL_DYNAMODB_ENDPOINT")


def table_prefix() -> str:
    return env("MALL_TABLE_PREFIX", "micromall-")


def table_name(logical_name: str) -> str:
    return f"{table_prefix()}{logical_name}"


def enabled_features() -> tuple[str, ...]:
    raw = env("MALL_FEATURES", "all")
    if raw.strip() == "all":
        return ALL_FEATURES
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    unknown = [name for name in names if name not in ALL_FEATURES]
    if unknown:
        raise ConfigError(f"MALL_FEATURES names unknown features: {', '.join(unknown)}")
    return names


def providers_mode() -> str:
    """`live` (real WeChat/Alipay) or `sandbox` (their local twins; set by the local stack and tests).

    Live is the default so that a deployment that forgets the setting never accepts
    sandbox logins (`dev:<name>`) or sandbox payments.
    """
    mode = env("MALL_PROVIDERS", "live")
    if mode not in ("sandbox", "live"):
        raise ConfigError(f"MALL_PROVIDERS must be 'sandbox' or 'live', got {mode!r}")
    return mode


def is_sandbox() -> bool:
    return providers_mode() == "sandbox"


SECRET_MAX_AGE = timedelta(minutes=5)  # a rotated secret (WeChat's platform key) is picked up within this
_secrets: dict[str, tuple[str, object]] = {}
_secrets_lock = threading.Lock()


def secret(name: str) -> str:
    """A secret by name: env `MALL_<NAME>` first, then SSM `<MALL_SSM_PREFIX>/<name>`, kept `SECRET_MAX_AGE`.

    The age is judged by the mall's clock (tests move it), and the SSM value is fetched
    afresh when it is stale, so Powertools' own cache, on the wall clock, never serves it longer.
    """
    from_env = env(f"MALL_{name.upper()}")
    if from_env is not None:
        return from_env
    prefix = env("MALL_SSM_PREFIX")
    if prefix is None:
        raise ConfigError(f"secret {name!r}: set MALL_{name.upper()} or MALL_SSM_PREFIX")
    now = clock.now()
    with _secrets_lock:
        cached = _secrets.get(name)
    if cached is not None and now - cached[1] < SECRET_MAX_AGE:
        return cached[0]
    from aws_lambda_powertools.utilities import parameters  # lazy: cold start

    value = parameters.get_parameter(f"{prefix.rstrip('/')}/{name}", decrypt=True, force_fetch=True)
    with _secrets_lock:
        _secrets[name] = (value, now)
    return value


def _forget_secrets() -> None:
    with _secrets_lock:
        _secrets.clear()


secret.cache_clear = _forget_secrets  # type: ignore[attr-defined]  # what tests (and a rotation runbook) call


DEFAULT_REFUND_WINDOW_DAYS = 7


def refund_window() -> timedelta:
    """How long after an order completes its buyer may still ask for a refund (售后); the points the order
    earned stay frozen until then. Read by checkout (the refund request) and members (the points release)."""
    days = env_int("MALL_REFUND_WINDOW_DAYS", DEFAULT_REFUND_WINDOW_DAYS)
    if days < 0:
        raise ConfigError(f"MALL_REFUND_WINDOW_DAYS cannot be negative, got {days}")
    return timedelta(days=days)
