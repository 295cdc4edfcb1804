"""Refunds: deciding them, asking the provider, and applying each result to the order exactly once.

A refund is decided in one transaction with the order change it belongs to (the
buyer's, approved; or money the order cannot take, returned), and a ledger entry
`REFUND#<out_refund_no>` that names the provider, the trade and its total. Then the
provider is asked. Whatever answers first settles it through `apply_result`: the
provider's notification, its synchronous answer (Alipay refunds at once; WeChat may
answer SUCCESS to a retry), or the reconciler's `query_refund`. The entry stays under
reconciliation until its status is final, so no refund is left waiting on a message
that never came.

Only the buyer's own refund (kind BUYER) moves the order: REFUNDING -> REFUNDED on
SUCCESS, REFUNDING -> REFUND_FAILED on CLOSED, ABNORMAL or FAILED (refused by the
provider, or given up after the reconciler's last look). The merchant retries a failed
refund under a new number (`<order>-R2`, ...); providers refund one number once, and
never more than the trade's total, so a retry cannot refund twice.
"""
from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.checkout import order_refunds, statuses
from chalicelib.checkout.order_refunds import BUYER_REFUND, REFUND_FAILURES, RETURN_REFUND, NewRefund
from chalicelib.checkout.orders import find_order, load_order
from chalicelib.checkout.views import OrderView, order_view
from chalicelib.core import clock, metrics
from chalicelib.core.db import until_committed
from chalicelib.core.errors import Conflict
from chalicelib.payments import ledger, providers
from chalicelib.payments.outcomes import Applied, Refused
from chalicelib.payments.providers import PaymentNotification, ProviderError

log = logging.getLogger("micromall.payments")

REASON_MAX = 80


@dataclass(frozen=True)
class RefundJob:
    """What to ask a provider for: everything comes from the refund's own ledger entry."""
    order_id: str
    out_refund_no: str
    provider: str
    amount: int
    total: int  # the refunded trade's total: the order's payment, or the whole returned payment
    reason: str | None

    @classmethod
    def of(cls, entry: Any) -> RefundJob:
        return cls(order_id=entry.order_id, out_refund_no=entry.entry_key[len("REFUND#"):], provider=entry.provider,
                   amount=int(entry.amount), total=int(entry.total if entry.total is not None else entry.amount),
                   reason=entry.reason)


def provider_for(name: str) -> providers.PaymentProvider:
    from chalicelib.payments.webhooks import provider_for as wired

    return wired(name)


# --- numbers -------------------------------------------------------------------------

def buyer_refund_no(order_id: str, attempt: int = 1) -> str:
    return f"{order_id}-R{attempt}"


def return_refund_no(order_id: str, note: PaymentNotification) -> str:
    """Derived from the provider's transaction, so no replay of the payment can return it twice."""
    digest = hashlib.sha256(f"{note.provider}:{note.transaction_id}".encode()).hexdigest()[:12]
    return f"{order_id}-L{digest}"


def next_refund_no(out_refund_no: str) -> str:
    """The number a retry of a failed refund is submitted under: R1 -> R2, L<digest> -> L<digest>-2 -> -3."""
    buyer = re.fullmatch(r"(.+-R)([0-9]+)", out_refund_no)
    if buyer:
        return f"{buyer[1]}{int(buyer[2]) + 1}"
    returned = re.fullmatch(r"(.+-L[0-9a-f]{12})-([0-9]+)", out_refund_no)
    if returned:
        return f"{returned[1]}-{int(returned[2]) + 1}"
    return f"{out_refund_no}-2"


# --- deciding ----------------------------------------------------------------------

