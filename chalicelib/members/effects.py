"""What orders do to a buyer's account, driven by the orders stream, and the points schedule.

Why the stream and not the order's own transaction: these are effects on the buyer's account,
not conditions of the order's move. A clawback must read the balance first, and a release or
expiry may race the buyer's checkout; the payment, refund and sweeper transactions must never
fail or wait because of a points balance. The stream delivers each order change at least once
and in order per order; each effect is made exactly once by a marker written in its own
transaction (`effect#<kind>#<order_id>` in the core idempotency table).

- COMPLETED: growth += whole yuan paid; points earned (frozen until the refund window closes).
- CANCELLED (by the buyer, staff or expiry) or REFUNDED, with points spent: the points come back.
- REFUNDED after it had COMPLETED (an after-sales refund): the growth goes, the points are clawed back.

A coupon needs none of this: it moves inside the order's own transactions (marketing.redemption).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core import clock, config
from chalicelib.core.db import batch_get, get_or_none
from chalicelib.core.events import image
from chalicelib.core.models import IdempotencyRecord
from chalicelib.members import points
from chalicelib.members.models import MemberAccountModel, PointsEntryModel
from chalicelib.members.points import (
    CLAWED,
    EXPIRED,
    FROZEN,
    ORDER_COMPLETED,
    REDEMPTION_RETURNED,
    REFUND_CLAWBACK,
    RELEASED,
    Change,
    change_account,
    due_shard,
)

log = logging.getLogger("micromall.members")

# An earning's marker must outlive the refund window and a refund's settling; a year is ample.
MARKER_TTL = timedelta(days=400)
EARN, UNEARN, RETURN = "earn", "unearn", "points-return"
COMPLETED, CANCELLED, REFUNDED = "COMPLETED", "CANCELLED", "REFUNDED"
SCHEDULE_PAGE = 100


def apply_order_changes(records: Iterable[Any]) -> int:
    """Each stream record's effects on its buyer's account; returns how many effects were applied now."""
    applied = 0
    for record in records:
        old, new = image(record, "old") or {}, image(record, "new") or {}
        before, after = old.get("status"), new.get("status")
        if after == before or not new:
            continue
        if after == COMPLETED:
            applied += earn(new)
        if after in (CANCELLED, REFUNDED) and int(new.get("points_discount") or 0) > 0:
            applied += return_redemption(new)
        if after == REFUNDED and new.get("completed_at"):
            applied += unearn(new)
    return applied


def _marker(kind: str, order_id: str, data: dict[str, Any] | None = None) -> IdempotencyRecord:
    return IdempotencyRecord(f"effect#{kind}#{order_id}", expiration=clock.now() + MARKER_TTL, status="COMPLETED",
                             data=json.dumps(data or {}))


def _put_marker(change: Change, marker: IdempotencyRecord) -> None:
    change.writes.append(lambda tx: tx.save(marker, condition=IdempotencyRecord.id.does_not_exist()))


def _done(kind: str, order_id: str) -> IdempotencyRecord | None:
    return get_or_none(IdempotencyRecord, f"effect#{kind}#{order_id}")


def earn(order: dict[str, Any]) -> bool:
    """Growth and frozen points for a completed order (once; never after its reversal was recorded)."""
    user_id, order_id = order["user_id"], order["order_id"]
    yuan = int(order["payable"]) // 100
    earned = yuan * points.points_per_yuan()
    completed_at = _moment(order.get("completed_at")) or clock.now()

    def plan(account: MemberAccountModel) -> Change | None:
        if _done(EARN, order_id) is not None or _done(UNEARN, order_id) is not None:
            return None
        change = Change(growth=yuan, frozen=earned)
        entry_id = None
        if earned:
            release_at = completed_at + config.refund_window()
            entry = change.entry(user_id, earned, ORDER_COMPLETED, order_id=order_id, lot_status=FROZEN,
                                 release_shard=due_shard("RELEASE", user_id), release_at=release_at,
                                 expires_at=completed_at + points.expiry_after())
            entry_id = entry.entry_id
        _put_marker(change, _marker(EARN, order_id, {"growth": yuan, "points": earned, "entry_id": entry_id}))
        return change

    return change_account(user_id, plan)


def unearn(order: dict[str, Any]) -> bool:
    """A completed order was refunded: its growth goes, its points are clawed back (never below zero)."""
    user_id, order_id = order["user_id"], order["order_id"]

    def plan(account: MemberAccountModel) -> Change | None:
        if _done(UNEARN, order_id) is not None:
            return None
        earned = _done(EARN, order_id)
        change = Change()
        _put_marker(change, _marker(UNEARN, order_id))
        if earned is None:  # never credited (its record failed): the marker alone keeps a late credit out
            return change
        terms = json.loads(earned.data or "{}")
        change.growth = -min(int(terms.get("growth", 0)), int(account.growth or 0))
        if terms.get("entry_id"):
            _claw_back(change, account, user_id, order_id, terms["entry_id"])
        return change

    return change_account(user_id, plan)


def _claw_back(change: Change, account: MemberAccountModel, user_id: str, order_id: str, entry_id: str) -> None:
    lot = get_or_none(PointsEntryModel, user_id, entry_id)
    if lot is None or lot.lot_status == CLAWED:
        return
    amount = int(lot.delta)
    if lot.lot_status == FROZEN:
        change.frozen = -amount
        change.writes.append(lambda tx: tx.update(
            lot, actions=[PointsEntryModel.lot_status.set(CLAWED), PointsEntryModel.release_shard.remove(),
                          PointsEntryModel.release_at.remove()],
            condition=PointsEntryModel.lot_status == FROZEN))
        change.entry(user_id, -amount, REFUND_CLAWBACK, order_id=order_id, note="frozen points of the order")
        return
    taken = min(amount, int(account.points or 0))
    change.points, change.debited, change.shortfall = -taken, taken, amount - taken
    change.entry(user_id, -taken, REFUND_CLAWBACK, order_id=order_id, shortfall=amount - taken,
                 note="already spent" if taken < amount else None)


def return_redemption(order: dict[str, Any]) -> bool:
    """The points an order spent come back; any of them from lots that expired meanwhile expire at once."""
    user_id, order_id, spent = order["user_id"], order["order_id"], int(order["points_discount"])

    def plan(account: MemberAccountModel) -> Change | None:
        if _done(RETURN, order_id) is not None:
            return None
        debited, expired_through = int(account.debited or 0), int(account.expired_through or 0)
        lapsed = min(spent, max(0, expired_through - (debited - spent)))
        change = Change(points=spent - lapsed, debited=-(spent - lapsed))
        change.entry(user_id, spent, REDEMPTION_RETURNED, order_id=order_id)
        if lapsed:
            change.entry(user_id, -lapsed, EXPIRED, order_id=order_id, note="returned after its points expired")
        _put_marker(change, _marker(RETURN, order_id))
        return change

    return change_account(user_id, plan)


# --- the schedule: releases and expiries that are due ------------------------------------

def run_points_schedule(*, out_of_time: Callable[[], bool] = lambda: False) -> dict[str, int]:
    """Release frozen earnings whose refund window closed, expire lots past their time. Reads only the two
    sparse indexes; each change is conditioned on the lot's state, so two runs at once do each once."""
    now = clock.now()
    report = {"released": 0, "expired": 0}
    for shard in range(points.DUE_SHARDS):
        report["released"] += _sweep(PointsEntryModel.release_due, PointsEntryModel.release_at, f"RELEASE#{shard}",
                                     now, release, out_of_time)
        report["expired"] += _sweep(PointsEntryModel.expiry_due, PointsEntryModel.expires_at, f"EXPIRY#{shard}",
                                    now, expire, out_of_time)
    return report


