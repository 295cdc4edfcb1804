"""Flash-sale orders: `POST /orders` with `flash_sale_id` (submit delegates here).

One line of the sale's SKU at `sale_price`, no coupon, no member discount, no points. The order's
one TransactWriteItems holds: one pool shard (`available >= qty`, the pool open, the sale's window by
the server clock), the buyer's quota item (`bought + qty <= per_user_limit`), the order and its
idempotency record. The shard is picked at random; when its condition fails, the quota and the whole
pool are read again (consistently, one BatchGetItem) to say why: the buyer's limit (409 LIMIT_REACHED),
the sale closed or past its window (422), or the shard empty: a random shard that still holds the
quantity is tried next, so a request makes at most a couple of writes even as the pool drains. A
transaction DynamoDB cancels for a conflict on the shard (another order's transaction on the same item)
or throttles is not retried on that shard: the next attempt goes to another one at once. No
shard holding it is 409 SOLD_OUT, and this function then answers SOLD_OUT without a
transaction until it reads the sale again (at most once a second, marketing.flash_stock), as it does
for every request once the pool's stream handler has flagged the sale sold out.

The shard's condition also names the sale's `version` the order was priced from (its terms: price,
per-buyer limit, payment timeout). After staff edit the sale (marketing.flash_edits), an order priced
from the sale as read before the edit fails that condition; the pool read that follows shows the new
terms, and the order reads the sale again and is placed under them, or refused by them: never a mix.

DynamoDB calls per submit: one BatchGetItem (core/batch_reads: the key consistently, the sale eventually and
only when this function's copy is over a second old, the buyer's quota eventually, the address consistently:
each as consistently as it was read alone), then TransactWriteItems. The answers are checked in the order a
buyer has always been answered: a key that already made an order answers it (even after the sale sold out
or ended), then the sale (not running, another SKU, sold out), the buyer's limit, the address. When the
sale as cached here already refuses the order (sold out, not running) the batch holds the key alone: after
the sell-out a request costs that one read and never a transaction. After a reservation that did not
commit: the key and, after a refusal, the quota (consistently) in one BatchGetItem, then the pool's.
"""
from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import TYPE_CHECKING

from chalicelib.catalog.reads import SkuCard
from chalicelib.checkout import statuses
from chalicelib.checkout.models import OrderModel, ShippingAddress, shard_of
from chalicelib.checkout.pricing import PricedLine, Quote, free_shipping_threshold, price, shipping_fee
from chalicelib.checkout.service import (
    _ask_address,
    _order_lines,
    _refuse_replayed,
    _Replayed,
    ask_order_for_key,
    order_key,
)
from chalicelib.checkout.views import OrderPreview, OrderView, address_view, line_view, order_view
from chalicelib.core import clock, metrics
from chalicelib.core.batch_reads import ReadBatch
from chalicelib.core.db import condition_failed, run_transaction
from chalicelib.core.errors import BadRequest, Conflict, ServiceUnavailable, Unprocessable
from chalicelib.core.ids import new_id
from chalicelib.marketing import flash_stock
from chalicelib.marketing.flash_models import FlashPoolModel, FlashSaleModel

if TYPE_CHECKING:  # a body the edge validated is its fields (core/input_schemas.Fields), not the model
    from collections.abc import Callable

    from chalicelib.checkout.inputs import OrderSubmission
    from chalicelib.core.idempotency import TransactionKey

COMMIT_ATTEMPTS = 6  # reservations tried, each after a read of the pool says which shards still hold units
COMMITTED, REFUSED, CONTENDED = "COMMITTED", "REFUSED", "CONTENDED"


