"""Writing the payments ledger (models.py): markers, refund entries, anomalies, and when to look again.

Markers are added to the transaction that makes the change they stand for, with
`attribute_not_exists`, so a replay cancels there. Entries the reconciler must
visit carry `reconcile_shard` + `check_after` (a sparse index) until they are final.
"""
from __future__ import annotations

import logging
import zlib
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core import clock, metrics
from chalicelib.core.db import condition_failed, get_or_none
from chalicelib.core.ids import new_id
from chalicelib.payments.models import ANOMALIES, RECONCILE_SHARDS, LedgerEntry
from chalicelib.payments.providers import PaymentNotification

log = logging.getLogger("micromall.payments")

RECONCILE_AFTER = timedelta(minutes=3)  # a notification normally arrives within seconds
PREPAY_EVERY = timedelta(minutes=5)  # an unpaid trade is asked about at this pace while the buyer may pay
BACKOFF_CAP = timedelta(hours=6)
# Refund looks: 3, 6, 12 ... minutes, then every 6 hours; 12 looks span about 2 days, beyond the providers'
# own notification retries (about 24 h), after which a refund still not final is given up and shown.
REFUND_LOOKS = 12
PREPAY_LOOKS = 24  # 2 hours at PREPAY_EVERY: an order's payment window is 15 minutes by default


def refund_delay(looks: int) -> timedelta:
    """How long after look number `looks` (1, 2, ...) a refund is looked at again: doubling, capped."""
    return min(RECONCILE_AFTER * 2 ** max(looks - 1, 0), BACKOFF_CAP)


def prepay_key(order_id: str, provider: str) -> str:
    """One entry per provider a trade was opened with: a buyer may open both cashiers and pay both."""
    return f"PREPAY#{order_id}#{provider}"


def reconcile_shard(order_id: str) -> str:
    return f"RECONCILE#{zlib.crc32(order_id.encode('ascii')) % RECONCILE_SHARDS}"


def put_marker(tx: Any, key: str, kind: str, order_id: str, note: PaymentNotification, now: datetime,
               **more: Any) -> None:
    entry = LedgerEntry(key, kind=kind, order_id=order_id, provider=note.provider, transaction_id=note.transaction_id,
                        amount=note.amount_total, created_at=now, updated_at=now, **more)
    tx.save(entry, condition=LedgerEntry.entry_key.does_not_exist())


def put_refund_entry(tx: Any, *, order_id: str, provider: str, transaction_id: str | None, out_refund_no: str,
                     amount: int, total: int, reason: str | None, purpose: str, now: datetime) -> None:
    """A refund decided: what to ask which provider for, under reconciliation until it is final."""
    entry = LedgerEntry(f"REFUND#{out_refund_no}", kind="REFUND", order_id=order_id, provider=provider,
                        transaction_id=transaction_id, amount=amount, total=total, purpose=purpose,
                        status="PROCESSING", reason=reason, submitted=False, checks=0, created_at=now,
                        updated_at=now, reconcile_shard=reconcile_shard(order_id), check_after=now + RECONCILE_AFTER)
    tx.save(entry, condition=LedgerEntry.entry_key.does_not_exist())


def refund_entry(out_refund_no: str) -> LedgerEntry | None:
    return get_or_none(LedgerEntry, f"REFUND#{out_refund_no}")


def settle_refund_entry(tx: Any, out_refund_no: str, status: str, now: datetime) -> None:
    """A refund's final status; out of reconciliation. Only a SUCCESS may follow a failure (an ABNORMAL refund
    the merchant completes in the provider's console); a CLOSED or SUCCESS refund is final."""
    allowed_from = ("PROCESSING", "ABNORMAL", "FAILED") if status == "SUCCESS" else ("PROCESSING",)
    tx.update(LedgerEntry(f"REFUND#{out_refund_no}"),
              actions=[LedgerEntry.status.set(status), LedgerEntry.reconcile_shard.remove(),
                       LedgerEntry.check_after.remove(), LedgerEntry.updated_at.set(now)],
              condition=LedgerEntry.status.is_in(*allowed_from))


