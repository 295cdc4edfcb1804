"""Payments: starting a payment, applying what providers tell us exactly once, refunds, reconciliation.

Every notification, whether it came to a webhook or from a reconciliation
query, goes through `apply`: one consistent read of the order, then at most one
transaction that moves the order and writes the ledger markers that make a
replay impossible (models.py). The common cases cost two DynamoDB calls; a
duplicate costs one.

What a payment for an order means depends on the order as read:
- unpaid, amount and merchant ours: the order becomes PAID;
- already paid by this very transaction: a duplicate, acknowledged, nothing changes;
- cancelled, or paid by a different transaction: real money the shop must not
  keep. It is recorded and refunded in full, automatically; the order keeps its
  status and its stock is not taken again;
- amount different from the order's payable: not paid; an anomaly the merchant sees.
"""
from __future__ import annotations

import hashlib
import logging
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chalicelib.checkout import lifecycle, statuses
from chalicelib.checkout.models import OrderModel, RefundRecord
from chalicelib.checkout.orders import find_order, load_order
from chalicelib.checkout.views import OrderView, order_view
from chalicelib.core import clock, config, metrics
from chalicelib.core.db import commit_if_conditions_hold, condition_failed
from chalicelib.core.errors import Conflict, NotFound, ServiceUnavailable
from chalicelib.core.ids import new_id
from chalicelib.payments import providers
from chalicelib.payments.models import ANOMALIES, RECONCILE_SHARDS, LedgerEntry
from chalicelib.payments.providers import NotificationRejected, PaymentNotification, ProviderError

log = logging.getLogger("micromall.payments")

APPLY_ATTEMPTS = 3
RECONCILE_AFTER = timedelta(minutes=3)  # a notification normally arrives within seconds
RECONCILE_EVERY = timedelta(minutes=5)
RECONCILE_PAGE = 50


class Refused(Exception):
    """A genuine notification the mall will not apply; the provider is told so (and retries)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Applied:
    outcome: str  # PAID, DUPLICATE, LATE_REFUND, ANOMALY, REFUND_SETTLED, IGNORED
    order_id: str | None = None


# --- starting a payment --------------------------------------------------------------

def prepay(user_id: str, order_id: str, provider_name: str, payer_id: str) -> dict[str, str]:
    """The parameters the mini-program hands to `wx.requestPayment` for the buyer's unpaid order."""
    order = load_order(order_id, user_id=user_id)
    now = clock.now()
    if order.status != statuses.PENDING_PAYMENT or order.expires_at <= now:
        raise Conflict(f"order {order_id} is {order.status} and cannot be paid", code="ORDER_NOT_PAYABLE",
                       details={"status": order.status})
    provider = providers.provider(provider_name, deliver=_deliverer(provider_name))
    title = order.lines[0].title + (f" 等{len(order.lines)}件" if len(order.lines) > 1 else "")
    params = provider.prepay(providers.PrepayRequest(out_trade_no=order_id, description=title[:127],
                                                     amount=int(order.payable), payer_id=payer_id,
                                                     expires_at=order.expires_at))
    LedgerEntry(f"PREPAY#{order_id}", kind="PREPAY", order_id=order_id, provider=provider_name,
                amount=int(order.payable), checks=0, created_at=now, updated_at=now,
                reconcile_shard=_reconcile_shard(order_id), check_after=now + RECONCILE_AFTER).save()
    return params


# --- webhooks ------------------------------------------------------------------------

def handle_webhook(provider_name: str, headers: Mapping[str, str], raw_body: bytes) -> tuple[int, str, str]:
    """Verify, apply, and answer as the provider's contract says: (status, body, content type)."""
    provider = providers.provider(provider_name, deliver=_deliverer(provider_name))
    try:
        notification = provider.parse_notification(headers, raw_body)
    except NotificationRejected as exc:
        log.warning("%s notification rejected: %s", provider_name, exc)
        metrics.count("PaymentRejected", provider=provider_name)
        return provider.reject_reply(exc.reason, exc.message)
    try:
        apply(notification, provider)
    except Refused as exc:
        log.warning("%s notification %s refused: %s", provider_name, notification.event_id, exc.message)
        metrics.count("PaymentRejected", provider=provider_name)
        return provider.reject_reply(exc.code, exc.message)
    except Exception:  # noqa: BLE001 - the provider must get its failure shape and retry later
        log.exception("%s notification %s failed", provider_name, notification.event_id)
        return provider.reject_reply("INTERNAL", "temporary failure, retry later")
    return provider.accept_reply()