def submit_flash_order(user_id: str, request: OrderSubmission, idempotency_key: str | None) -> OrderView:
    """Create the flash-sale order, or return the one this key already created."""
    sku_id, quantity = _the_line(request)
    key = order_key(user_id, idempotency_key, request)
    try:
        sale, address = _read_order(user_id, key, request, sku_id, quantity)
    except _Replayed as replay:  # a replay answers its order first, even after the sale sold out or ended
        return replay.order
    quote = _quote(sale, quantity)
    shard = random.randrange(int(sale.shards))
    for _ in range(COMMIT_ATTEMPTS):
        order = _new_order(user_id, sale, quote, shard, address, request.note, idempotency_key)
        metrics.count("FlashReservationAttempts")  # vs FlashOrdersCreated: the contention; after a sell-out: 0
        outcome = _reserve(lambda tx, order=order: _write_order(tx, sale, order, key, quantity))
        if outcome == COMMITTED:
            metrics.count("OrdersCreated")
            metrics.count("FlashOrdersCreated")
            return order_view(order)
        try:
            bought = _read_again(user_id, key, sale, refused=outcome == REFUSED)
        except _Replayed as replay:  # a concurrent request with this key, or this one's lost reply
            return replay.order
        if bought is None:  # CONTENDED: another transaction held the shard: another shard, not the same queue
            shard = _other_shard(sale, shard)
            continue
        if bought + quantity > int(sale.per_user_limit):
            raise _limit_reached(sale)
        shards = flash_stock.pool_shards(sale, consistent=True)
        if flash_stock.terms_changed(sale, shards):  # edited since read: the new terms price and limit the order
            sale = flash_stock.reload_sale(sale.sale_id)
            _refuse_outside_sale(sale, sku_id, quantity)
            quote = _quote(sale, quantity)
            shard = random.randrange(int(sale.shards))
            continue
        shard, units_left = _next_shard(sale, shards, quantity)
        if shard is None:
            break
    else:
        raise ServiceUnavailable("the order could not be placed while the sale is this busy, retry", code="BUSY")
    if not units_left:
        flash_stock.mark_sold_out_here(sale)
    raise _sold_out()


def _read_order(user_id: str, key: TransactionKey, request: OrderSubmission, sku_id: str, quantity: int
                ) -> tuple[FlashSaleModel, ShippingAddress | None]:
    """The sale and the address to order with: the key's earlier order (`_Replayed`), the sale, the buyer's
    quota and the address checked in that order, all read in one BatchGetItem. A sale cached here that refuses
    the order (sold out, not running) is not read again and the batch holds the key alone: the crowd after a
    sell-out costs one read each, and never a transaction."""
    batch = ReadBatch()
    earlier = ask_order_for_key(batch, user_id, key)
    sale = flash_stock.cached_sale(request.flash_sale_id)
    if sale is not None and _refused_as_known(sale, sku_id, quantity):
        batch.run()
        _refuse_replayed(earlier)
        _refuse_outside_sale(sale, sku_id, quantity)
        raise _sold_out()
    sale_read = _ask_sale(batch, request.flash_sale_id, sale)
    bought = flash_stock.ask_quota_bought(batch, request.flash_sale_id, user_id)
    address = _ask_address(batch, user_id, request.address_id, required=True)
    batch.run()
    _refuse_replayed(earlier)
    sale = sale_read()
    _refuse_outside_sale(sale, sku_id, quantity)
    if sale.sold_out:
        raise _sold_out()
    if bought() + quantity > int(sale.per_user_limit):
        raise _limit_reached(sale)
    return sale, address()


def _ask_sale(batch: ReadBatch, sale_id: str, cached: FlashSaleModel | None) -> Callable[[], FlashSaleModel]:
    """The sale this function holds (`flash_stock.cached_sale`), else read in `batch`."""
    return (lambda: cached) if cached is not None else flash_stock.ask_sale(batch, sale_id)


