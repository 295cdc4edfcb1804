"""Alipay's signing rules and the shapes it signs: the mall's client and the sandbox twin both use them.

A notification is a UTF-8 `application/x-www-form-urlencoded` POST. It is verified by
parsing the form (values URL-decoded, `+` a space), dropping `sign` and `sign_type`,
sorting the rest by key and joining `k=v` with `&`, unescaped, then checking the base64
`sign` as SHA256withRSA (PKCS#1 v1.5) with Alipay's public key.

Empty values are KEPT in the verified string. Alipay signs exactly what it sends, so a
field it sends empty is part of what it signed; Alipay's own Java SDK
(`AlipaySignature.getSignCheckContentV2`, the notification check) and python-alipay-sdk
keep them, and dropping them would reject every notification that carries one. Dropping
empty values is Alipay's rule for signing *requests*; the mall never sends an empty
parameter, so its requests sign the same under either rule.

Answers of the gateway are verified too: the signature covers the raw text of the
`<method>_response` object (`signed_answer` finds it). Times are Beijing time without an offset.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from chalicelib.payments.providers import BEIJING, NotificationRejected

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def signing_content(fields: Mapping[str, str]) -> str:
    return "&".join(f"{key}={fields[key]}" for key in sorted(fields))


def notification_content(fields: Mapping[str, str]) -> str:
    """What Alipay signed in a notification: every field but sign and sign_type, empty ones kept."""
    return signing_content({k: v for k, v in fields.items() if k not in ("sign", "sign_type")})


def request_content(params: Mapping[str, str]) -> str:
    """What an app signs in a request: every non-empty parameter but sign (sign_type included)."""
    return signing_content({k: v for k, v in params.items() if k != "sign" and v != ""})


def beijing_time(moment: _dt.datetime) -> str:
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


def parse_form(raw_body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(raw_body.decode("utf-8"), keep_blank_values=True, strict_parsing=True,
                          encoding="utf-8", errors="strict")
    except ValueError:  # UnicodeDecodeError included
        raise NotificationRejected("MALFORMED", "the body is not a UTF-8 form") from None
    fields = dict(pairs)
    if not fields or "" in fields:
        raise NotificationRejected("MALFORMED", "the form is empty or has a field without a name")
    if len(fields) != len(pairs):
        raise NotificationRejected("MALFORMED", "a field appears twice")  # which one did Alipay sign?
    return fields


def signed_answer(text: str, key: str) -> tuple[dict[str, Any], str] | None:
    """The `key` object of a gateway answer and its exact source text, which is what Alipay signed."""
    match = re.search(rf'"{re.escape(key)}"\s*:\s*', text)
    if match is None:
        return None
    try:
        value, end = json.JSONDecoder().raw_decode(text, match.end())
    except ValueError:
        return None
    return (value, text[match.end():end]) if isinstance(value, dict) else None