def _deliverer(provider_name: str) -> Callable[[dict[str, str], bytes], Any]:
    """Sandbox twins post their own notifications (refund results) to the mall's webhook, in process."""
    def deliver(headers: dict[str, str], raw_body: bytes) -> tuple[int, str, str]:
        return handle_webhook(provider_name, headers, raw_body)
    return deliver


def apply(notification: PaymentNotification, provider: providers.PaymentProvider) -> Applied:
    if notification.app_id not in (None, provider.app_id) or \
            notification.merchant_id not in (None, provider.merchant_id):
        _record_anomaly(notification, "MERCHANT_MISMATCH",
                        f"app {notification.app_id} / merchant {notification.merchant_id} are not this shop's")
        raise Refused("MERCHANT_MISMATCH", "not addressed to this merchant")
    if notification.kind == "REFUND":
        return _apply_refund(notification)
    if notification.status != "PAID":
        return Applied("IGNORED", notification.out_trade_no)  # only a payment changes anything
    return _apply_payment(notification)


# --- payments --------------------------------------------------------------------------

def _apply_payment(note: PaymentNotification) -> Applied:
    for _ in range(APPLY_ATTEMPTS):
        order = find_order(note.out_trade_no)
        if order is None:
            _record_anomaly(note, "UNKNOWN_ORDER", f"no order {note.out_trade_no}")
            raise Refused("UNKNOWN_ORDER", f"no order {note.out_trade_no}")
        if _already_handled(order, note):
            return Applied("DUPLICATE", order.order_id)
        if note.amount_total != int(order.payable):
            _record_anomaly(note, "AMOUNT_MISMATCH",
                            f"paid {note.amount_total} fen, order payable {int(order.payable)} fen")
            return Applied("ANOMALY", order.order_id)
        if order.status == statuses.PENDING_PAYMENT:
            if lifecycle.pay_order(order, provider=note.provider, transaction_id=note.transaction_id,
                                   amount=note.amount_total, paid_at=note.paid_at or clock.now(),
                                   also=_payment_markers(note)):
                return Applied("PAID", order.order_id)
        elif _refund_unwanted_payment(order, note):
            return Applied("LATE_REFUND", order.order_id)
        # The order moved between the read and the commit (the sweeper, the buyer, a duplicate): look again.
    raise ServiceUnavailable("the order is changing fast, retry shortly", code="BUSY")


def _already_handled(order: OrderModel, note: PaymentNotification) -> bool:
    if order.payment is not None and order.payment.transaction_id == note.transaction_id:
        return True
    return any(refund.out_refund_no == _late_refund_no(order.order_id, note) for refund in order.refunds or [])


def _payment_markers(note: PaymentNotification) -> Callable[[Any, OrderModel], None]:
    def writes(tx: Any, order: OrderModel) -> None:
        now = clock.now()
        _put_marker(tx, f"EVENT#{note.provider}#{note.event_id}", "EVENT", order.order_id, note, now)
        _put_marker(tx, f"TXN#{note.provider}#{note.transaction_id}", "TXN", order.order_id, note, now,
                    outcome="APPLIED")
        _put_marker(tx, f"PAID#{order.order_id}", "PAID", order.order_id, note, now)
        _stop_reconciling(tx, order.order_id, now)
    return writes


def _refund_unwanted_payment(order: OrderModel, note: PaymentNotification) -> bool:
    """Record a payment the order cannot take (cancelled, or paid by another transaction) and refund it.

    The refund is decided in the same transaction that records the payment, and
    its number derives from the transaction, so no replay can refund it twice.
    """
    now = clock.now()
    refund = RefundRecord(out_refund_no=_late_refund_no(order.order_id, note), amount=note.amount_total,
                          status="PROCESSING", reason=f"payment for a {order.status.lower()} order",
                          created_at=now, updated_at=now)

    def build(tx: Any) -> None:
        lifecycle.add_refund_to_order(tx, order, refund)
        _put_marker(tx, f"EVENT#{note.provider}#{note.event_id}", "EVENT", order.order_id, note, now)
        _put_marker(tx, f"TXN#{note.provider}#{note.transaction_id}", "TXN", order.order_id, note, now,
                    outcome="REFUNDED")
        _put_refund_entry(tx, order.order_id, note.provider, note.transaction_id, refund, now)

    if not commit_if_conditions_hold(build):
        return False
    log.warning("order %s: %s payment %s refunded in full (%s)", order.order_id, order.status,
                note.transaction_id, refund.out_refund_no)
    _submit_refund(order.order_id, note.provider, refund.out_refund_no, refund.amount, note.amount_total,
                   refund.reason)
    return True


