"""A flash sale's stock as orders move it: the writes checkout adds to an order's own transactions,
the sale as a buyer's request reads it (cached for a second), and the pool's stream handler.

Units of a pool shard move `available -> reserved` (an order, conditioned on enough units, the pool
open and the sale's window by the server clock), `reserved -> sold` (paid), `reserved -> available`
(cancelled or expired, with the buyer's quota given back) and `sold -> available` (a refund of an
order that never shipped). Units that come back to a closed pool are moved on to the SKU's regular
stock by the stream handler, each time conditioned on the shard as read: exactly once.

The sold-out flag: every change of a shard reaches the stream handler, which reads the whole pool in
one TransactGetItems (a serializable snapshot), and writes `sold_out` onto the sale conditioned on
the sum of the shards' versions being newer than the one the flag was last computed from, so an
older snapshot can never overwrite a newer one. Buyers read the sale at most once a second per
function (an order or a preview takes `cached_sale`, else reads it with `ask_sale` in checkout's one
BatchGetItem), so the crowd after the sell-out costs that read, not a cancelled write.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.catalog import reservations
from chalicelib.core import clock, metrics
from chalicelib.core.db import (
    batch_get,
    commit_if_conditions_hold,
    condition_failed,
    connection,
    get_or_none,
    until_committed,
)
from chalicelib.core.errors import NotFound
from chalicelib.core.ids import looks_like_id
from chalicelib.marketing.flash_models import FlashPoolModel, FlashQuotaModel, FlashSaleModel, pool_key, quota_key

if TYPE_CHECKING:
    from chalicelib.core.batch_reads import ReadBatch

log = logging.getLogger("micromall.marketing")

CACHE_SECONDS = 1.0  # how long a function trusts the sale (and its sold-out flag) it read, by the mall clock
RETURN_ATTEMPTS = 8


# --- the sale as a buyer's request reads it -------------------------------------------

_cache: dict[str, tuple[float, FlashSaleModel]] = {}
_cache_lock = threading.Lock()


def cached_sale(sale_id: str) -> FlashSaleModel | None:
    """The sale as this function read it less than CACHE_SECONDS ago, or None (then read it: `ask_sale`)."""
    with _cache_lock:
        cached = _cache.get(sale_id)
    if cached is not None and 0 <= clock.timestamp() - cached[0] < CACHE_SECONDS:
        return cached[1]
    return None


def ask_sale(batch: ReadBatch, sale_id: str) -> Callable[[], FlashSaleModel]:
    """The sale read (eventually consistently) in `batch` with other features'
    reads, and remembered; 404 FLASH_SALE_NOT_FOUND once the batch has run. Asks even when the sale is
    cached: take `cached_sale` first, the cache is the point of the sold-out fast path."""
    if not looks_like_id(sale_id):
        return lambda: _remembered(None, 0.0)  # 404 without a read
    now = clock.timestamp()
    item = batch.ask(FlashSaleModel, (sale_id,), consistent=False)
    return lambda: _remembered(item(), now)


def _remembered(sale: FlashSaleModel | None, at: float) -> FlashSaleModel:
    if sale is None:
        raise NotFound("no such flash sale", code="FLASH_SALE_NOT_FOUND")
    remember(sale, at)
    return sale


def remember(sale: FlashSaleModel, at: float | None = None) -> None:
    with _cache_lock:
        _cache[sale.sale_id] = (clock.timestamp() if at is None else at, sale)


def mark_sold_out_here(sale: FlashSaleModel) -> None:
    """This function saw every shard empty: answer SOLD_OUT from here on until the cached sale is read again."""
    sale.sold_out = True
    remember(sale)


def forget_cached() -> None:
    with _cache_lock:
        _cache.clear()


def running(sale: FlashSaleModel) -> bool:
    now = clock.now()
    return sale.closed_at is None and sale.starts_at <= now < sale.ends_at


# --- the writes an order's transactions add ---------------------------------------------

def add_reservation(tx: Any, sale: FlashSaleModel, shard: int, user_id: str, quantity: int) -> None:
    """Take `quantity` units from one shard and count them against the buyer's quota, in the order's transaction.

    Conditioned on the shard selling under the terms of `sale` as this request read it: after an edit
    (flash_edits.py) an order priced from the sale before it fails here instead of using the old terms."""
    now = clock.now()
    tx.update(FlashPoolModel(pool_key(sale.sale_id, shard)),
              actions=[FlashPoolModel.available.add(-quantity), FlashPoolModel.reserved.add(quantity),
                       FlashPoolModel.version.add(1)],
              condition=(FlashPoolModel.available >= quantity) & (FlashPoolModel.closed == False)  # noqa: E712
              & (FlashPoolModel.opens_at <= now) & (FlashPoolModel.closes_at > now) & sells_under(sale))
    room = int(sale.per_user_limit) - quantity
    tx.update(FlashQuotaModel(quota_key(sale.sale_id, user_id)), actions=[FlashQuotaModel.bought.add(quantity)],
              condition=FlashQuotaModel.bought.does_not_exist() | (FlashQuotaModel.bought <= room))


def sells_under(sale: FlashSaleModel) -> Any:
    """The condition: a shard's `terms` are this sale's version (shards written before edits existed have none: 0)."""
    version = version_of(sale)
    if version == 0:
        return FlashPoolModel.terms.does_not_exist() | (FlashPoolModel.terms == 0)
    return FlashPoolModel.terms == version


def version_of(sale: FlashSaleModel) -> int:
    return int(sale.version or 0)


def terms_changed(sale: FlashSaleModel, shards: list[FlashPoolModel]) -> bool:
    """Whether the pool (read after `sale`) sells under other terms: an edit committed since `sale` was read."""
    return any(int(row.terms or 0) != version_of(sale) for row in shards)


def add_release(tx: Any, sale_id: str, shard: int, user_id: str, quantity: int) -> None:
    """An unpaid order was cancelled or expired: its units back to its shard and its quota back to the buyer.
    Unconditional: the caller's transaction is conditioned on the order's status (once)."""
    _move(tx, sale_id, shard, quantity, source=FlashPoolModel.reserved, target=FlashPoolModel.available)
    tx.update(FlashQuotaModel(quota_key(sale_id, user_id)), actions=[FlashQuotaModel.bought.add(-quantity)])


def add_sale(tx: Any, sale_id: str, shard: int, quantity: int) -> None:
    """The order was paid."""
    _move(tx, sale_id, shard, quantity, source=FlashPoolModel.reserved, target=FlashPoolModel.sold)


def add_return(tx: Any, sale_id: str, shard: int, quantity: int) -> None:
    """A paid order that never shipped was refunded: its units back to its shard (and on to regular stock if the
    sale is closed). The buyer's quota stays spent: a refund does not buy a second go at the sale."""
    _move(tx, sale_id, shard, quantity, source=FlashPoolModel.sold, target=FlashPoolModel.available)


