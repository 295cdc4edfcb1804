"""Days in the shop's time zone: every counter belongs to one shop day (`YYYY-MM-DD`).

The zone is `MALL_SHOP_TIMEZONE` (an IANA name, default Asia/Shanghai). A Lambda runtime
without the system's zone database still knows Asia/Shanghai: China has kept UTC+8 without
daylight saving since 1991, so a fixed offset is exact for every day the mall can count.
"""
from __future__ import annotations

import datetime as _dt
from functools import cache

from chalicelib.core import clock, config

DEFAULT_ZONE = "Asia/Shanghai"
FIXED_ZONES = {"Asia/Shanghai": _dt.timedelta(hours=8), "UTC": _dt.timedelta(0)}


def zone_name() -> str:
    return config.env("MALL_SHOP_TIMEZONE", DEFAULT_ZONE)


@cache
def _zone(name: str) -> _dt.tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name in FIXED_ZONES:
            return _dt.timezone(FIXED_ZONES[name], name)
        raise config.ConfigError(f"MALL_SHOP_TIMEZONE names no time zone this system knows: {name!r}") from None


def shop_zone() -> _dt.tzinfo:
    return _zone(zone_name())


def day_of(moment: _dt.datetime) -> str:
    """The shop day `moment` falls on."""
    return moment.astimezone(shop_zone()).date().isoformat()


def today() -> str:
    return day_of(clock.now())


def parse_day(text: str) -> _dt.date:
    """A `YYYY-MM-DD` date; ValueError otherwise."""
    if len(text) != 10:
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}")
    return _dt.date.fromisoformat(text)


def days_between(first: _dt.date, last: _dt.date) -> list[str]:
    """Every day from `first` to `last`, both included."""
    return [(first + _dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def shift(day: _dt.date, days: int) -> _dt.date:
    return day + _dt.timedelta(days=days)