def approve_refund(order_id: str, *, actor: str) -> OrderView:
    """REFUND_REQUESTED -> REFUNDING, then ask the provider. Approving again re-asks for what is still pending."""
    jobs: list[RefundJob] = []

    def attempt() -> bool | None:
        order = load_order(order_id)
        if order.status in (statuses.REFUNDING, statuses.REFUNDED, statuses.REFUND_FAILED) \
                and order.refund_request is not None and order.refund_request.decision == "APPROVED":
            jobs.extend(_pending_jobs(order))
            return True
        if order.status != statuses.REFUND_REQUESTED:
            raise Conflict(f"order {order_id} is {order.status}; no refund request waits",
                           code="INVALID_ORDER_STATUS", details={"status": order.status, "wanted": "REFUNDING"})
        refund = NewRefund(buyer_refund_no(order_id), int(order.payment.amount), order.refund_request.reason,
                           BUYER_REFUND)
        job = _job(order, refund, provider=order.payment.provider, total=int(order.payment.amount))
        if not order_refunds.approve_refund(order, refund, actor=actor,
                                        also=_entries([(job, order.payment.transaction_id, BUYER_REFUND)])):
            return None
        jobs.append(job)
        return True

    until_committed(attempt)
    for job in jobs:
        submit(job)
    return order_view(load_order(order_id))


def retry_refund(order_id: str, *, actor: str) -> OrderView:
    """Submit each failed refund of the order again under a new number: the buyer's (REFUND_FAILED -> REFUNDING)
    and any returned payment's. 409 when no failed refund waits."""
    jobs: list[RefundJob] = []

    def attempt() -> bool | None:
        order = load_order(order_id)
        retries = _retries(order)
        if not retries:
            raise Conflict(f"order {order_id} is {order.status}; no failed refund waits for a retry",
                           code="INVALID_ORDER_STATUS", details={"status": order.status, "wanted": "REFUNDING"})
        planned = []
        for failed, refund in retries:
            entry = ledger.refund_entry(failed.out_refund_no)
            provider = entry.provider if entry is not None else order.payment.provider
            total = int(entry.total) if entry is not None and entry.total is not None else int(failed.amount)
            transaction_id = entry.transaction_id if entry is not None else None
            planned.append((_job(order, refund, provider=provider, total=total), transaction_id, refund.kind))
        if not order_refunds.retry_refunds(order, [refund for _, refund in retries], also=_entries(planned)):
            return None
        log.warning("order %s: %d failed refunds retried by %s", order_id, len(planned), actor)
        jobs.extend(job for job, _, _ in planned)
        return True

    until_committed(attempt)
    for job in jobs:
        submit(job)
    return order_view(load_order(order_id))


def refund_failed_group_order(order_id: str) -> bool:
    """A paid group-buy order whose group failed: AWAITING_GROUP -> REFUNDING with the buyer's own refund
    (`<order_id>-R1`, the whole payment, at the provider that was paid), then asked of the provider. False when
    the order is not waiting for its group (refunded already: a second run or a redelivered event does nothing)."""
    from chalicelib.checkout.group_orders import GROUP_FAILED_REASON, refund_group_order

    jobs: list[RefundJob] = []

    def attempt() -> bool | None:
        order = load_order(order_id)
        if order.status != statuses.AWAITING_GROUP:
            return False
        refund = NewRefund(buyer_refund_no(order_id), int(order.payment.amount), GROUP_FAILED_REASON, BUYER_REFUND)
        job = _job(order, refund, provider=order.payment.provider, total=int(order.payment.amount))
        if not refund_group_order(order, refund,
                                  also=_entries([(job, order.payment.transaction_id, BUYER_REFUND)])):
            return None
        jobs.append(job)
        return True

    decided = until_committed(attempt)
    for job in jobs:
        submit(job)
    return decided


def _retries(order: Any) -> list[tuple[Any, NewRefund]]:
    """Failed refunds not yet replaced, each with its replacement; the buyer's only while the order waits for it."""
    numbers = {refund.out_refund_no for refund in order.refunds or []}
    retries = []
    for refund in order.refunds or []:
        replacement = next_refund_no(refund.out_refund_no)
        if refund.status not in REFUND_FAILURES or replacement in numbers:
            continue
        buyers = order_refunds.is_buyer_refund(order, refund)
        if buyers and order.status != statuses.REFUND_FAILED:
            continue
        retries.append((refund, NewRefund(replacement, int(refund.amount), refund.reason,
                                          BUYER_REFUND if buyers else RETURN_REFUND)))
    return retries