def _move(tx: Any, sale_id: str, shard: int, quantity: int, *, source: Any, target: Any) -> None:
    tx.update(FlashPoolModel(pool_key(sale_id, shard)),
              actions=[source.add(-quantity), target.add(quantity), FlashPoolModel.version.add(1)])


def quota_bought(sale_id: str, user_id: str, *, consistent: bool = False) -> int:
    row = get_or_none(FlashQuotaModel, quota_key(sale_id, user_id), consistent=consistent)
    return _bought(row)


def ask_quota_bought(batch: ReadBatch, sale_id: str, user_id: str, *, consistent: bool = False) -> Callable[[], int]:
    """`quota_bought`, its item read in `batch` (as consistently as asked) with other features' reads. A sale id
    that is no id asks nothing: no such sale, and `ask_sale` answers its 404 first."""
    if not looks_like_id(sale_id):
        return lambda: 0
    row = batch.ask(FlashQuotaModel, (quota_key(sale_id, user_id),), consistent=consistent)
    return lambda: _bought(row())


def _bought(row: FlashQuotaModel | None) -> int:
    return int(row.bought) if row is not None else 0


# --- the pool as a whole --------------------------------------------------------------

@dataclass(frozen=True)
class PoolTotals:
    available: int = 0
    reserved: int = 0
    sold: int = 0
    returned: int = 0