def _read_again(user_id: str, key: TransactionKey, sale: FlashSaleModel, *, refused: bool) -> int | None:
    """After a reservation that did not commit: the key's order (`_Replayed`) and, after a refusal, the units
    the buyer has bought (consistently; None after a contention), in one BatchGetItem."""
    batch = ReadBatch()
    earlier = ask_order_for_key(batch, user_id, key)
    bought = flash_stock.ask_quota_bought(batch, sale.sale_id, user_id, consistent=True) if refused else None
    batch.run()
    _refuse_replayed(earlier)
    return bought() if bought is not None else None


def _reserve(build) -> str:
    """One attempt at the order's transaction: COMMITTED, REFUSED (a condition failed) or CONTENDED (DynamoDB
    cancelled it for a conflicting transaction on the same shard, or throttled it)."""
    from pynamodb.exceptions import TransactWriteError

    try:
        run_transaction(build, attempts=1)
        return COMMITTED
    except TransactWriteError as exc:
        if condition_failed(exc):
            return REFUSED
        raise
    except ServiceUnavailable as exc:
        if isinstance(exc.__cause__, TransactWriteError):
            return CONTENDED
        raise


def _other_shard(sale: FlashSaleModel, shard: int) -> int:
    shards = int(sale.shards)
    return shard if shards == 1 else (shard + random.randrange(1, shards)) % shards


def _next_shard(sale: FlashSaleModel, shards: list[FlashPoolModel], quantity: int) -> tuple[int | None, bool]:
    """After a failed reservation, from one consistent read of the whole pool: a random shard still holding
    `quantity` (None when none does), and whether any unit is left at all. A closed pool or a window passed
    is 422."""
    now = clock.now()
    if any(row.closed or not row.opens_at <= now < row.closes_at for row in shards):
        _refuse_not_running(flash_stock.reload_sale(sale.sale_id))
        raise Unprocessable("this flash sale is not running", code="SALE_NOT_RUNNING")
    candidates = [int(row.shard) for row in shards if int(row.available) >= quantity]
    return (random.choice(candidates) if candidates else None), any(int(row.available) > 0 for row in shards)


def _write_order(tx, sale: FlashSaleModel, order: OrderModel, key: TransactionKey, quantity: int) -> None:
    """The flash-sale order's transaction, top to bottom."""
    flash_stock.add_reservation(tx, sale, int(order.lines[0].shard), order.user_id, quantity)
    tx.save(order, condition=OrderModel.order_id.does_not_exist())
    key.add_record(tx, order.order_id, created_at=order.created_at)


def preview_flash_order(user_id: str, request: OrderSubmission) -> OrderPreview:
    sku_id, quantity = _the_line(request)
    batch = ReadBatch()  # the sale (unless cached here) and the address: one BatchGetItem, or none
    sale_read = _ask_sale(batch, request.flash_sale_id, flash_stock.cached_sale(request.flash_sale_id))
    address_read = _ask_address(batch, user_id, request.address_id, required=False)
    batch.run()
    sale = sale_read()
    _refuse_outside_sale(sale, sku_id, quantity)
    address = address_read()
    quote = _quote(sale, quantity)
    return OrderPreview(items=[line_view(line) for line in _order_lines(quote)], items_total=quote.items_total,
                        member_discount=0, coupon_discount=0, points_discount=0, discount_total=0,
                        shipping_fee=quote.shipping_fee, payable=quote.payable,
                        address=address_view(address) if address else None,
                        free_shipping_threshold=free_shipping_threshold(), member_level=None,
                        member_discount_percent=0, coupon=None, coupons=[], best_coupon_id=None, points_balance=0,
                        points_max=0)


# --- rules ------------------------------------------------------------------------------

def _the_line(request: OrderSubmission) -> tuple[str, int]:
    if request.coupon_id is not None or request.points:
        raise Unprocessable("a flash-sale order takes no coupon and no points", code="FLASH_SALE_NO_DISCOUNTS")
    if request.from_cart or not request.items or len({item.sku_id for item in request.items}) != 1:
        raise BadRequest("a flash-sale order is one line of `items`: the sale's SKU", code="FLASH_SALE_ONE_LINE")
    return request.items[0].sku_id, sum(item.quantity for item in request.items)


