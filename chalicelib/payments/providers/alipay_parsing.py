"""Reading Alipay's fields: a verified notification, or the trade or refund a gateway answer describes.

Amounts are yuan strings with two decimals at this edge and int fen everywhere else
(`core.money.yuan_to_fen`, exact, refusing junk); times are Beijing time without an offset.
Anything unusable is NotificationRejected(MALFORMED), so the webhook refuses it and a
query's caller turns it into a ProviderError.
"""
from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from typing import Any

from chalicelib.core.money import yuan_to_fen
from chalicelib.payments.providers import BEIJING, NotificationRejected, PaymentNotification

TRADE_STATUSES = {"WAIT_BUYER_PAY": "NOT_PAID", "TRADE_SUCCESS": "PAID", "TRADE_FINISHED": "PAID",
                  "TRADE_CLOSED": "CLOSED"}
_ALIPAY_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?")


def parse_fields(fields: dict[str, str]) -> PaymentNotification:
    """A verified notification: a payment's, or a refund's (it carries out_biz_no / gmt_refund)."""
    common = dict(provider="alipay", event_id=required_text(fields, "notify_id"),
                  out_trade_no=required_text(fields, "out_trade_no"), amount_total=yuan(fields, "total_amount"),
                  transaction_id=optional_text(fields, "trade_no"), app_id=required_text(fields, "app_id"),
                  merchant_id=optional_text(fields, "seller_id"), payer_id=optional_text(fields, "buyer_id"),
                  raw=fields)
    status = trade_status(fields)
    if optional_text(fields, "out_biz_no") or optional_text(fields, "gmt_refund"):
        # Alipay notifies a refund only once it is done; refund_fee is the trade's total refunded so far.
        return PaymentNotification(kind="REFUND", status="SUCCESS",
                                   paid_at=alipay_time(optional_text(fields, "gmt_refund")),
                                   out_refund_no=optional_text(fields, "out_biz_no"),
                                   refund_amount=yuan(fields, "refund_fee", required=False), **common)
    return PaymentNotification(kind="PAYMENT", status=status,
                               paid_at=alipay_time(optional_text(fields, "gmt_payment")), **common)


def trade_status(fields: Mapping[str, Any]) -> str:
    """The mall's payment status for Alipay's `trade_status`."""
    alipay_status = required_text(fields, "trade_status")
    status = TRADE_STATUSES.get(alipay_status)
    if status is None:
        raise NotificationRejected("MALFORMED", f"unknown trade_status {alipay_status!r}")
    return status


def optional_text(fields: Mapping[str, Any], name: str) -> str | None:
    """The field's text; None when it is absent or empty (Alipay sends empty for unset)."""
    value = fields.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise NotificationRejected("MALFORMED", f"{name} is not a string")
    return value


def required_text(fields: Mapping[str, Any], name: str) -> str:
    value = optional_text(fields, name)
    if value is None:
        raise NotificationRejected("MALFORMED", f"missing {name}")
    return value


def yuan(fields: Mapping[str, Any], name: str, *, required: bool = True) -> int | None:
    """A yuan amount field in int fen."""
    text = required_text(fields, name) if required else optional_text(fields, name)
    if text is None:
        return None
    try:
        return yuan_to_fen(text)
    except ValueError:
        raise NotificationRejected("MALFORMED", f"{name} is not a yuan amount: {text!r}") from None


def alipay_time(text: str | None) -> _dt.datetime | None:
    """An Alipay time (Beijing, no offset) as an aware datetime."""
    if text is None:
        return None
    if not _ALIPAY_TIME.fullmatch(text):
        raise NotificationRejected("MALFORMED", f"not an Alipay time: {text!r}")
    try:
        return _dt.datetime.fromisoformat(text).replace(tzinfo=BEIJING)
    except ValueError:
        raise NotificationRejected("MALFORMED", f"not an Alipay time: {text!r}") from None
