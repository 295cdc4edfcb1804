"""Time-sortable ids (ULID): 26 characters of Crockford base32.

26 characters of [0-9A-Z] are a valid WeChat `out_trade_no` (6-32 of
[0-9A-Za-z_-|*]) and Alipay `out_trade_no` (<= 64), so an order id is sent to the
providers as is. The timestamp part comes from the mall clock, so ids made in a
test with a frozen clock sort as the test's time says.

Made here as python-ulid's `ULID.from_datetime` makes them (48 bits of milliseconds,
80 random bits; within one millisecond each id is the previous one plus one, so ids of
one process sort in the order they were made), without importing it on a first request:
tests/unit/test_ids.py holds the two to the same ids.
"""
from __future__ import annotations

import os
import re
import threading

from chalicelib.core import clock
from chalicelib.core.errors import NotFound

OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
ID_PATTERN = re.compile(r"^[0-9A-Za-z_-]{1,64}$")  # any id the mall makes or accepts in a path


CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MAX_TIMESTAMP = (1 << 48) - 1
MAX_RANDOMNESS = (1 << 80) - 1
_lock = threading.Lock()
_last = (0, 0)  # the last id's (milliseconds, randomness)


def new_id() -> str:
    global _last
    milliseconds = int(clock.now().timestamp() * 1000)
    if milliseconds > MAX_TIMESTAMP:
        raise ValueError("Value exceeds maximum possible timestamp")
    with _lock:
        last_milliseconds, last_randomness = _last
        if milliseconds == last_milliseconds:
            if last_randomness == MAX_RANDOMNESS:
                raise ValueError("Randomness within same millisecond exhausted")
            randomness = last_randomness + 1
        else:
            randomness = int.from_bytes(os.urandom(10), "big")
        _last = (milliseconds, randomness)
    return ulid_text(milliseconds, randomness)


def ulid_text(milliseconds: int, randomness: int) -> str:
    """The 26 characters of the ULID of these 48 + 80 bits."""
    value = (milliseconds << 80) | randomness
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def is_out_trade_no(value: str) -> bool:
    return bool(OUT_TRADE_NO.match(value))


def looks_like_id(value: object) -> bool:
    return isinstance(value, str) and bool(ID_PATTERN.match(value))


def require_id(value: str, what: str) -> str:
    """A path id that cannot exist (too long, odd characters) is simply not found, never a DynamoDB error."""
    if not looks_like_id(value):
        raise NotFound(f"{what.lower().replace('_', ' ')} not found", code=f"{what}_NOT_FOUND")
    return value
