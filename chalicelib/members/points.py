"""Points: a balance item per buyer (`MemberAccountModel`) and a ledger entry for every change.

1 point = 1 fen at checkout. How points move (every move is one transaction of the account and
its ledger entries):

- earned when an order completes: MALL_POINTS_PER_YUAN per whole yuan paid, frozen until the
  refund window (MALL_REFUND_WINDOW_DAYS after completion) closes, then released into the balance
  by the `members_points_schedule` job, which reads a sparse index of what is due (never a scan);
- redeemed at checkout inside the order's transaction, on condition `points >= n`: of two orders
  spending the same points at once, one commits and the other is cancelled (no double spend);
- returned when that order is cancelled, expires or is refunded (REDEMPTION_RETURNED);
- clawed back when a completed order is refunded: from the frozen points while they are frozen, else
  from the balance, never below zero; what was already spent is recorded as a shortfall;
- expired MALL_POINTS_EXPIRY_DAYS after they were earned, oldest first (see MemberAccountModel).

Every change other than a redemption is a read-check-commit on the account's `version`.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import field
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError

from chalicelib.core import clock, config
from chalicelib.core.config import ConfigError
from chalicelib.core.db import condition_failed, get_or_none, run_transaction, until_committed
from chalicelib.core.errors import Conflict
from chalicelib.core.ids import new_id
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)
from chalicelib.core.views import View
from chalicelib.members.models import MemberAccountModel, PointsEntryModel

ORDER_COMPLETED, REDEEMED, REDEMPTION_RETURNED = "ORDER_COMPLETED", "REDEEMED", "REDEMPTION_RETURNED"
REFUND_CLAWBACK, EXPIRED, ADMIN = "REFUND_CLAWBACK", "EXPIRED", "ADMIN"
FROZEN, RELEASED, CLAWED = "FROZEN", "RELEASED", "CLAWED"  # an earning's lot_status (and EXPIRED)
DUE_SHARDS = 4  # partitions of the sparse release and expiry indexes
DEFAULT_POINTS_PER_YUAN = 1
DEFAULT_EXPIRY_DAYS = 365


def points_per_yuan() -> int:
    rate = config.env_int("MALL_POINTS_PER_YUAN", DEFAULT_POINTS_PER_YUAN)
    if rate < 0:
        raise ConfigError(f"MALL_POINTS_PER_YUAN cannot be negative, got {rate}")
    return rate


def expiry_after() -> timedelta:
    days = config.env_int("MALL_POINTS_EXPIRY_DAYS", DEFAULT_EXPIRY_DAYS)
    if days < 1:
        raise ConfigError(f"MALL_POINTS_EXPIRY_DAYS must be at least 1, got {days}")
    return timedelta(days=days)


def due_shard(kind: str, user_id: str) -> str:
    return f"{kind}#{zlib.crc32(user_id.encode('utf-8')) % DUE_SHARDS}"


# --- reading --------------------------------------------------------------------------

def load_account(user_id: str, *, consistent: bool = True) -> MemberAccountModel:
    """The buyer's account; a buyer who never earned anything has an empty one (not yet stored)."""
    return account_or_empty(user_id, get_or_none(MemberAccountModel, user_id, consistent=consistent))


def account_key(user_id: str) -> tuple[type[MemberAccountModel], tuple[str], bool]:
    """The buyer's account item, read consistently (the points about to be spent), for core.db.get_items."""
    return MemberAccountModel, (user_id,), True


def account_or_empty(user_id: str, account: MemberAccountModel | None) -> MemberAccountModel:
    return account if account is not None else MemberAccountModel(user_id, growth=0, points=0, frozen=0, credited=0,
                                                                  debited=0, expired_through=0, shortfall=0,
                                                                  version=0)


class PointsEntry(View):
    entry_id: str
    delta: int
    reason: str
    order_id: str | None
    created_at: str
    expires_at: str | None  # an earning: when what is left of it expires
    status: str | None  # an earning: FROZEN, RELEASED, CLAWED or EXPIRED
    release_at: str | None  # a frozen earning: when it joins the balance
    shortfall: int | None  # a clawback: points already spent that could not be taken back
    note: str | None


class PointsPage(View):
    balance: int
    frozen: int
    items: list[PointsEntry]
    next_cursor: str | None


def ledger_page(user_id: str, cursor: str | None, limit: int) -> PointsPage:
    before = decode_cursor(cursor)
    condition = PointsEntryModel.entry_id < before if before else None
    rows = list(PointsEntryModel.query(user_id, range_key_condition=condition, scan_index_forward=False,
                                       limit=limit + 1))
    account = load_account(user_id, consistent=False)
    next_cursor = encode_cursor(rows[limit - 1].entry_id) if len(rows) > limit else None
    return PointsPage(balance=int(account.points), frozen=int(account.frozen),
                      items=[_entry_view(row) for row in rows[:limit]], next_cursor=next_cursor)