def pool_shards(sale: FlashSaleModel, *, consistent: bool = False) -> list[FlashPoolModel]:
    keys = [(pool_key(sale.sale_id, shard),) for shard in range(int(sale.shards))]
    return sorted(batch_get(FlashPoolModel, keys, consistent=consistent), key=lambda row: int(row.shard))


def totals_of(shards: list[FlashPoolModel]) -> PoolTotals:
    return PoolTotals(available=sum(int(s.available) for s in shards), reserved=sum(int(s.reserved) for s in shards),
                      sold=sum(int(s.sold) for s in shards), returned=sum(int(s.returned) for s in shards))


def return_closed_shard(sale_id: str, shard: int) -> int:
    """A closed shard's available units -> the SKU's regular stock; the units moved (0 when none were left)."""
    def attempt() -> int | None:
        row = get_or_none(FlashPoolModel, pool_key(sale_id, shard))
        if row is None or not row.closed or int(row.available) <= 0:
            return 0
        units = int(row.available)

        def build(tx: Any) -> None:
            tx.update(FlashPoolModel(row.pool_key),
                      actions=[FlashPoolModel.available.set(0), FlashPoolModel.returned.add(units),
                               FlashPoolModel.version.add(1)],
                      condition=(FlashPoolModel.available == units) & (FlashPoolModel.closed == True))  # noqa: E712
            reservations.add_return_from_pool(tx, row.sku_id, units)

        if commit_if_conditions_hold(build):
            metrics.count("FlashUnitsReturned", units)
            return units
        return None  # a release or refund added units meanwhile: read again

    return until_committed(attempt, attempts=RETURN_ATTEMPTS)


def refresh_sold_out(sale_id: str) -> bool | None:
    """Recompute the sale's sold-out flag from one snapshot of its pool; the flag as written (None: unchanged)."""
    sale = get_or_none(FlashSaleModel, sale_id)
    if sale is None:
        return None
    snapshot = _pool_snapshot(sale)
    version = sum(int(row.version) for row in snapshot)
    sold_out = all(int(row.available) <= 0 for row in snapshot)
    if version <= int(sale.pool_version or 0):
        return None
    try:
        sale.update(actions=[FlashSaleModel.sold_out.set(sold_out), FlashSaleModel.pool_version.set(version)],
                    condition=FlashSaleModel.pool_version.does_not_exist() | (FlashSaleModel.pool_version < version))
    except Exception as exc:  # noqa: BLE001 - only a failed condition means "a newer snapshot was written first"
        if not condition_failed(exc):
            raise
        return None
    return sold_out


def _pool_snapshot(sale: FlashSaleModel) -> list[FlashPoolModel]:
    """Every shard as of one moment: one TransactGetItems (serializable with the order transactions; a sale
    has at most 64 shards, within its 100 items)."""
    from pynamodb.transactions import TransactGet

    with TransactGet(connection=connection()) as tx:
        futures = [tx.get(FlashPoolModel, pool_key(sale.sale_id, shard)) for shard in range(int(sale.shards))]
    return [future.get() for future in futures]


def on_pool_changes(images: list[dict[str, Any]]) -> None:
    """The pool stream's records (new images): return units that came back to a closed shard, then refresh
    the flag of every sale touched. Idempotent: both are recomputed from what the tables hold now."""
    sales: dict[str, None] = {}
    for image in images:
        sales.setdefault(image["sale_id"], None)
        if image.get("closed") and int(image.get("available", 0)) > 0:
            return_closed_shard(image["sale_id"], int(image["shard"]))
    for sale_id in sales:
        refresh_sold_out(sale_id)


def reload_sale(sale_id: str) -> FlashSaleModel:
    """The sale read now (consistently), and remembered for the next requests."""
    sale = get_or_none(FlashSaleModel, sale_id)
    if sale is None:
        raise NotFound("no such flash sale", code="FLASH_SALE_NOT_FOUND")
    remember(sale)
    return sale
