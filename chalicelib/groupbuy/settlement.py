"""A group's end: failing it at its deadline, and settling its members' orders either way.

Both read only the sparse `due` index of the groups table (never a scan):
- `EXPIRE#<n>`: unfinished groups until their deadline (`expires_at` once OPEN, the
  campaign's end while PENDING). At it, an incomplete group becomes FAILED by one
  update conditioned on the status and paid count read, so a payment that commits
  first makes the failure re-read (and refund that payment too), and a failure that
  commits first makes the payment's own condition fail (it is then returned).
- `SETTLE#<n>`: finished groups until every member's order has its outcome.
  SUCCEEDED: each paid member's order AWAITING_GROUP -> PAID. FAILED: each paid
  member's order refunded against its own payment (AWAITING_GROUP -> REFUNDING,
  then payments asks the provider), each unpaid one cancelled with GROUP_FAILED.

Every step is a lifecycle move conditioned on the order's status, and a refund's
number is the order's own `-R1` (a ledger entry written on condition it does not
exist), so two runs, a run and the stream handler, or a redelivered event settle
each order once. A step that cannot finish now (a provider that does not answer)
leaves the group on the index for the next run.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.checkout import statuses
from chalicelib.checkout.orders import find_order
from chalicelib.core import clock, metrics
from chalicelib.core.db import batch_get, commit_if_conditions_hold, get_or_none
from chalicelib.core.errors import MallError
from chalicelib.groupbuy.models import (
    DUE_SHARDS,
    EXPIRE,
    FAILED,
    SETTLE,
    SUCCEEDED,
    UNFINISHED,
    GroupModel,
    MemberModel,
    due_shard,
)

log = logging.getLogger("micromall.groupbuy")

PAGE = 50
SETTLE_RETRY_AFTER = timedelta(minutes=1)
WAITING = (statuses.PENDING_PAYMENT, statuses.AWAITING_GROUP)


@dataclass
class ExpiryReport:
    failed: int = 0
    settled: int = 0
    lost_races: int = 0  # due groups another actor moved first (completed by a payment, failed by another run)
    unsettled: int = 0  # groups left for the next run (a provider did not answer)


def run_due_groups(*, out_of_time: Callable[[], bool] = lambda: False) -> ExpiryReport:
    """Fail incomplete groups past their deadline, then settle finished groups' orders."""
    report = ExpiryReport()
    now = clock.now()
    for shard in range(DUE_SHARDS):
        for group in _due(f"{EXPIRE}#{shard}", now, out_of_time):
            if fail_if_expired(group.group_id):
                report.failed += 1
            else:
                report.lost_races += 1
        for group in _due(f"{SETTLE}#{shard}", now, out_of_time):
            if settle_group(group.group_id):
                report.settled += 1
            else:
                report.unsettled += 1
    return report


def _due(partition: str, now: datetime, out_of_time: Callable[[], bool]) -> list[GroupModel]:
    if out_of_time():
        return []
    keys = [(row.group_id,) for row in GroupModel.due.query(partition, range_key_condition=GroupModel.due_at <= now,
                                                            limit=PAGE)]
    return batch_get(GroupModel, keys, consistent=True)


def fail_if_expired(group_id: str) -> bool:
    """An unfinished group past its deadline -> FAILED (and on to settlement); False when it is not due or another
    actor moved it first. A payment committing meanwhile makes this read again and fail the group with it."""
    for _ in range(5):
        group = get_or_none(GroupModel, group_id)
        now = clock.now()
        if group is None or group.status not in UNFINISHED or _deadline(group) > now:
            return False
        condition = (GroupModel.status == group.status) & (GroupModel.paid_members == int(group.paid_members))
        actions = [GroupModel.status.set(FAILED), GroupModel.closed_at.set(now), GroupModel.updated_at.set(now),
                   GroupModel.due_shard.set(due_shard(SETTLE, group_id)), GroupModel.due_at.set(now)]
        if commit_if_conditions_hold(lambda tx: tx.update(GroupModel(group_id), actions=actions,
                                                          condition=condition)):
            log.info("group %s failed at its deadline with %d of %d paid", group_id, int(group.paid_members),
                     int(group.group_size))
            settle_group(group_id)
            return True
    return False


def _deadline(group: GroupModel) -> datetime:
    if group.expires_at is not None:
        return min(group.expires_at, group.campaign_ends_at)
    return group.campaign_ends_at


def settle_group(group_id: str) -> bool:
    """Give each member's order its outcome; True when none is left waiting (the group leaves the index)."""
    group = get_or_none(GroupModel, group_id)
    if group is None or group.status not in (SUCCEEDED, FAILED):
        return False
    waiting = 0
    for member in MemberModel.query(group_id, consistent_read=True):
        try:
            waiting += not _settle_order(group, member.order_id)
        except Exception:  # noqa: BLE001 - the next run tries again; one member never blocks the others
            log.warning("group %s: order %s not settled yet", group_id, member.order_id, exc_info=True)
            waiting += 1
    if waiting:
        _look_again(group)
        return False
    _leave_index(group)
    return True


def _settle_order(group: GroupModel, order_id: str) -> bool:
    """True when the order has its outcome (now or before)."""
    order = find_order(order_id)
    if order is None or order.status not in WAITING:
        return True
    if group.status == SUCCEEDED:
        from chalicelib.checkout.group_orders import complete_group_order

        complete_group_order(order_id)
    elif order.status == statuses.AWAITING_GROUP:
        from chalicelib.payments.refunds import refund_failed_group_order

        refund_failed_group_order(order_id)
    else:
        _cancel_unpaid(order_id)
    current = find_order(order_id)
    return current is None or current.status not in WAITING


def _cancel_unpaid(order_id: str) -> None:
    from chalicelib.checkout import lifecycle

    try:
        lifecycle.cancel_unpaid(order_id, statuses.GROUP_FAILED, close_trade=_close_trade)
    except MallError as exc:  # moved meanwhile (paid into the failed group: returned; cancelled by its timeout)
        log.info("group order %s not cancelled here: %s", order_id, exc)


def _close_trade(order) -> bool:
    """Close the provider's trade before the cancel. A provider that says it was paid had that payment applied,
    and a group that failed cannot take it: it was returned, and the order, still unpaid, may be cancelled."""
    from chalicelib.payments.service import close_trade

    if close_trade(order):
        return True
    current = find_order(order.order_id)
    return current is not None and current.status == statuses.PENDING_PAYMENT


def _look_again(group: GroupModel) -> None:
    later = clock.now() + SETTLE_RETRY_AFTER
    commit_if_conditions_hold(lambda tx: tx.update(
        GroupModel(group.group_id), actions=[GroupModel.due_at.set(later)],
        condition=GroupModel.due_shard == due_shard(SETTLE, group.group_id)))


def _leave_index(group: GroupModel) -> None:
    if group.due_shard is None:
        return
    if commit_if_conditions_hold(lambda tx: tx.update(
            GroupModel(group.group_id), actions=[GroupModel.due_shard.remove(), GroupModel.due_at.remove()],
            condition=GroupModel.due_shard == due_shard(SETTLE, group.group_id))):
        metrics.count("GroupSettled", outcome=group.status)