def _entry_view(entry: PointsEntryModel) -> PointsEntry:
    iso = lambda moment: clock.iso(moment) if moment is not None else None  # noqa: E731
    return PointsEntry(entry_id=entry.entry_id, delta=int(entry.delta), reason=entry.reason, order_id=entry.order_id,
                       created_at=clock.iso(entry.created_at), expires_at=iso(entry.expires_at),
                       status=entry.lot_status, release_at=iso(entry.release_at),
                       shortfall=None if entry.shortfall is None else int(entry.shortfall), note=entry.note)


# --- redemption: inside the order's transaction ----------------------------------------

def add_redemption(tx: Any, user_id: str, points: int, order_id: str) -> None:
    """Spend `points` on order `order_id`: the balance on condition it covers them, and the ledger entry."""
    now = clock.now()
    tx.update(MemberAccountModel(user_id),
              actions=[MemberAccountModel.points.add(-points), MemberAccountModel.debited.add(points),
                       MemberAccountModel.version.add(1), MemberAccountModel.updated_at.set(now)],
              condition=MemberAccountModel.points >= points)
    tx.save(PointsEntryModel(user_id, new_id(), delta=-points, reason=REDEEMED, order_id=order_id, created_at=now),
            condition=PointsEntryModel.entry_id.does_not_exist())


# --- every other change: read, decide, commit on the version read -----------------------

@dataclass
class Change:
    """What one change does to an account (deltas) and the other writes that go with it."""
    points: int = 0
    frozen: int = 0
    credited: int = 0
    debited: int = 0
    growth: int = 0
    shortfall: int = 0
    expired_through: int | None = None
    writes: list[Callable[[Any], None]] = field(default_factory=list)

    def entry(self, user_id: str, delta: int, reason: str, **fields: Any) -> PointsEntryModel:
        """A new ledger entry, saved with the change."""
        entry = PointsEntryModel(user_id, new_id(), delta=delta, reason=reason, created_at=clock.now(), **fields)
        self.writes.append(lambda tx: tx.save(entry, condition=PointsEntryModel.entry_id.does_not_exist()))
        return entry


def change_account(user_id: str, plan: Callable[[MemberAccountModel], Change | None]) -> bool:
    """Run `plan` on a fresh read of the account and commit what it returns with the account, conditioned on
    the account's version; again on a new read if the account changed. False when `plan` had nothing to do
    (it returned None) or one of its own writes' conditions failed (someone else did it first)."""
    def attempt() -> bool | None:
        account = load_account(user_id)
        change = plan(account)
        if change is None:
            return False
        try:
            run_transaction(lambda tx: _write(tx, account, change))
            return True
        except TransactWriteError as exc:
            if not condition_failed(exc):
                raise
        return None if load_account(user_id).version != account.version else False

    return until_committed(attempt)


def _write(tx: Any, account: MemberAccountModel, change: Change) -> None:
    model = MemberAccountModel
    read_version = int(account.version or 0)
    actions = [model.points.add(change.points), model.frozen.add(change.frozen), model.credited.add(change.credited),
               model.debited.add(change.debited), model.growth.add(change.growth),
               model.shortfall.add(change.shortfall), model.version.add(1), model.updated_at.set(clock.now())]
    if change.expired_through is not None:
        actions.append(model.expired_through.set(change.expired_through))
    condition = model.user_id.does_not_exist() if read_version == 0 else model.version == read_version
    tx.update(MemberAccountModel(account.user_id), actions=actions, condition=condition)
    for write in change.writes:
        write(tx)


# --- staff adjustments ------------------------------------------------------------------

def adjust(user_id: str, delta: int, note: str, *, actor: str) -> PointsPage:
    """Staff add points (a lot released at once, expiring like any other) or take them (never more than the
    balance: 409 INSUFFICIENT_POINTS); one ADMIN ledger entry, noted with who did it and why."""
    def plan(account: MemberAccountModel) -> Change:
        balance = int(account.points or 0)
        if delta < 0 and -delta > balance:
            raise Conflict(f"the buyer has {balance} points, cannot take {-delta}", code="INSUFFICIENT_POINTS",
                           details={"balance": balance})
        change = Change(points=delta)
        fields: dict[str, Any] = {"note": f"{actor}: {note}"}
        if delta > 0:
            change.credited = delta
            fields.update(lot_status=RELEASED, position=int(account.credited or 0),
                          expires_at=clock.now() + expiry_after(), expiry_shard=due_shard("EXPIRY", user_id))
        else:
            change.debited = -delta
        change.entry(user_id, delta, ADMIN, **fields)
        return change

    change_account(user_id, plan)
    return ledger_page(user_id, None, 20)