def return_payment(order: Any, note: PaymentNotification, why: str) -> bool:
    """Record a payment the order cannot take (cancelled, paid by another transaction, wrong amount) and refund
    it in full. The refund is decided in the same transaction that records the payment; False when the order
    changed since it was read."""
    now = clock.now()
    refund = NewRefund(return_refund_no(order.order_id, note), int(note.amount_total), why, RETURN_REFUND)
    job = _job(order, refund, provider=note.provider, total=int(note.amount_total))
    entries = _entries([(job, note.transaction_id, RETURN_REFUND)])

    def writes(tx: Any, order: Any) -> None:
        ledger.put_marker(tx, f"EVENT#{note.provider}#{note.event_id}", "EVENT", order.order_id, note, now)
        ledger.put_marker(tx, f"TXN#{note.provider}#{note.transaction_id}", "TXN", order.order_id, note, now,
                          outcome="REFUNDED")
        entries(tx, order)

    if not order_refunds.record_refund(order, refund, also=writes):
        return False
    log.warning("order %s (%s): payment %s returned in full as %s: %s", order.order_id, order.status,
                note.transaction_id, refund.out_refund_no, why)
    submit(job)
    return True


def _job(order: Any, refund: NewRefund, *, provider: str, total: int) -> RefundJob:
    return RefundJob(order_id=order.order_id, out_refund_no=refund.out_refund_no, provider=provider,
                     amount=refund.amount, total=total, reason=refund.reason)


def _entries(planned: list[tuple[RefundJob, str | None, str]]) -> Callable[[Any, Any], None]:
    def writes(tx: Any, order: Any) -> None:
        now = clock.now()
        for job, transaction_id, purpose in planned:
            ledger.put_refund_entry(tx, order_id=job.order_id, provider=job.provider, transaction_id=transaction_id,
                                    out_refund_no=job.out_refund_no, amount=job.amount, total=job.total,
                                    reason=job.reason, purpose=purpose, now=now)
    return writes


def _pending_jobs(order: Any) -> list[RefundJob]:
    jobs = []
    for refund in order.refunds or []:
        entry = ledger.refund_entry(refund.out_refund_no) if refund.status == "PROCESSING" else None
        if entry is not None:
            jobs.append(RefundJob.of(entry))
    return jobs


# --- asking the provider -------------------------------------------------------------

def submit(job: RefundJob) -> None:
    """Ask the job's own provider, for the job's own trade total. A refusal the same request cannot overcome
    fails the refund at once; anything else is left to the reconciler, which queries before it asks again."""
    request = providers.RefundRequest(out_trade_no=job.order_id, out_refund_no=job.out_refund_no,
                                      refund_amount=job.amount, total_amount=job.total,
                                      reason=(job.reason or "")[:REASON_MAX])
    try:
        accepted = provider_for(job.provider).refund(request)
    except ProviderError as exc:
        if exc.retryable:
            log.warning("refund %s not accepted yet (%s); the reconciler asks again", job.out_refund_no, exc)
            return
        log.error("refund %s refused by %s: %s", job.out_refund_no, job.provider, exc)
        fail(job, f"refused: {exc.provider_code or exc}")
        return
    ledger.mark_submitted(job.out_refund_no)
    if accepted.status != "PROCESSING":  # settled synchronously (Alipay; a retried WeChat refund)
        apply_result(_answer(job, accepted.status, accepted.refund_id, f"answer:{job.out_refund_no}"))


def fail(job: RefundJob, why: str, *, reason: str = "REFUSED") -> Applied:
    """The refund will not happen as submitted: FAILED, shown to the merchant, who may retry it."""
    return apply_result(_answer(job, "FAILED", None, f"failed:{job.out_refund_no}"), metric_reason=reason,
                        detail=why)


