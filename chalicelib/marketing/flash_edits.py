"""Editing a flash sale before it starts and while it runs, safe against the orders in flight, the end, the
closer and other edits (`PUT /admin/flash-sales/{sale_id}`).

Checkout prices an order from the sale as it read it (at most once a second per function) and the order's
transaction touches one pool shard, never the sale item: every order on one item would be the hot partition
the shards exist to avoid. So each shard carries `terms`, the sale `version` it sells under, and a
reservation is conditioned on it being the version of the sale the order was priced from. An edit is one
TransactWriteItems: the sale (conditioned on the version read and on not being closed), every shard (`terms`
to the new version, plus its window and units) and, when units move, the SKU's regular stock item. DynamoDB
serializes it with each order's transaction: an order committed before it was placed under the old terms;
one that commits after it failed its shard's condition first, read the sale again and was placed (or
refused) under the new terms. No order mixes the two, and two edits, or an edit and the end, never
interleave (the version, and the end's `closed_at`, are conditions of both).

What may change, and when:
- nothing once the sale has ended (closed, or past `ends_at`): 409 SALE_ENDED.
- `sale_price` and `starts_at` only before the start (409 SALE_STARTED): a buyer who ordered has been
  quoted the price, and an unpaid order is paid at the price it shows, so a price changed mid-sale would
  sell one sale at two prices. The edit is conditioned on every shard's `version` as read: no order
  reserved between the read and the commit.
- `ends_at` later or earlier, but after now and after `starts_at` (400); ending now is `POST .../end`.
- `per_user_limit` up or down. Orders placed under the old limit stand; a buyer already holding more than
  a lowered limit keeps those orders (paid or not; a cancelled one gives its units back as always) and is
  refused LIMIT_REACHED until what the buyer holds plus the quantity is within the new limit.
- `payment_timeout_seconds`: orders placed from the edit on; placed orders keep their deadline.
- `stock`, the new cap. Raising moves the difference out of the SKU's regular available stock (conditioned
  on that much being there: 409 INSUFFICIENT_STOCK), to the shards with the fewest units left first, and
  clears the sold-out flag in the same transaction. Lowering takes back only available units, from the
  shards with the most first, each shard conditioned on still holding what is taken from it, and gives
  them to regular stock; below what orders hold (reserved + sold) is 409 STOCK_BELOW_TAKEN.
Every field is the new value, not a change, so an edit sent again (its reply lost) changes nothing more.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from chalicelib.catalog import reservations
from chalicelib.catalog.reads import sku_cards
from chalicelib.core import clock, metrics
from chalicelib.core.db import commit_if_conditions_hold, get_or_none, until_committed
from chalicelib.core.errors import BadRequest, Conflict
from chalicelib.core.ids import new_id
from chalicelib.marketing import flash_stock
from chalicelib.marketing.flash_models import FlashPoolModel, FlashSaleModel
from chalicelib.marketing.flash_sales import admin_view, load_sale
from chalicelib.marketing.flash_views import FlashSaleAdminView, FlashSaleEdit

log = logging.getLogger("micromall.marketing")

EDITABLE = ("sale_price", "stock", "per_user_limit", "starts_at", "ends_at", "payment_timeout_seconds")
BEFORE_START_ONLY = ("sale_price", "starts_at")


def edit_sale(sale_id: str, edit: FlashSaleEdit, *, actor: str) -> FlashSaleAdminView:
    """Apply what `edit` sends that differs from the sale, in one transaction; the sale as it stands after."""
    token = new_id()

    def attempt() -> dict[str, tuple[Any, Any]] | None:
        sale = load_sale(sale_id)
        shards = flash_stock.pool_shards(sale, consistent=True)
        changes = _changes(sale, shards, edit, clock.now())
        if not changes:
            return {}  # what was sent is what the sale has: a resent edit changes nothing more
        units = _units_per_shard(sale, shards, changes.get("stock"))
        if not commit_if_conditions_hold(lambda tx: _write(tx, sale, shards, changes, units, token, actor),
                                         committed_already=lambda: _edited_by(sale_id, token)):
            return None  # another edit, the end or orders changed what was read: read again
        return {field: (_current(sale, field), value) for field, value in changes.items()}

    changed = until_committed(attempt, gives_up=lambda: Conflict(
        "the sale kept changing while it was being edited, retry", code="CONCURRENT_EDIT"))
    flash_stock.forget_cached()
    if changed:
        if "stock" in changed:
            flash_stock.refresh_sold_out(sale_id)  # now, not only when the pool's stream handler runs
        metrics.count("FlashSalesEdited")
        log.info("flash sale %s edited by %s: %s", sale_id, actor, "; ".join(
            f"{field} {_shown(old)} -> {_shown(new)}" for field, (old, new) in changed.items()))
    sale = load_sale(sale_id)
    return admin_view(sale, flash_stock.pool_shards(sale, consistent=True))


# --- the rules ----------------------------------------------------------------------------

def _changes(sale: FlashSaleModel, shards: list[FlashPoolModel], edit: FlashSaleEdit,
             now: datetime) -> dict[str, Any]:
    """The fields sent that differ from the sale, once every rule allows them (else 400 or 409)."""
    if sale.closed_at is not None or now >= sale.ends_at:
        raise Conflict("this flash sale has ended: nothing of it can be edited", code="SALE_ENDED",
                       details={"ends_at": clock.iso(sale.ends_at)})
    sent = {field: getattr(edit, field) for field in EDITABLE if getattr(edit, field) is not None}  # times in UTC
    changes = {field: value for field, value in sent.items() if value != _current(sale, field)}
    locked = [field for field in BEFORE_START_ONLY if field in changes]
    if locked and _started(sale, shards, now):
        raise Conflict(f"{' and '.join(locked)} can change only before the sale starts: orders placed since are "
                       "priced and timed by them", code="SALE_STARTED", details={"fields": locked})
    if "starts_at" in changes or "ends_at" in changes:
        _check_window(changes.get("starts_at", sale.starts_at), changes.get("ends_at", sale.ends_at), now)
    if "stock" in changes:
        _check_stock(sale, shards, changes["stock"])
    return changes


def _current(sale: FlashSaleModel, field: str) -> Any:
    value = getattr(sale, field)
    return value if isinstance(value, datetime) else int(value)


def _started(sale: FlashSaleModel, shards: list[FlashPoolModel], now: datetime) -> bool:
    """By the server clock, or by an order already placed (a checkout function's clock may run a little ahead)."""
    return now >= sale.starts_at or any(int(row.reserved) or int(row.sold) for row in shards)


def _check_window(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    if ends_at <= now:
        raise BadRequest("ends_at must be in the future; to end the sale now, POST /admin/flash-sales/{sale_id}/end",
                         code="VALIDATION_ERROR")
    if ends_at <= starts_at:
        raise BadRequest("ends_at must be after starts_at", code="VALIDATION_ERROR")


def _check_stock(sale: FlashSaleModel, shards: list[FlashPoolModel], stock: int) -> None:
    held = int(sale.stock) - flash_stock.totals_of(shards).available  # reserved by unpaid orders, or sold
    if stock < held:
        raise Conflict(f"orders hold {held} units of this sale; its stock cannot go below that", code="STOCK_BELOW_TAKEN",
                       details={"taken": held})
    added = stock - int(sale.stock)
    if added > 0:
        card = sku_cards([sale.sku_id], consistent=True).get(sale.sku_id)
        if card is None or not card.on_sale:
            raise Conflict("the SKU is not on sale: no more of it can go into the sale", code="SKU_NOT_ON_SALE")
        if card.stock < added:
            available = max(0, card.stock)
            raise Conflict(f"only {available} more units of this SKU are available; the edit needs {added}",
                           code="INSUFFICIENT_STOCK", details={"available": available})


# --- the units ----------------------------------------------------------------------------

def _units_per_shard(sale: FlashSaleModel, shards: list[FlashPoolModel], stock: int | None) -> list[int]:
    """Units each shard gains (+) or gives back (-) for the new cap: the shards end as even as whole units go."""
    levels = [int(row.available) for row in shards]
    change = 0 if stock is None else stock - int(sale.stock)
    if change >= 0:
        return _level_up(change, levels)
    return [-taken for taken in _level_up(-change, [-level for level in levels])]


def _level_up(units: int, levels: list[int]) -> list[int]:
    """`units` given to the lowest of `levels` first (water filling): how many each gets."""
    def needed(level: int) -> int:
        return sum(max(0, level - current) for current in levels)

    low, high = min(levels), min(levels) + units  # the highest level every shard can be raised to
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if needed(middle) <= units else (low, middle - 1)
    given = [max(0, low - current) for current in levels]
    rest = units - sum(given)  # fewer than the shards now at `low`: one more each to some of them
    for index in sorted(range(len(levels)), key=lambda i: levels[i])[:rest]:
        given[index] += 1
    return given


# --- the transaction ----------------------------------------------------------------------

def _write(tx: Any, sale: FlashSaleModel, shards: list[FlashPoolModel], changes: dict[str, Any], units: list[int],
           token: str, actor: str) -> None:
    """The edit, top to bottom: the sale, every shard, the SKU's regular stock."""
    version = flash_stock.version_of(sale)
    actions = [getattr(FlashSaleModel, field).set(value) for field, value in changes.items()]
    actions += [FlashSaleModel.version.set(version + 1), FlashSaleModel.edit_token.set(token),
                FlashSaleModel.edited_at.set(clock.now()), FlashSaleModel.edited_by.set(actor)]
    if sum(units) > 0:  # units were added: at this commit the sale is not sold out
        actions.append(FlashSaleModel.sold_out.set(False))
    same = FlashSaleModel.version == version
    if version == 0:
        same = FlashSaleModel.version.does_not_exist() | same
    tx.update(FlashSaleModel(sale.sale_id), actions=actions, condition=same & FlashSaleModel.closed_at.does_not_exist())
    untouched_since_read = any(field in changes for field in BEFORE_START_ONLY)
    for row, added in zip(shards, units, strict=True):
        _write_shard(tx, row, added, changes, version + 1, untouched_since_read)
    moved = sum(units)
    if moved > 0:
        reservations.add_move_to_pool(tx, sale.sku_id, moved)
    elif moved < 0:  # once: every shard it comes from is conditioned on still holding it
        reservations.add_return_from_pool(tx, sale.sku_id, -moved)


def _write_shard(tx: Any, row: FlashPoolModel, added: int, changes: dict[str, Any], terms: int,
                 untouched_since_read: bool) -> None:
    actions = [FlashPoolModel.terms.set(terms), FlashPoolModel.version.add(1)]
    condition = FlashPoolModel.pool_key.exists()
    if added:
        actions += [FlashPoolModel.allotted.add(added), FlashPoolModel.available.add(added)]
    if added < 0:
        condition = condition & (FlashPoolModel.available >= -added)
    if untouched_since_read:
        condition = condition & (FlashPoolModel.version == int(row.version))
    if "starts_at" in changes:
        actions.append(FlashPoolModel.opens_at.set(changes["starts_at"]))
    if "ends_at" in changes:
        actions.append(FlashPoolModel.closes_at.set(changes["ends_at"]))
    tx.update(FlashPoolModel(row.pool_key), actions=actions, condition=condition)


def _edited_by(sale_id: str, token: str) -> bool:
    """Whether this edit committed (its reply lost, the resend then failed the version it had moved on)."""
    sale = get_or_none(FlashSaleModel, sale_id)
    return sale is not None and sale.edit_token == token


def _shown(value: Any) -> Any:
    return clock.iso(value) if isinstance(value, datetime) else value
