"""Time-sortable ids (ULID): 26 characters of Crockford base32.

26 characters of [0-9A-Z] are a valid WeChat `out_trade_no` (6-32 of
[0-9A-Za-z_-|*]) and Alipay `out_trade_no` (<= 64), so an order id is sent to the
providers as is. The timestamp part comes from the mall clock, so ids made in a
test with a frozen clock sort as the test's time says.
"""
from __future__ import annotations

import re

from chalicelib.core import clock
from chalicelib.core.errors import NotFound

OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
ID_PATTERN = re.compile(r"^[0-9A-Za-z_-]{1,64}$")  # any id the mall makes or accepts in a path


def new_id() -> str:
    from ulid import ULID  # lazy: a read-only request (a product page) never makes an id

    return str(ULID.from_datetime(clock.now()))


def is_out_trade_no(value: str) -> bool:
    return bool(OUT_TRADE_NO.match(value))


def looks_like_id(value: object) -> bool:
    return isinstance(value, str) and bool(ID_PATTERN.match(value))


def require_id(value: str, what: str) -> str:
    """A path id that cannot exist (too long, odd characters) is simply not found, never a DynamoDB error."""
    if not looks_like_id(value):
        raise NotFound(f"{what.lower().replace('_', ' ')} not found", code=f"{what}_NOT_FOUND")
    return value