def _answer(job: RefundJob, status: str, refund_id: str | None, event_id: str) -> PaymentNotification:
    return PaymentNotification(provider=job.provider, event_id=f"{event_id}:{status}", kind="REFUND",
                               out_trade_no=job.order_id, status=status, amount_total=job.total,
                               out_refund_no=job.out_refund_no, refund_id=refund_id, refund_amount=job.amount)


# --- applying a result -------------------------------------------------------------

def apply_result(note: PaymentNotification, *, metric_reason: str | None = None, detail: str | None = None) -> Applied:
    """A refund's status from any source onto the order and the ledger, once."""
    def attempt() -> Applied | None:
        order = find_order(note.out_trade_no)
        refund = next((r for r in (order.refunds or []) if r.out_refund_no == note.out_refund_no), None) \
            if order is not None else None
        if refund is None:
            ledger.note_anomaly(note, "UNKNOWN_REFUND", f"no refund {note.out_refund_no} on order {note.out_trade_no}")
            raise Refused("UNKNOWN_REFUND", f"no refund {note.out_refund_no}")
        mismatch = _amount_mismatch(order, refund, note)
        if mismatch:
            ledger.note_anomaly(note, "REFUND_AMOUNT_MISMATCH", mismatch)
            raise Refused("AMOUNT_MISMATCH", mismatch)
        if not _changes_anything(refund.status, note.status):
            return Applied("DUPLICATE", order.order_id)
        if not order_refunds.settle_refund(order, note.out_refund_no, note.status, refund_id=note.refund_id,
                                       also=_result_markers(note)):
            return None
        _after_settling(note, metric_reason, detail)
        return Applied("REFUND_SETTLED", order.order_id)

    return until_committed(attempt)


def _changes_anything(current: str, reported: str) -> bool:
    if reported == "PROCESSING" or reported == current or current in ("SUCCESS", "CLOSED"):
        return False
    return reported == "SUCCESS" or current == "PROCESSING"  # after a failure, only a late success is news


def _amount_mismatch(order: Any, refund: Any, note: PaymentNotification) -> str | None:
    """What is wrong with the amounts a refund result names, or None. Alipay's refund_fee is the trade's total
    refunded so far, so it covers this refund; WeChat's is this refund's."""
    total = int(refund.amount) if not order_refunds.is_buyer_refund(order, refund) or order.payment is None \
        else int(order.payment.amount)
    if note.amount_total is not None and note.amount_total != total:
        return f"refund {note.out_refund_no} names a trade of {note.amount_total} fen, the trade is {total} fen"
    if note.refund_amount is None:
        return None
    if note.provider == "alipay":
        if not int(refund.amount) <= note.refund_amount <= total:
            return f"Alipay refunded {note.refund_amount} fen in all, refund {note.out_refund_no} is {refund.amount}"
    elif note.refund_amount != int(refund.amount):
        return f"refund {note.out_refund_no} of {note.refund_amount} fen, the mall asked for {refund.amount}"
    return None


def _result_markers(note: PaymentNotification) -> Callable[[Any, Any], None]:
    def writes(tx: Any, order: Any) -> None:
        now = clock.now()
        ledger.put_marker(tx, f"EVENT#{note.provider}#{note.event_id}", "EVENT", order.order_id, note, now)
        ledger.settle_refund_entry(tx, note.out_refund_no, note.status, now)
    return writes


def _after_settling(note: PaymentNotification, metric_reason: str | None, detail: str | None) -> None:
    if note.status == "SUCCESS":
        metrics.count("RefundIssued", provider=note.provider)
        return
    ledger.note_anomaly(note, f"REFUND_{note.status}",
                        detail or f"refund {note.out_refund_no} ended {note.status}; the merchant may retry it")
    metrics.count("RefundFailed", provider=note.provider, reason=metric_reason or note.status)