def _refuse_outside_sale(sale: FlashSaleModel, sku_id: str, quantity: int) -> None:
    refusal = _outside_sale(sale, sku_id, quantity)
    if refusal is not None:
        raise refusal


def _outside_sale(sale: FlashSaleModel, sku_id: str, quantity: int) -> Unprocessable | Conflict | None:
    """Why the sale itself refuses this line, before any stock or quota: not running, another SKU, over the limit."""
    if not flash_stock.running(sale):
        return _not_running(sale)
    if sku_id != sale.sku_id:
        return Unprocessable("this SKU is not the one this flash sale sells", code="SKU_NOT_IN_SALE",
                             details={"sku_id": sale.sku_id})
    if quantity > int(sale.per_user_limit):
        return _limit_reached(sale)
    return None


def _refused_as_known(sale: FlashSaleModel, sku_id: str, quantity: int) -> bool:
    """Whether the sale as this function knows it refuses the order before the buyer's quota or address
    matter (outside the sale, or sold out): then only the key is read, for a replay's earlier order."""
    return bool(sale.sold_out) or _outside_sale(sale, sku_id, quantity) is not None


def _refuse_not_running(sale: FlashSaleModel) -> None:
    if not flash_stock.running(sale):
        raise _not_running(sale)


def _not_running(sale: FlashSaleModel) -> Unprocessable:
    return Unprocessable("this flash sale is not running", code="SALE_NOT_RUNNING",
                         details={"starts_at": clock.iso(sale.starts_at), "ends_at": clock.iso(sale.ends_at)})


def _sold_out() -> Conflict:
    metrics.count("FlashSoldOutAnswers")
    return Conflict("this flash sale is sold out", code="SOLD_OUT")


def _limit_reached(sale: FlashSaleModel) -> Conflict:
    return Conflict(f"at most {int(sale.per_user_limit)} per buyer in this sale", code="LIMIT_REACHED",
                    details={"per_user_limit": int(sale.per_user_limit)})


def _quote(sale: FlashSaleModel, quantity: int) -> Quote:
    """The one pricing function, at the sale price, with no member discount, coupon or points."""
    card = SkuCard(sku_id=sale.sku_id, product_id=sale.product_id, title=sale.title,
                   specs=json.loads(sale.specs_json or "{}"), price=int(sale.sale_price), image=sale.image, stock=0,
                   on_sale=True)
    line = PricedLine(card=card, quantity=quantity)
    breakdown = price([line.line_total], shipping=shipping_fee(), free_from=free_shipping_threshold())
    return Quote(lines=[line], breakdown=breakdown)


def _new_order(user_id: str, sale: FlashSaleModel, quote: Quote, shard: int, address: ShippingAddress | None,
               note: str, idempotency_key: str | None) -> OrderModel:
    now = clock.now()
    order_id = new_id()
    index_shard = shard_of(order_id)
    expires_at = now + timedelta(seconds=int(sale.payment_timeout_seconds))
    lines = _order_lines(quote)
    lines[0].shard = shard  # the pool shard its units were reserved from
    return OrderModel(
        order_id, user_id=user_id, status=statuses.PENDING_PAYMENT, lines=lines, flash_sale_id=sale.sale_id,
        items_total=quote.items_total, member_discount=0, coupon_discount=0, points_discount=0, discount_total=0,
        member_level=None, coupon=None, shipping_fee=quote.shipping_fee, payable=quote.payable, address=address,
        note=note, idempotency_key=idempotency_key, created_at=now, updated_at=now, expires_at=expires_at,
        refunds=[], buyer_status=f"{user_id}#{statuses.PENDING_PAYMENT}",
        status_shard=f"{statuses.PENDING_PAYMENT}#{index_shard}", listing_shard=f"ALL#{index_shard}",
        due_shard=f"EXPIRE#{index_shard}", due_at=expires_at)
