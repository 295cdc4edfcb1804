"""Values fitted to the WeChat subscribe-message field types.

A data key's letters name its type (`thing1` is a thing, `amount3` an amount), and
WeChat refuses the whole message (47003) when one value breaks its type's rule. So
every value is fitted before it is stored: a thing is at most 20 characters, cut at a
character boundary (never inside an emoji sequence or before a combining mark) and, in
Latin text, at a space when one is near, ending with an ellipsis; number and
character_string at most 32; an amount in fen is shown as currency ("¥12.50"); a
time in the shop's time zone (Beijing, as both payment providers speak it).
"""
from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from typing import Any

from chalicelib.core import clock

BEIJING = _dt.timezone(_dt.timedelta(hours=8), "Asia/Shanghai")
ELLIPSIS = "…"
# type -> the most characters WeChat takes (its documented limits)
LIMITS = {"thing": 20, "number": 32, "letter": 32, "symbol": 5, "character_string": 32, "phrase": 5,
          "name": 10, "phone_number": 17, "car_number": 8, "amount": 32, "time": 32, "date": 32}
KEY = re.compile(r"^([a-z_]+?)(\d+)$")
WORD_BREAK_WINDOW = 6  # a Latin word cut within this many characters of a space is cut at the space instead


def field_type(key: str) -> str | None:
    """`thing1` -> "thing", `character_string12` -> "character_string"; None when not a WeChat key."""
    match = KEY.match(key)
    return match.group(1) if match and match.group(1) in LIMITS else None


def fit(key: str, value: Any) -> str:
    kind = field_type(key)
    if kind is None:
        raise ValueError(f"{key!r} is not a WeChat subscribe-message data key")
    if value is None or value == "":  # an event without that variable (no shipment yet): an empty field,
        return ""                     # never a failing stream batch
    if kind == "amount":
        return amount(value)
    if kind == "time":
        return _moment(value).strftime("%Y-%m-%d %H:%M")
    if kind == "date":
        return _moment(value).strftime("%Y-%m-%d")
    text = str(value)
    if kind == "thing":
        return shorten(text, LIMITS["thing"])
    return text if len(text) <= LIMITS[kind] else _prefix(text, LIMITS[kind])


def amount(fen: Any) -> str:
    """Integer fen as yuan currency: 1250 -> "¥12.50", -5 -> "-¥0.05"."""
    value = int(fen)
    sign = "-" if value < 0 else ""
    yuan, cents = divmod(abs(value), 100)
    return f"{sign}¥{yuan}.{cents:02d}"


def _moment(value: Any) -> _dt.datetime:
    moment = clock.parse_iso(value) if isinstance(value, str) else value
    return moment.astimezone(BEIJING)


def shorten(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else the longest whole-character prefix plus an ellipsis."""
    if len(text) <= limit:
        return text
    prefix = _prefix(text, limit - len(ELLIPSIS))
    rest = text[len(prefix):]
    if prefix and rest and _is_word(prefix[-1]) and _is_word(rest[0]):  # we are inside a Latin word
        space = prefix.rfind(" ")
        if space > 0 and len(prefix) - space <= WORD_BREAK_WINDOW:
            prefix = prefix[:space]
    return prefix.rstrip() + ELLIPSIS


def _prefix(text: str, limit: int) -> str:
    """The longest run of whole characters (clusters) from the start of `text` within `limit` code points."""
    kept, used = [], 0
    for cluster in _clusters(text):
        if used + len(cluster) > limit:
            break
        kept.append(cluster)
        used += len(cluster)
    return "".join(kept)


def _is_word(char: str) -> bool:
    return char.isascii() and char.isalnum()


ZWJ = "\u200d"


def _joins_previous(char: str, previous: str) -> bool:
    code = ord(char)
    return (unicodedata.combining(char) != 0 or unicodedata.category(char) in ("Mn", "Me", "Mc")
            or 0xFE00 <= code <= 0xFE0F  # variation selectors
            or 0x1F3FB <= code <= 0x1F3FF  # skin tones
            or 0xE0020 <= code <= 0xE007F  # tag characters (flag sequences)
            or char == ZWJ or previous == ZWJ)


def _clusters(text: str) -> list[str]:
    """`text` split into user-perceived characters, closely enough for titles: base + marks, emoji
    sequences joined by ZWJ, modifiers and variation selectors, and regional-indicator pairs (flags)."""
    clusters: list[str] = []
    for char in text:
        if clusters and _joins_previous(char, clusters[-1][-1]):
            clusters[-1] += char
        elif clusters and _regional(char) and len(clusters[-1]) == 1 and _regional(clusters[-1]):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF
