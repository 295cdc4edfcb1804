"""Reconciliation: asking providers about what never told us its outcome.

Two kinds of ledger entries wait on the sparse `reconcile` index until they are final:
- PREPAY: a trade the buyer was sent to pay; while its order may still be paid, the
  provider is asked whether it was (every `PREPAY_EVERY`), and a payment found is applied
  through the webhook's path;
- REFUND: a refund not final yet. The provider is asked about it (`query_refund`): a result
  is applied through the refunds' path; a refund the provider never received is submitted
  again under the same number; one still processing is looked at again later.

Each look first counts itself and pushes the entry's next look back (refunds: 3, 6, 12 ...
minutes, capped), so an entry that fails half-way has backed off all the same, and one
entry failing never stops the run. After the last allowed look an entry is given up:
a refund becomes FAILED (the merchant retries it), a prepaid trade an anomaly; both counted.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chalicelib.checkout.orders import find_order
from chalicelib.core import clock
from chalicelib.payments import ledger, refunds
from chalicelib.payments.models import RECONCILE_SHARDS, LedgerEntry
from chalicelib.payments.providers import ProviderError
from chalicelib.payments.webhooks import apply, provider_for

log = logging.getLogger("micromall.payments")

RECONCILE_PAGE = 50


@dataclass
class ReconcileReport:
    checked: int = 0
    applied: int = 0  # payments found without a notification
    refunds_resubmitted: int = 0
    refunds_settled: int = 0
    failed: int = 0  # looks that raised; their entries were backed off and the run went on
    gave_up: int = 0


def reconcile(*, out_of_time: Callable[[], bool] = lambda: False) -> ReconcileReport:
    report = ReconcileReport()
    now = clock.now()
    for shard in range(RECONCILE_SHARDS):
        if out_of_time():
            break
        due = list(LedgerEntry.reconcile.query(f"RECONCILE#{shard}", range_key_condition=LedgerEntry.check_after <= now,
                                               limit=RECONCILE_PAGE))
        for entry in due:
            if out_of_time():
                break
            report.checked += 1
            try:
                _look(entry, now, report)
            except Exception:  # noqa: BLE001 - one entry's failure must not stop the others; it backed off
                report.failed += 1
                log.exception("reconcile %s failed; looked at again later", entry.entry_key)
    return report


def _look(entry: LedgerEntry, now: datetime, report: ReconcileReport) -> None:
    looks = ledger.look_again_later(entry, now)
    if entry.kind == "PREPAY":
        _check_prepaid(entry, looks, now, report)
    elif entry.kind == "REFUND":
        _check_refund(entry, looks, report)
    else:
        ledger.stop_reconciling_entry(entry)


def _check_prepaid(entry: LedgerEntry, looks: int, now: datetime, report: ReconcileReport) -> None:
    """Ask the entry's provider about its trade until nothing more can happen to it: paid (and applied: as the
    order's payment, or returned as a second one), or not paid once the order's deadline, which is also the
    trade's (`time_expire`), has passed."""
    order = find_order(entry.order_id)
    if order is None or (order.payment is not None and order.payment.provider == entry.provider):
        ledger.stop_reconciling_entry(entry)
        return
    if looks > ledger.PREPAY_LOOKS:
        ledger.record_anomaly(provider=entry.provider, event_id=f"reconcile:{entry.order_id}", code="RECONCILE_GAVE_UP",
                              order_id=entry.order_id, detail=f"no answer about the trade after {looks - 1} looks")
        ledger.stop_reconciling_entry(entry, outcome="GAVE_UP")
        report.gave_up += 1
        return
    provider = provider_for(entry.provider)
    try:
        answer = provider.query(entry.order_id)
    except ProviderError as exc:
        log.warning("reconcile %s: provider query failed: %s", entry.order_id, exc)
        return
    if answer is not None and answer.status == "PAID":
        outcome = apply(answer, provider)
        log.warning("reconcile %s: paid at %s without a notification -> %s", entry.order_id, entry.provider,
                    outcome.outcome)
        ledger.stop_reconciling_entry(entry)
        report.applied += 1
        return
    if order.expires_at <= now:
        ledger.stop_reconciling_entry(entry)  # past its time_expire the provider takes no payment for it


def _check_refund(entry: LedgerEntry, looks: int, report: ReconcileReport) -> None:
    job = refunds.RefundJob.of(entry)
    order = find_order(entry.order_id)
    refund = next((r for r in (order.refunds or []) if r.out_refund_no == job.out_refund_no), None) \
        if order is not None else None
    if refund is None or refund.status != "PROCESSING" or entry.status != "PROCESSING":
        ledger.stop_reconciling_entry(entry)
        return
    if looks > ledger.REFUND_LOOKS:
        log.error("refund %s: still not final after %d looks; given up", job.out_refund_no, looks - 1)
        refunds.fail(job, f"no final answer after {looks - 1} looks", reason="GAVE_UP")
        report.gave_up += 1
        return
    try:
        known = provider_for(job.provider).query_refund(job.order_id, job.out_refund_no)
    except ProviderError as exc:
        log.warning("reconcile refund %s: provider query failed: %s", job.out_refund_no, exc)
        return
    if known is None:
        refunds.submit(job)  # never received (or lost on the way): the same number again
        report.refunds_resubmitted += 1
    elif known.status != "PROCESSING":
        refunds.apply_result(known)
        report.refunds_settled += 1