def _late_refund_no(order_id: str, note: PaymentNotification) -> str:
    digest = hashlib.sha256(f"{note.provider}:{note.transaction_id}".encode()).hexdigest()[:12]
    return f"{order_id}-L{digest}"


# --- refunds -----------------------------------------------------------------------------

def buyer_refund_no(order_id: str) -> str:
    return f"{order_id}-R1"  # one buyer refund per order: retries of the approval reuse it


def approve_refund(order_id: str, *, actor: str) -> OrderView:
    """REFUND_REQUESTED -> REFUNDING, then ask the provider. Approving again re-asks with the same number."""
    for _ in range(APPLY_ATTEMPTS):
        order = load_order(order_id)
        if order.status in (statuses.REFUNDING, statuses.REFUNDED) and order.refund_request is not None \
                and order.refund_request.decision == "APPROVED":
            _resubmit_if_pending(order)
            return order_view(load_order(order_id))
        if order.status != statuses.REFUND_REQUESTED:
            raise Conflict(f"order {order_id} is {order.status}; no refund request waits",
                           code="INVALID_ORDER_STATUS", details={"status": order.status, "wanted": "REFUNDING"})
        now = clock.now()
        refund = RefundRecord(out_refund_no=buyer_refund_no(order_id), amount=int(order.payable), status="PROCESSING",
                              reason=order.refund_request.reason, created_at=now, updated_at=now)

        def ledger(tx: Any, order: OrderModel, refund: RefundRecord = refund) -> None:
            _put_refund_entry(tx, order.order_id, order.payment.provider, order.payment.transaction_id, refund, now)

        if lifecycle.approve_refund(order, refund, actor=actor, also=ledger):
            _submit_refund(order_id, order.payment.provider, refund.out_refund_no, refund.amount,
                           int(order.payment.amount), refund.reason)
            return order_view(load_order(order_id))
    raise ServiceUnavailable("the order is changing fast, retry shortly", code="BUSY")


def _resubmit_if_pending(order: OrderModel) -> None:
    for refund in order.refunds or []:
        if refund.status == "PROCESSING":
            _submit_refund(order.order_id, order.payment.provider, refund.out_refund_no, int(refund.amount),
                           int(order.payment.amount), refund.reason or "")


def _submit_refund(order_id: str, provider_name: str, out_refund_no: str, amount: int, total: int,
                   reason: str | None) -> None:
    """Ask the provider; a failure leaves the refund for reconciliation, which asks again with the same number."""
    provider = providers.provider(provider_name, deliver=_deliverer(provider_name))
    request = providers.RefundRequest(out_trade_no=order_id, out_refund_no=out_refund_no, refund_amount=amount,
                                      total_amount=total, reason=(reason or "")[:80])
    try:
        provider.refund(request)
    except ProviderError as exc:
        log.warning("refund %s not accepted yet (%s); reconciliation retries it", out_refund_no, exc)
        return
    # The sandbox may already have delivered the result; only mark what is still waiting.
    entry = LedgerEntry(f"REFUND#{out_refund_no}")
    try:
        entry.update(actions=[LedgerEntry.submitted.set(True), LedgerEntry.reconcile_shard.remove(),
                              LedgerEntry.check_after.remove(), LedgerEntry.updated_at.set(clock.now())],
                     condition=LedgerEntry.entry_key.exists())
    except Exception as exc:  # noqa: BLE001 - the refund is accepted; a lost marker only means one more retry
        log.warning("refund %s accepted but not marked submitted: %s", out_refund_no, exc)