def _sweep(index, due_at, shard: str, now: datetime, action: Callable[[PointsEntryModel], bool],
           out_of_time: Callable[[], bool]) -> int:
    done = 0
    while not out_of_time():
        keys = [(row.user_id, row.entry_id) for row in index.query(shard, range_key_condition=due_at <= now,
                                                                      limit=SCHEDULE_PAGE)]
        if not keys:
            return done
        moved = sum(action(lot) for lot in batch_get(PointsEntryModel, keys, consistent=True))
        done += moved
        if moved == 0:
            return done  # the rest is being moved by another run
    return done


def release(lot: PointsEntryModel) -> bool:
    """A frozen earning joins the balance at the next position of the credited sequence."""
    def plan(account: MemberAccountModel) -> Change | None:
        current = get_or_none(PointsEntryModel, lot.user_id, lot.entry_id)
        if current is None or current.lot_status != FROZEN:
            return None
        amount = int(current.delta)
        change = Change(frozen=-amount, points=amount, credited=amount)
        change.writes.append(lambda tx: tx.update(
            current, actions=[PointsEntryModel.lot_status.set(RELEASED),
                              PointsEntryModel.position.set(int(account.credited or 0)),
                              PointsEntryModel.release_shard.remove(), PointsEntryModel.release_at.remove(),
                              PointsEntryModel.expiry_shard.set(due_shard("EXPIRY", lot.user_id))],
            condition=PointsEntryModel.lot_status == FROZEN))
        return change

    return change_account(lot.user_id, plan)


def expire(lot: PointsEntryModel) -> bool:
    """What is unspent of a lot past its expiry leaves the balance: everything up to its end position not yet
    debited (debits take the oldest points first)."""
    def plan(account: MemberAccountModel) -> Change | None:
        current = get_or_none(PointsEntryModel, lot.user_id, lot.entry_id)
        if current is None or current.expiry_shard is None:
            return None
        end = int(current.position or 0) + int(current.delta)
        debited, expired_through = int(account.debited or 0), int(account.expired_through or 0)
        lapsed = max(0, end - debited)
        change = Change(points=-lapsed, debited=lapsed, expired_through=max(end, expired_through))
        change.writes.append(lambda tx: tx.update(
            current, actions=[PointsEntryModel.lot_status.set(EXPIRED), PointsEntryModel.expiry_shard.remove()],
            condition=PointsEntryModel.expiry_shard.exists()))
        if lapsed:
            change.entry(lot.user_id, -lapsed, EXPIRED, order_id=current.order_id)
        return change

    return change_account(lot.user_id, plan)


def _moment(text: str | None) -> datetime | None:
    return clock.parse_iso(text) if text else None