def mark_submitted(out_refund_no: str) -> None:
    """The provider accepted the refund; it stays under reconciliation (queried) until its result is known."""
    try:
        LedgerEntry(f"REFUND#{out_refund_no}").update(
            actions=[LedgerEntry.submitted.set(True), LedgerEntry.updated_at.set(clock.now())],
            condition=LedgerEntry.status == "PROCESSING")
    except Exception as exc:  # noqa: BLE001 - settled meanwhile (the result overtook the answer), or lost: harmless
        if not condition_failed(exc):
            log.warning("refund %s accepted but not marked submitted: %s", out_refund_no, exc)


def look_again_later(entry: LedgerEntry, now: datetime) -> int:
    """Count one more reconciler look at `entry` and push its next one back; returns the looks made so far.

    Done before the look itself, so a look that fails half-way has backed off all the same.
    """
    looks = int(entry.checks or 0) + 1
    delay = refund_delay(looks) if entry.kind == "REFUND" else PREPAY_EVERY
    entry.update(actions=[LedgerEntry.checks.set(looks), LedgerEntry.check_after.set(now + delay),
                          LedgerEntry.updated_at.set(now)])
    return looks


def stop_reconciling_entry(entry: LedgerEntry, *, outcome: str | None = None) -> None:
    actions = [LedgerEntry.reconcile_shard.remove(), LedgerEntry.check_after.remove(),
               LedgerEntry.updated_at.set(clock.now())]
    if outcome is not None:
        actions.append(LedgerEntry.outcome.set(outcome))
    entry.update(actions=actions)


def stop_reconciling(tx: Any, order_id: str, provider: str, now: datetime) -> None:
    """The trade paid at `provider` needs no more queries (an update: the prepay entry may not exist). The other
    provider's trade, if the buyer opened one, is still asked about: a second payment there is returned."""
    tx.update(LedgerEntry(prepay_key(order_id, provider)),
              actions=[LedgerEntry.reconcile_shard.remove(), LedgerEntry.check_after.remove(),
                       LedgerEntry.kind.set("PREPAY"), LedgerEntry.order_id.set(order_id),
                       LedgerEntry.provider.set(provider),
                       LedgerEntry.created_at.set(LedgerEntry.created_at | now), LedgerEntry.updated_at.set(now)])


def record_anomaly(*, provider: str, event_id: str, code: str, order_id: str | None, detail: str,
                   transaction_id: str | None = None, amount: int | None = None) -> None:
    """Once per provider event and code: a replayed notification does not add a second row."""
    now = clock.now()
    entry = LedgerEntry(f"ANOMALY#{provider}#{event_id}#{code}", kind="ANOMALY", order_id=order_id,
                        provider=provider, transaction_id=transaction_id, amount=amount, outcome=code, detail=detail,
                        created_at=now, updated_at=now, anomaly_list=ANOMALIES, anomaly_id=new_id())
    try:
        entry.save(condition=LedgerEntry.entry_key.does_not_exist())
    except Exception as exc:  # noqa: BLE001
        if not condition_failed(exc):
            raise
        stored = get_or_none(LedgerEntry, entry.entry_key)
        if stored is None or stored.anomaly_id != entry.anomaly_id:
            return  # recorded by an earlier delivery of the event
        # else this very save committed: its reply was lost and the SDK's resend failed; log and count it once
    log.error("payment anomaly %s on %s: %s", code, order_id, detail)
    metrics.count("PaymentAnomaly", code=code, provider=provider)


def note_anomaly(note: PaymentNotification, code: str, detail: str) -> None:
    record_anomaly(provider=note.provider, event_id=note.event_id, code=code, order_id=note.out_trade_no,
                   detail=detail, transaction_id=note.transaction_id, amount=note.amount_total)


def anomalies(limit: int = 50) -> list[dict[str, Any]]:
    rows = LedgerEntry.anomalies.query(ANOMALIES, scan_index_forward=False, limit=limit)
    return [{"anomaly_id": row.anomaly_id, "code": row.outcome, "order_id": row.order_id, "provider": row.provider,
             "transaction_id": row.transaction_id, "amount": int(row.amount) if row.amount is not None else None,
             "detail": row.detail, "at": clock.iso(row.created_at)} for row in rows]
