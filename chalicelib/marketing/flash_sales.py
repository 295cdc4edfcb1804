"""Flash sales (秒杀) as staff run them and buyers list them: create, list, read, end, close when due
(editing one: flash_edits.py).

Creating a sale moves its stock cap out of the SKU's regular available stock into the sale's
pool in one transaction with the sale and its shard items (the catalog's conditional move: regular
stock never below zero). Ending one (staff, or the closer once `ends_at` passed) first closes every
shard (a reservation is conditioned on an open shard, so no order commits after that), then moves
each shard's available units back to regular stock, each move conditioned on the shard as read.
Units held by unpaid orders at that moment come back to their shard when those orders are cancelled
or expire, and the pool's stream handler moves them on to regular stock the same way: every unit
returns exactly once, however the end and the orders in flight interleave.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chalicelib.catalog import reservations
from chalicelib.catalog.reads import sku_cards
from chalicelib.core import clock, config, metrics
from chalicelib.core.db import batch_get, commit_if_conditions_hold, get_or_none
from chalicelib.core.errors import BadRequest, Conflict, NotFound
from chalicelib.core.ids import looks_like_id, new_id
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.marketing import flash_stock
from chalicelib.marketing.flash_models import (
    ALL_SALES,
    OPEN_LISTING,
    FlashPoolModel,
    FlashSaleModel,
    pool_key,
)
from chalicelib.marketing.flash_views import (
    ENDED,
    RUNNING,
    SOLD_OUT,
    UPCOMING,
    FlashSaleAdminView,
    FlashSaleList,
    FlashSalePage,
    FlashSaleView,
    NewFlashSale,
)

DEFAULT_SHARDS = 4  # MALL_FLASH_DEFAULT_SHARDS: ~2,000 reservations a second (docs/DEPLOY.md)
DEFAULT_PAYMENT_TIMEOUT = 300  # seconds
BY_STAFF, BY_TIME = "STAFF", "TIME"


def default_shards() -> int:
    shards = config.env_int("MALL_FLASH_DEFAULT_SHARDS", DEFAULT_SHARDS)
    if not 1 <= shards <= 64:
        raise config.ConfigError(f"MALL_FLASH_DEFAULT_SHARDS must be 1-64, got {shards}")
    return shards


# --- staff ------------------------------------------------------------------------------

def create_sale(request: NewFlashSale, *, actor: str) -> FlashSaleAdminView:
    starts_at, ends_at = request.starts_at.astimezone(clock.UTC), request.ends_at.astimezone(clock.UTC)
    if ends_at <= starts_at:
        raise BadRequest("ends_at must be after starts_at", code="VALIDATION_ERROR")
    if ends_at <= clock.now():
        raise BadRequest("ends_at must be in the future", code="VALIDATION_ERROR")
    card = sku_cards([request.sku_id], consistent=True).get(request.sku_id)
    if card is None:
        raise NotFound("SKU not found", code="SKU_NOT_FOUND")
    if not card.on_sale:
        raise Conflict("the SKU is not on sale", code="SKU_NOT_ON_SALE")
    # an order's units come from one shard: every shard starts with at least a buyer's whole limit
    shards = max(1, min(request.shards or default_shards(), request.stock // request.per_user_limit))
    now = clock.now()
    sale = FlashSaleModel(
        new_id(), sku_id=card.sku_id, product_id=card.product_id, title=card.title,
        specs_json=json.dumps(card.specs, ensure_ascii=False, sort_keys=True), image=card.image,
        original_price=card.price, sale_price=request.sale_price, stock=request.stock,
        per_user_limit=request.per_user_limit,
        payment_timeout_seconds=request.payment_timeout_seconds or DEFAULT_PAYMENT_TIMEOUT, shards=shards,
        starts_at=starts_at, ends_at=ends_at, sold_out=False, pool_version=0, open_listing=OPEN_LISTING,
        group=ALL_SALES, created_at=now, created_by=actor, version=0)
    pools = [FlashPoolModel(pool_key(sale.sale_id, shard), sale_id=sale.sale_id, shard=shard, sku_id=card.sku_id,
                            allotted=units, available=units, opens_at=starts_at, closes_at=ends_at, terms=0)
             for shard, units in enumerate(_split(request.stock, shards))]

    def build(tx: Any) -> None:
        tx.save(sale, condition=FlashSaleModel.sale_id.does_not_exist())
        for pool in pools:
            tx.save(pool, condition=FlashPoolModel.pool_key.does_not_exist())
        reservations.add_move_to_pool(tx, card.sku_id, request.stock)

    if not commit_if_conditions_hold(build, committed_already=lambda: _exists(sale.sale_id)):
        available = max(0, sku_cards([card.sku_id], consistent=True)[card.sku_id].stock)
        raise Conflict(f"only {available} units of this SKU are available; the sale needs {request.stock}",
                       code="INSUFFICIENT_STOCK", details={"available": available})
    metrics.count("FlashSalesCreated")
    return admin_view(sale, pools)


def _split(units: int, shards: int) -> list[int]:
    """`units` over `shards` as evenly as whole units go (the first shards take the remainder)."""
    share, extra = divmod(units, shards)
    return [share + (1 if shard < extra else 0) for shard in range(shards)]


def _exists(sale_id: str) -> bool:
    return get_or_none(FlashSaleModel, sale_id) is not None


def end_sale(sale_id: str, *, reason: str = BY_STAFF, due_by: datetime | None = None) -> FlashSaleAdminView:
    """Close the pool, then send its available units back to regular stock (each exactly once); idempotent.

    `due_by` (the closer): close only while the sale's `ends_at` is at or before it, in the closing
    transaction's own condition, so an edit that moved the end later after the closer's query is kept."""
    sale = load_sale(sale_id)
    if sale.closed_at is None and (due_by is None or sale.ends_at <= due_by):
        now = clock.now()
        condition = FlashSaleModel.closed_at.does_not_exist()
        if due_by is not None:
            condition = condition & (FlashSaleModel.ends_at <= due_by)

        def build(tx: Any) -> None:
            tx.update(FlashSaleModel(sale_id), actions=[FlashSaleModel.closed_at.set(now),
                                                        FlashSaleModel.close_reason.set(reason),
                                                        FlashSaleModel.open_listing.remove()],
                      condition=condition)
            for shard in range(int(sale.shards)):
                tx.update(FlashPoolModel(pool_key(sale_id, shard)),
                          actions=[FlashPoolModel.closed.set(True), FlashPoolModel.version.add(1)])

        if commit_if_conditions_hold(build):
            metrics.count("FlashSalesEnded", reason=reason)
            sale.closed_at = now
        else:
            sale = load_sale(sale_id)  # ended meanwhile, or (the closer) an edit moved its end later
    if sale.closed_at is not None:
        for shard in range(int(sale.shards)):
            flash_stock.return_closed_shard(sale_id, shard)
    flash_stock.forget_cached()
    sale = load_sale(sale_id)
    return admin_view(sale, flash_stock.pool_shards(sale, consistent=True))


def close_due_sales() -> int:
    """The closer (a schedule): end every open sale whose `ends_at` has passed; the number ended."""
    now = clock.now()
    due = [row.sale_id for row in FlashSaleModel.open_sales.query(OPEN_LISTING,
                                                                 range_key_condition=FlashSaleModel.ends_at <= now)]
    ended = [end_sale(sale_id, reason=BY_TIME, due_by=now) for sale_id in due]
    return sum(1 for view in ended if view.closed_at is not None)


def list_sales(cursor: str | None, limit: int) -> FlashSalePage:
    before = decode_cursor(cursor)
    condition = FlashSaleModel.sale_id < before if before else None
    rows = list(FlashSaleModel.all_sales.query(ALL_SALES, range_key_condition=condition, scan_index_forward=False,
                                               limit=limit + 1))
    page = rows[:limit]
    shards = _shards_of(page)
    next_cursor = encode_cursor(rows[limit - 1].sale_id) if len(rows) > limit else None
    return FlashSalePage(items=[admin_view(sale, shards.get(sale.sale_id, [])) for sale in page],
                         next_cursor=next_cursor)


def load_sale(sale_id: str) -> FlashSaleModel:
    sale = get_or_none(FlashSaleModel, sale_id) if looks_like_id(sale_id) else None
    if sale is None:
        raise NotFound("no such flash sale", code="FLASH_SALE_NOT_FOUND")
    return sale


# --- buyers -----------------------------------------------------------------------------

def current_sales() -> FlashSaleList:
    """Running and upcoming sales (not closed, not past their end), soonest ending first."""
    now = clock.now()
    rows = [row for row in FlashSaleModel.open_sales.query(OPEN_LISTING,
                                                          range_key_condition=FlashSaleModel.ends_at > now)]
    shards = _shards_of(rows)
    return FlashSaleList(items=[buyer_view(sale, shards.get(sale.sale_id, [])) for sale in rows])


def get_sale(sale_id: str) -> FlashSaleView:
    sale = load_sale(sale_id)
    return buyer_view(sale, flash_stock.pool_shards(sale))


def _shards_of(sales: list[FlashSaleModel]) -> dict[str, list[FlashPoolModel]]:
    keys = [(pool_key(sale.sale_id, shard),) for sale in sales for shard in range(int(sale.shards))]
    found: dict[str, list[FlashPoolModel]] = {}
    for row in batch_get(FlashPoolModel, keys):
        found.setdefault(row.sale_id, []).append(row)
    return found


# --- views ------------------------------------------------------------------------------

def status_of(sale: FlashSaleModel, remaining: int, now: datetime | None = None) -> str:
    now = now or clock.now()
    if sale.closed_at is not None or now >= sale.ends_at:
        return ENDED
    if now < sale.starts_at:
        return UPCOMING
    return SOLD_OUT if remaining <= 0 else RUNNING


def _buyer_fields(sale: FlashSaleModel, shards: list[FlashPoolModel]) -> dict[str, Any]:
    remaining = flash_stock.totals_of(shards).available if sale.closed_at is None else 0
    return {"sale_id": sale.sale_id, "product_id": sale.product_id, "sku_id": sale.sku_id, "title": sale.title,
            "image": sale.image, "sale_price": int(sale.sale_price), "original_price": int(sale.original_price),
            "starts_at": clock.iso(sale.starts_at), "ends_at": clock.iso(sale.ends_at),
            "status": status_of(sale, remaining), "remaining": remaining,
            "per_user_limit": int(sale.per_user_limit),
            "payment_timeout_seconds": int(sale.payment_timeout_seconds)}


def buyer_view(sale: FlashSaleModel, shards: list[FlashPoolModel]) -> FlashSaleView:
    return FlashSaleView(**_buyer_fields(sale, shards))


def admin_view(sale: FlashSaleModel, shards: list[FlashPoolModel]) -> FlashSaleAdminView:
    totals = flash_stock.totals_of(shards)
    return FlashSaleAdminView(**_buyer_fields(sale, shards), stock=int(sale.stock), shards=int(sale.shards),
                              reserved=totals.reserved, sold=totals.sold, returned=totals.returned,
                              closed_at=clock.iso(sale.closed_at) if sale.closed_at else None,
                              close_reason=sale.close_reason, created_at=clock.iso(sale.created_at),
                              created_by=sale.created_by, version=int(sale.version or 0),
                              edited_at=clock.iso(sale.edited_at) if sale.edited_at else None,
                              edited_by=sale.edited_by)
