"""The scheduled sweep: unpaid orders past their payment deadline are cancelled, shipped ones past theirs completed.

Each is the same move the buyer would make (moves.py), so a sweep racing the
buyer, a payment or a second sweeper moves an order at most once.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chalicelib.checkout import moves, statuses
from chalicelib.checkout.holdings import release_order
from chalicelib.checkout.models import SHARDS, OrderModel
from chalicelib.checkout.moves import CONFIRM, EXPIRE, Actions, TradeCloser, Writes, cancel_actions, complete_actions
from chalicelib.core import clock
from chalicelib.core.db import batch_get

log = logging.getLogger("micromall.checkout")

SWEEP_PAGE = 100


@dataclass
class SweepReport:
    expired: int = 0
    completed: int = 0
    lost_races: int = 0  # due orders another actor moved first (paid, cancelled, confirmed)


def sweep_due_orders(*, out_of_time: Callable[[], bool] = lambda: False,
                     close_trade: TradeCloser | None = None) -> SweepReport:
    """Cancel unpaid orders past their deadline and complete shipped ones past theirs.

    Reads only the sparse `due` index (never a scan). Safe to run twice at once:
    each move is conditioned on the status, so a second sweeper's move fails and
    is counted as a lost race. With `close_trade`, an unpaid order is cancelled only
    once its provider trade is closed; one the provider cannot close now waits for the next run.
    """
    report = SweepReport()
    now = clock.now()
    for kind, target, actions, writes in ((EXPIRE, statuses.CANCELLED, cancel_actions(statuses.BY_TIMEOUT),
                                           release_order),
                                          (CONFIRM, statuses.COMPLETED, complete_actions, None)):
        for shard in range(SHARDS):
            _sweep_shard(f"{kind}#{shard}", now, target, actions, writes, report, out_of_time,
                         close_trade if kind == EXPIRE else None)
    return report


def _sweep_shard(due_shard: str, now: datetime, target: str, actions: Actions, writes: Writes | None,
                 report: SweepReport, out_of_time: Callable[[], bool], close_trade: TradeCloser | None) -> None:
    while not out_of_time():
        keys = [row.order_id for row in OrderModel.due.query(due_shard, range_key_condition=OrderModel.due_at <= now,
                                                             limit=SWEEP_PAGE)]
        if not keys:
            return
        moved = 0
        for order in batch_get(OrderModel, [(order_id,) for order_id in keys], consistent=True):
            if statuses.allowed(order.status, target) and order.due_at is not None and order.due_at <= now \
                    and _trade_closed(order, close_trade) and moves.commit(order, target, actions, writes):
                # (moves.commit through its module: a race test steps in between this read and the commit)
                moved += 1
                report.expired += target == statuses.CANCELLED
                report.completed += target == statuses.COMPLETED
            else:
                report.lost_races += 1
        if moved == 0:
            return  # what is left in this page is being moved by someone else; the next run looks again


def _trade_closed(order: OrderModel, close_trade: TradeCloser | None) -> bool:
    if close_trade is None:
        return True
    try:
        return close_trade(order)
    except Exception:  # noqa: BLE001 - the provider cannot say now; the order stays reserved until the next run
        log.warning("sweep: the trade of order %s could not be closed yet", order.order_id, exc_info=True)
        return False
