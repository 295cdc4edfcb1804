"""Per-buyer facts from the orders stream (a subscriber of checkout's one reader, checkout/order_stream.py).

- PAID: an order leaves PENDING_PAYMENT paid (to PAID, or to AWAITING_GROUP for a group order): its buyer's
  first and last payment times, paid orders, paid total and the money of its payment day move.
- REFUNDED: the order's `payable` comes off the paid total and off the day it was paid; `refunded_orders`
  counts it. Its payment still counts as a visit (last_paid_at stays): see segments/rules.py.

Each effect is applied once: its marker (`effect#segments-paid#<order_id>`, `...-refund#...` in core's
idempotency table) commits in the same transaction as the buyer's facts, which is conditioned on the
version read. A refund whose payment was never applied (that record went to the dead-letter queue) writes
only its marker, and a payment replayed later finds it and applies nothing, so the two never disagree.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError

from chalicelib.core import clock
from chalicelib.core.db import condition_failed, get_or_none, run_transaction, until_committed
from chalicelib.core.events import image
from chalicelib.core.models import IdempotencyRecord
from chalicelib.segments.models import BuyerFactsModel
from chalicelib.segments.rules import day_of, kept_days

log = logging.getLogger("micromall.segments")

PENDING_PAYMENT, PAID, AWAITING_GROUP, REFUNDED = "PENDING_PAYMENT", "PAID", "AWAITING_GROUP", "REFUNDED"
MARKER_TTL = timedelta(days=400)  # a refund can follow its payment by weeks (after-sales); a year is ample
PAY, REFUND = "segments-paid", "segments-refund"


def record_order_changes(records: Iterable[Any]) -> int:
    """Each record's effect on its buyer's facts; returns how many were applied now (not before)."""
    applied = 0
    for record in records:
        old, new = image(record, "old") or {}, image(record, "new") or {}
        if not new or old.get("status") == new.get("status"):
            continue
        if old.get("status") == PENDING_PAYMENT and new.get("status") in (PAID, AWAITING_GROUP):
            applied += record_payment(new)
        elif new.get("status") == REFUNDED:
            applied += record_refund(new)
    return applied


def record_payment(order: dict[str, Any]) -> bool:
    order_id, amount = order["order_id"], int(order["payable"])
    paid_at = _moment(order.get("paid_at")) or clock.now()

    def change(facts: BuyerFactsModel) -> bool:
        facts.first_paid_at = min(filter(None, (facts.first_paid_at, paid_at)))
        facts.last_paid_at = max(filter(None, (facts.last_paid_at, paid_at)))
        facts.paid_orders = int(facts.paid_orders or 0) + 1
        facts.paid_total = int(facts.paid_total or 0) + amount
        _move_day(facts, paid_at, amount)
        return True

    # a refund recorded first (its payment's record dead-lettered, replayed late) keeps the payment out
    return _apply(order["user_id"], _marker_id(PAY, order_id), change, keep_out=_marker_id(REFUND, order_id))


def record_refund(order: dict[str, Any]) -> bool:
    order_id, amount = order["order_id"], int(order["payable"])
    paid_at = _moment(order.get("paid_at"))

    def change(facts: BuyerFactsModel) -> bool:
        if get_or_none(IdempotencyRecord, _marker_id(PAY, order_id)) is None:
            return False  # its payment never counted: only the marker, which keeps a late payment record out
        facts.refunded_orders = int(facts.refunded_orders or 0) + 1
        facts.paid_total = int(facts.paid_total or 0) - amount
        if paid_at is not None:
            _move_day(facts, paid_at, -amount)
        return True

    # not applied, on condition its payment is still not applied (else the refund must take the money off)
    return _apply(order["user_id"], _marker_id(REFUND, order_id), change, unless_done=_marker_id(PAY, order_id))


def _apply(user_id: str, marker_id: str, change: Callable[[BuyerFactsModel], bool], *, keep_out: str | None = None,
           unless_done: str | None = None) -> bool:
    """Commit `change` to a fresh read of the buyer's facts with the effect's marker; False when the effect was
    applied before, or `keep_out` (another effect's marker) is there. When `change` had nothing to change, only
    the marker is written, on condition that the effect `unless_done` names is still not applied."""
    def attempt() -> bool | None:
        if get_or_none(IdempotencyRecord, marker_id) is not None:
            return False
        if keep_out is not None and get_or_none(IdempotencyRecord, keep_out) is not None:
            return False
        facts = get_or_none(BuyerFactsModel, user_id) or BuyerFactsModel(user_id, version=0, paid_by_day={})
        read_version = int(facts.version or 0)
        changed = change(facts)
        facts.version, facts.updated_at = read_version + 1, clock.now()
        marker = IdempotencyRecord(marker_id, expiration=clock.now() + MARKER_TTL, status="COMPLETED")

        def write(tx) -> None:
            tx.save(marker, condition=IdempotencyRecord.id.does_not_exist())
            if keep_out is not None:
                tx.condition_check(IdempotencyRecord, keep_out, condition=IdempotencyRecord.id.does_not_exist())
            if changed:
                first = BuyerFactsModel.user_id.does_not_exist()
                tx.save(facts, condition=first if read_version == 0 else BuyerFactsModel.version == read_version)
            elif unless_done is not None:
                tx.condition_check(IdempotencyRecord, unless_done, condition=IdempotencyRecord.id.does_not_exist())

        try:
            run_transaction(write)
            return True
        except TransactWriteError as exc:
            if not condition_failed(exc):
                raise
        return None  # the facts moved, or the marker is there (a resend after a lost reply): read again

    return until_committed(attempt)


def _move_day(facts: BuyerFactsModel, paid_at: datetime, amount: int) -> None:
    days = dict(facts.paid_by_day or {})
    day = day_of(paid_at)
    days[day] = int(days.get(day, 0)) + amount
    facts.paid_by_day = kept_days(days, clock.now())


def _marker_id(kind: str, order_id: str) -> str:
    return f"effect#{kind}#{order_id}"


def _moment(text: str | None) -> datetime | None:
    return clock.parse_iso(text) if text else None
