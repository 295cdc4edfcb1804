"""Parsing WeChat Pay v3 transactions and refunds (decrypted notification resources, or query answers).

Every field is checked for its type; anything unusable is NotificationRejected(MALFORMED), so
the webhook refuses it and a query's caller turns it into a ProviderError.
"""
from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from chalicelib.core.money import check_fen
from chalicelib.payments.providers import REFUND_STATUSES, NotificationRejected, PaymentNotification

TRADE_STATES = {"SUCCESS": "PAID", "NOTPAY": "NOT_PAID", "USERPAYING": "NOT_PAID", "CLOSED": "CLOSED",
                "REVOKED": "CLOSED", "PAYERROR": "CLOSED", "REFUND": "REFUNDED_ELSEWHERE"}
EVENT_KINDS = {"TRANSACTION.SUCCESS": "PAYMENT", "REFUND.SUCCESS": "REFUND", "REFUND.ABNORMAL": "REFUND",
               "REFUND.CLOSED": "REFUND"}

def json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        raise NotificationRejected("MALFORMED", f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise NotificationRejected("MALFORMED", f"{what} is not a JSON object")
    return value


def envelope_of(raw_body: bytes) -> dict[str, Any]:
    envelope = json_object(raw_body, "the notification")
    if not isinstance(envelope.get("id"), str) or not envelope["id"]:
        raise NotificationRejected("MALFORMED", "notification without an id")
    if envelope.get("event_type") not in EVENT_KINDS:
        raise NotificationRejected("MALFORMED", f"unknown event_type {envelope.get('event_type')!r}")
    if envelope.get("resource_type") != "encrypt-resource" or not isinstance(envelope.get("resource"), dict):
        raise NotificationRejected("MALFORMED", "notification without an encrypted resource")
    return envelope


def parse_transaction(data: dict[str, Any], event_id: str) -> PaymentNotification:
    """A transaction (decrypted notification resource, or a query's answer)."""
    state = _text(data, "trade_state")
    status = TRADE_STATES.get(state)
    if status is None:
        raise NotificationRejected("MALFORMED", f"unknown trade_state {state!r}")
    paid = status == "PAID"
    return PaymentNotification(
        provider="wechat", event_id=event_id, kind="PAYMENT", out_trade_no=_text(data, "out_trade_no"),
        status=status, amount_total=_fen(data, "amount", "total", required=paid),
        transaction_id=_text(data, "transaction_id", required=paid),
        paid_at=_moment(_text(data, "success_time", required=False)), app_id=_text(data, "appid", required=False),
        merchant_id=_text(data, "mchid", required=False), payer_id=_text(data, "payer", "openid", required=False),
        raw=data)


def parse_refund(data: dict[str, Any], event_id: str) -> PaymentNotification:
    state = _text(data, "refund_status")
    if state not in REFUND_STATUSES:
        raise NotificationRejected("MALFORMED", f"unknown refund_status {state!r}")
    return PaymentNotification(
        provider="wechat", event_id=event_id, kind="REFUND", out_trade_no=_text(data, "out_trade_no"),
        status=state, amount_total=_fen(data, "amount", "total"),
        transaction_id=_text(data, "transaction_id", required=False),
        paid_at=_moment(_text(data, "success_time", required=False)),
        merchant_id=_text(data, "mchid", required=False), out_refund_no=_text(data, "out_refund_no"),
        refund_id=_text(data, "refund_id"), refund_amount=_fen(data, "amount", "refund"), raw=data)


def _field(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _text(data: dict[str, Any], *path: str, required: bool = True) -> str | None:
    value = _field(data, path)
    if value is None or value == "":
        if required:
            raise NotificationRejected("MALFORMED", f"missing {'.'.join(path)}")
        return None
    if not isinstance(value, str):
        raise NotificationRejected("MALFORMED", f"{'.'.join(path)} is not a string")
    return value


def _fen(data: dict[str, Any], *path: str, required: bool = True) -> int | None:
    value = _field(data, path)
    if value is None and not required:
        return None
    try:
        return check_fen(value)
    except ValueError:
        raise NotificationRejected("MALFORMED", f"{'.'.join(path)} is not an amount in fen: {value!r}") from None


def _moment(text: str | None) -> _dt.datetime | None:
    if text is None:
        return None
    try:
        moment = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise NotificationRejected("MALFORMED", f"not an RFC 3339 time: {text!r}") from None
    if moment.tzinfo is None:
        raise NotificationRejected("MALFORMED", f"time without a timezone: {text!r}")
    return moment
