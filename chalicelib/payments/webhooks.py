"""Applying what providers tell us, exactly once: the webhooks, and the same path for the reconciler's answers.

Every notification, whether it came to a webhook or from a reconciliation query,
goes through `apply`: one consistent read of the order, then at most one transaction
that moves the order and writes the ledger markers that make a replay impossible
(models.py). The common cases cost two DynamoDB calls; a duplicate costs one.

What a payment for an order means depends on the order as read:
- unpaid, amount and merchant ours: the order becomes PAID;
- already paid by this very transaction: a duplicate, acknowledged, nothing changes;
- cancelled, or paid by a different transaction, or for an amount other than the
  order's payable, or a group-buy order whose group can no longer take it: real
  money the shop must not keep. It is recorded, shown as an
  anomaly when the amount is wrong, and returned in full, automatically; the order
  keeps its status and its stock is not taken again.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.checkout import lifecycle, statuses
from chalicelib.checkout.group_orders import PaymentCannotCount
from chalicelib.checkout.orders import find_order
from chalicelib.core import clock, metrics
from chalicelib.core.db import until_committed
from chalicelib.payments import ledger, providers, refunds
from chalicelib.payments.outcomes import Applied, Refused
from chalicelib.payments.providers import NotificationRejected, PaymentNotification
from chalicelib.payments.wiring import provider_for

log = logging.getLogger("micromall.payments")

CURRENCY = "CNY"


def handle_webhook(provider_name: str, headers: Mapping[str, str], raw_body: bytes) -> tuple[int, str, str]:
    """Verify, apply, and answer as the provider's contract says: (status, body, content type)."""
    provider = provider_for(provider_name)
    try:
        notification = provider.parse_notification(headers, raw_body)
    except NotificationRejected as exc:
        log.warning("%s notification rejected: %s", provider_name, exc)
        metrics.count("PaymentRejected", provider=provider_name, reason=exc.reason)
        return provider.reject_reply(exc.reason, exc.message)
    try:
        apply(notification, provider)
    except Refused as exc:
        log.warning("%s notification %s refused: %s", provider_name, notification.event_id, exc.message)
        metrics.count("PaymentRejected", provider=provider_name, reason=exc.code)
        return provider.reject_reply(exc.code, exc.message)
    except Exception:  # noqa: BLE001 - the provider must get its failure shape and retry later
        log.exception("%s notification %s failed", provider_name, notification.event_id)
        return provider.reject_reply("INTERNAL", "temporary failure, retry later")
    return provider.accept_reply()


def apply(notification: PaymentNotification, provider: providers.PaymentProvider) -> Applied:
    wrong = _not_ours(notification, provider)
    if wrong:
        ledger.note_anomaly(notification, "MERCHANT_MISMATCH", wrong)
        raise Refused("MERCHANT_MISMATCH", "not addressed to this merchant")
    if notification.kind == "REFUND":
        return refunds.apply_result(notification)
    if notification.status != "PAID":
        return Applied("IGNORED", notification.out_trade_no)  # only a payment changes anything
    currency = _currency(notification)
    if currency != CURRENCY:
        ledger.note_anomaly(notification, "CURRENCY_MISMATCH", f"paid in {currency}, the shop sells in {CURRENCY}")
        raise Refused("CURRENCY_MISMATCH", f"currency {currency} is not {CURRENCY}")
    return _apply_payment(notification)


def _not_ours(note: PaymentNotification, provider: providers.PaymentProvider) -> str | None:
    """Why a genuine message is not addressed to this shop, or None. A missing app or merchant id is refused
    like a wrong one: a signature proves who sent it, not whom it was for. WeChat's refund resources name the
    merchant only; its payments name the app paid in, the mini-program's or the official account's."""
    app_needed = not (note.provider == "wechat" and note.kind == "REFUND")
    if app_needed and note.app_id not in provider.app_ids:
        return f"app {note.app_id} is not this shop's"
    if note.merchant_id != provider.merchant_id:
        return f"merchant {note.merchant_id} is not this shop's"
    return None


def _currency(note: PaymentNotification) -> str:
    """WeChat names the currency in `amount.currency`; Alipay charges CNY unless it names `trans_currency`."""
    if note.provider == "wechat":
        amount = note.raw.get("amount") if isinstance(note.raw, dict) else None
        return str(amount.get("currency")) if isinstance(amount, dict) else "None"
    return str(note.raw.get("trans_currency") or CURRENCY) if isinstance(note.raw, dict) else CURRENCY


def _apply_payment(note: PaymentNotification) -> Applied:
    def attempt() -> Applied | None:
        order = find_order(note.out_trade_no)
        if order is None:
            ledger.note_anomaly(note, "UNKNOWN_ORDER", f"no order {note.out_trade_no}")
            raise Refused("UNKNOWN_ORDER", f"no order {note.out_trade_no}")
        if _already_handled(order, note):
            return Applied("DUPLICATE", order.order_id)
        if note.amount_total != int(order.payable):
            ledger.note_anomaly(note, "AMOUNT_MISMATCH",
                                f"paid {note.amount_total} fen, order payable {int(order.payable)} fen; returned")
            why = f"paid {note.amount_total} fen for an order of {int(order.payable)} fen"
            return Applied("ANOMALY_REFUNDED", order.order_id) if refunds.return_payment(order, note, why) else None
        if order.status == statuses.PENDING_PAYMENT:
            try:
                paid = lifecycle.pay_order(order, provider=note.provider, transaction_id=note.transaction_id,
                                           amount=note.amount_total, paid_at=note.paid_at or clock.now(),
                                           also=_payment_markers(note))
            except PaymentCannotCount as refusal:  # a group-buy order whose group failed, expired or filled
                return Applied("GROUP_REFUNDED", order.order_id) if refunds.return_payment(order, note,
                                                                                           refusal.why) else None
            return Applied("PAID", order.order_id) if paid else None
        if refunds.return_payment(order, note, f"payment for a {order.status.lower()} order"):
            return Applied("LATE_REFUND", order.order_id)
        return None  # the order moved between the read and the commit (sweeper, buyer, a duplicate): look again

    return until_committed(attempt)


def _already_handled(order: Any, note: PaymentNotification) -> bool:
    if order.payment is not None and order.payment.transaction_id == note.transaction_id:
        return True
    returned = refunds.return_refund_no(order.order_id, note)
    return any(refund.out_refund_no == returned for refund in order.refunds or [])


def _payment_markers(note: PaymentNotification) -> Callable[[Any, Any], None]:
    def writes(tx: Any, order: Any) -> None:
        now = clock.now()
        ledger.put_marker(tx, f"EVENT#{note.provider}#{note.event_id}", "EVENT", order.order_id, note, now)
        ledger.put_marker(tx, f"TXN#{note.provider}#{note.transaction_id}", "TXN", order.order_id, note, now,
                          outcome="APPLIED")
        ledger.put_marker(tx, f"PAID#{order.order_id}", "PAID", order.order_id, note, now)
        ledger.stop_reconciling(tx, order.order_id, note.provider, now)
    return writes