def _apply_refund(note: PaymentNotification) -> Applied:
    for _ in range(APPLY_ATTEMPTS):
        order = find_order(note.out_trade_no)
        refund = next((r for r in (order.refunds or []) if r.out_refund_no == note.out_refund_no), None) \
            if order is not None else None
        if refund is None:
            _record_anomaly(note, "UNKNOWN_REFUND", f"no refund {note.out_refund_no} on order {note.out_trade_no}")
            raise Refused("UNKNOWN_REFUND", f"no refund {note.out_refund_no}")
        if refund.status == note.status or refund.status in ("SUCCESS", "CLOSED") or note.status == "PROCESSING":
            return Applied("DUPLICATE", order.order_id)  # already final, or nothing new to say
        if lifecycle.settle_refund(order, note.out_refund_no, note.status, refund_id=note.refund_id,
                                   also=_refund_markers(note)):
            if note.status != "SUCCESS":
                _record_anomaly(note, f"REFUND_{note.status}", f"refund {note.out_refund_no} ended {note.status}")
            return Applied("REFUND_SETTLED", order.order_id)
    raise ServiceUnavailable("the order is changing fast, retry shortly", code="BUSY")


def _refund_markers(note: PaymentNotification) -> Callable[[Any, OrderModel], None]:
    def writes(tx: Any, order: OrderModel) -> None:
        now = clock.now()
        _put_marker(tx, f"EVENT#{note.provider}#{note.event_id}", "EVENT", order.order_id, note, now)
        tx.update(LedgerEntry(f"REFUND#{note.out_refund_no}"),
                  actions=[LedgerEntry.status.set(note.status), LedgerEntry.submitted.set(True),
                           LedgerEntry.reconcile_shard.remove(), LedgerEntry.check_after.remove(),
                           LedgerEntry.updated_at.set(now)],
                  condition=LedgerEntry.status.is_in("PROCESSING", "ABNORMAL"))
    return writes


def reject_refund(order_id: str, *, reason: str, actor: str) -> OrderView:
    return lifecycle.reject_refund(order_id, reason=reason, actor=actor)


# --- reconciliation ----------------------------------------------------------------------

@dataclass
class ReconcileReport:
    checked: int = 0
    applied: int = 0
    refunds_resubmitted: int = 0


def reconcile(*, out_of_time: Callable[[], bool] = lambda: False) -> ReconcileReport:
    """Ask providers about prepaid orders whose notification never came, and retry unaccepted refunds."""
    report = ReconcileReport()
    now = clock.now()
    for shard in range(RECONCILE_SHARDS):
        if out_of_time():
            break
        due = LedgerEntry.reconcile.query(f"RECONCILE#{shard}", range_key_condition=LedgerEntry.check_after <= now,
                                          limit=RECONCILE_PAGE)
        for entry in due:
            if out_of_time():
                break
            report.checked += 1
            if entry.kind == "PREPAY":
                report.applied += _check_prepaid(entry, now)
            elif entry.kind == "REFUND":
                report.refunds_resubmitted += _retry_refund(entry)
    return report


def _check_prepaid(entry: LedgerEntry, now) -> int:
    order = find_order(entry.order_id)
    provider = providers.provider(entry.provider, deliver=_deliverer(entry.provider))
    if order is not None and order.payment is None:
        try:
            answer = provider.query(entry.order_id)
        except ProviderError as exc:
            log.warning("reconcile %s: provider query failed: %s", entry.order_id, exc)
            answer = None
        if answer is not None and answer.status == "PAID":
            outcome = apply(answer, provider)
            log.warning("reconcile %s: paid without a notification -> %s", entry.order_id, outcome.outcome)
            _finish_check(entry)
            return 1
        if order.status == statuses.PENDING_PAYMENT or order.expires_at > now:
            _reschedule(entry, now)  # the buyer may still pay
            return 0
    _finish_check(entry)
    return 0


def _retry_refund(entry: LedgerEntry) -> int:
    order = find_order(entry.order_id)
    refund = next((r for r in (order.refunds or []) if r.out_refund_no == entry.entry_key[len("REFUND#"):]), None) \
        if order is not None else None
    if refund is None or refund.status != "PROCESSING":
        _finish_check(entry)
        return 0
    _submit_refund(order.order_id, entry.provider, refund.out_refund_no, int(refund.amount), _trade_total(order, entry),
                   refund.reason)
    return 1


def _trade_total(order: OrderModel, entry: LedgerEntry) -> int:
    """What the refunded trade was for: the order's payment, or (a late payment) the refund is the whole trade."""
    if order.payment is not None and order.payment.transaction_id == entry.transaction_id:
        return int(order.payment.amount)
    return int(entry.amount)


def _reschedule(entry: LedgerEntry, now) -> None:
    entry.update(actions=[LedgerEntry.check_after.set(now + RECONCILE_EVERY), LedgerEntry.checks.add(1),
                          LedgerEntry.updated_at.set(now)])


def _finish_check(entry: LedgerEntry) -> None:
    entry.update(actions=[LedgerEntry.reconcile_shard.remove(), LedgerEntry.check_after.remove(),
                          LedgerEntry.updated_at.set(clock.now())])


# --- the ledger -------------------------------------------------------------------------

def _put_marker(tx: Any, key: str, kind: str, order_id: str, note: PaymentNotification, now, **more: Any) -> None:
    entry = LedgerEntry(key, kind=kind, order_id=order_id, provider=note.provider, transaction_id=note.transaction_id,
                        amount=note.amount_total, created_at=now, updated_at=now, **more)
    tx.save(entry, condition=LedgerEntry.entry_key.does_not_exist())


def _put_refund_entry(tx: Any, order_id: str, provider: str, transaction_id: str, refund: RefundRecord, now) -> None:
    entry = LedgerEntry(f"REFUND#{refund.out_refund_no}", kind="REFUND", order_id=order_id, provider=provider,
                        transaction_id=transaction_id, amount=int(refund.amount), status="PROCESSING",
                        reason=refund.reason, submitted=False, created_at=now, updated_at=now,
                        reconcile_shard=_reconcile_shard(order_id), check_after=now + RECONCILE_AFTER)
    tx.save(entry, condition=LedgerEntry.entry_key.does_not_exist())


def _stop_reconciling(tx: Any, order_id: str, now) -> None:
    """A paid order needs no more provider queries (an update: the prepay entry may not exist)."""
    tx.update(LedgerEntry(f"PREPAY#{order_id}"),
              actions=[LedgerEntry.reconcile_shard.remove(), LedgerEntry.check_after.remove(),
                       LedgerEntry.kind.set("PREPAY"), LedgerEntry.order_id.set(order_id),
                       LedgerEntry.created_at.set(LedgerEntry.created_at | now), LedgerEntry.updated_at.set(now)])


def _record_anomaly(note: PaymentNotification, code: str, detail: str) -> None:
    """Once per provider event: a replayed notification does not add a second row."""
    now = clock.now()
    entry = LedgerEntry(f"ANOMALY#{note.provider}#{note.event_id}#{code}", kind="ANOMALY",
                        order_id=note.out_trade_no, provider=note.provider, transaction_id=note.transaction_id,
                        amount=note.amount_total, outcome=code, detail=detail, created_at=now, updated_at=now,
                        anomaly_list=ANOMALIES, anomaly_id=new_id())
    try:
        entry.save(condition=LedgerEntry.entry_key.does_not_exist())
        log.error("payment anomaly %s on %s: %s", code, note.out_trade_no, detail)
    except Exception as exc:  # noqa: BLE001
        if not condition_failed(exc):
            raise


def anomalies(limit: int = 50) -> list[dict[str, Any]]:
    rows = LedgerEntry.anomalies.query(ANOMALIES, scan_index_forward=False, limit=limit)
    return [{"anomaly_id": row.anomaly_id, "code": row.outcome, "order_id": row.order_id, "provider": row.provider,
             "transaction_id": row.transaction_id, "amount": int(row.amount) if row.amount is not None else None,
             "detail": row.detail, "at": clock.iso(row.created_at)} for row in rows]


def _reconcile_shard(order_id: str) -> str:
    return f"RECONCILE#{zlib.crc32(order_id.encode('ascii')) % RECONCILE_SHARDS}"


# --- sandbox --------------------------------------------------------------------------

def sandbox_pay(user_id: str, order_id: str) -> OrderView:
    """Pay the buyer's order as WeChat Pay would: a signed, encrypted notification to our own webhook."""
    if not config.is_sandbox():
        raise NotFound("no such route", code="NOT_FOUND")
    order = load_order(order_id, user_id=user_id)
    if order.status != statuses.PENDING_PAYMENT:
        raise Conflict(f"order {order_id} is {order.status} and cannot be paid", code="ORDER_NOT_PAYABLE",
                       details={"status": order.status})
    from chalicelib.payments.providers import sandbox

    headers, body = sandbox.twin("wechat").build_payment_notification(order_id, int(order.payable),
                                                                      payer_openid=f"sandbox-{user_id}")
    status, reply, _ = handle_webhook("wechat", headers, body)
    if status >= 300:
        raise ServiceUnavailable(f"the sandbox payment was not accepted: {reply}", code="SANDBOX_PAYMENT_FAILED")
    return order_view(load_order(order_id))
