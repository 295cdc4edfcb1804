"""Checkout: pricing and submitting orders, and reading them back.

A submit is one DynamoDB transaction: for each distinct SKU a conditional
move of stock from available to reserved (on condition of enough stock, still
on sale, at the price quoted), the order, the buyer's idempotency record, and
the removal of the bought cart lines. All of it commits or none of it does.

The idempotency record is written inside that transaction, so an order exists
if and only if its key is taken: a retry after any failure either finds the key
(and answers with the same order) or finds nothing reserved and starts over.
DynamoDB's own ClientRequestToken is not used: it lasts ten minutes and moto
ignores it.

DynamoDB calls per submit, whatever the number of lines: Query (the cart, only `from_cart`: its
lines name the SKUs), one BatchGetItem (core/batch_reads: the key, the address, the SKU cards, the member
account and level table, the coupon when one is named; each table read as consistently as alone),
BatchGetItem (product categories, only for a category-scoped coupon: they need the coupon's scope and the
cards' products), TransactWriteItems. The reads are checked in the order a buyer is answered: the key's
earlier order first (a replay answers it whatever else the batch found), then the lines, the address, the
SKUs, the discounts.
"""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from chalicelib.cart import service as cart
from chalicelib.catalog import reservations
from chalicelib.catalog.models import MAIN_SHARD
from chalicelib.catalog.reads import SkuCard, ask_sku_cards
from chalicelib.checkout import statuses
from chalicelib.checkout.discounts import ask_quote
from chalicelib.checkout.models import AppliedCouponRecord, OrderLine, OrderModel, ShippingAddress, shard_of
from chalicelib.checkout.orders import get_order
from chalicelib.checkout.pricing import LineShare, PricedLine, Quote, free_shipping_threshold
from chalicelib.checkout.views import (
    CouponChoice,
    OrderPreview,
    OrderView,
    address_view,
    applied_coupon_view,
    line_view,
    order_view,
)
from chalicelib.core import clock, config, metrics
from chalicelib.core.batch_reads import ReadBatch
from chalicelib.core.db import commit_if_conditions_hold, until_committed
from chalicelib.core.errors import BadRequest, Conflict, NotFound, ServiceUnavailable
from chalicelib.core.idempotency import TransactionKey, required_transaction_key
from chalicelib.core.ids import new_id
from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)
from chalicelib.members import service as members

if TYPE_CHECKING:  # a body the edge validated is its fields (core/input_schemas.Fields), not the model
    from collections.abc import Callable

    from chalicelib.checkout.inputs import OrderSubmission

# 2 items per SKU (reservation, cart line) + order + key + cart header = 93 of DynamoDB's 100
# actions per transaction, leaving room for a coupon, points and a flash-sale quota.
MAX_ORDER_SKUS = 45
MAX_LINE_QUANTITY = 99
DEFAULT_PAYMENT_TIMEOUT = 900
# Rounds of read-and-commit when what was read changed before the commit (a price, the cart).
SUBMIT_ATTEMPTS = 4


def payment_timeout() -> timedelta:
    seconds = config.env_int("MALL_ORDER_PAYMENT_TIMEOUT", DEFAULT_PAYMENT_TIMEOUT)
    if seconds < 1:
        raise config.ConfigError(f"MALL_ORDER_PAYMENT_TIMEOUT must be positive, got {seconds}")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Plan:
    """An order as read and priced, ready to commit."""
    quote: Quote
    address: ShippingAddress | None
    from_cart: bool


class _Replayed(Exception):  # noqa: N818 - not an error: the key's earlier order is the answer
    """Reading stops: the Idempotency-Key already created an order (a regular or a flash one), which is the answer."""

    def __init__(self, order: OrderView) -> None:
        super().__init__(order.order_id)
        self.order = order


# --- preview and submit ---------------------------------------------------------------

def preview_order(user_id: str, request: OrderSubmission) -> OrderPreview:
    if request.flash_sale_id is not None:
        from chalicelib.checkout.flash import preview_flash_order

        return preview_flash_order(user_id, request)
    plan = _plan(user_id, request, require_address=False, offer_coupons=True)
    priced, parts = plan.quote, plan.quote.breakdown
    return OrderPreview(items=[line_view(line) for line in _order_lines(priced)],
                        items_total=priced.items_total, member_discount=parts.member_discount,
                        coupon_discount=parts.coupon_discount, points_discount=parts.points_discount,
                        discount_total=priced.discount_total, shipping_fee=priced.shipping_fee, payable=priced.payable,
                        address=address_view(plan.address) if plan.address else None,
                        free_shipping_threshold=free_shipping_threshold(), member_level=priced.member_level,
                        member_discount_percent=priced.member_percent,
                        coupon=applied_coupon_view(_coupon_record(priced)),
                        coupons=[CouponChoice(coupon_id=o.coupon_id, template_id=o.template_id, name=o.name,
                                              kind=o.kind, applicable=o.applicable, discount=o.discount,
                                              reason=o.reason, valid_until=clock.iso(o.valid_until))
                                 for o in priced.coupon_options],
                        best_coupon_id=priced.best_coupon_id, points_balance=priced.points_balance or 0,
                        points_max=parts.points_max)


def submit_order(user_id: str, request: OrderSubmission, idempotency_key: str | None) -> OrderView:
    """Create the order, or return the one this key already created for this request."""
    if request.flash_sale_id is not None:
        from chalicelib.checkout.flash import submit_flash_order

        return submit_flash_order(user_id, request, idempotency_key)
    key = order_key(user_id, idempotency_key, request)

    def attempt() -> OrderView | None:
        try:
            plan = _plan(user_id, request, require_address=True, key=key)
        except _Replayed as replay:
            return replay.order
        order = _new_order(user_id, plan, request.note, idempotency_key)
        if commit_if_conditions_hold(lambda tx: _write_order(tx, order, plan, key)):
            metrics.count("OrdersCreated")
            return order_view(order)
        # Something read above changed before the commit: the same key committed by a concurrent
        # request (or by this one, its reply lost), stock taken, a price or the cart changed. Explain or retry.
        return _explain_cancelled(user_id, key, plan.quote.lines)

    return until_committed(attempt, attempts=SUBMIT_ATTEMPTS, gives_up=lambda: ServiceUnavailable(
        "the order could not be placed while the shop is this busy, retry", code="BUSY"))


def _write_order(tx, order: OrderModel, plan: Plan, key: TransactionKey) -> None:
    """The checkout transaction, top to bottom."""
    for line in plan.quote.lines:
        reservations.add_reservation(tx, line.card.sku_id, line.shard, line.quantity, line.card.price)
    tx.save(order, condition=OrderModel.order_id.does_not_exist())
    key.add_record(tx, order.order_id, created_at=order.created_at)
    if plan.from_cart:
        # conditioned on the quantities priced: units added meanwhile make checkout re-read, never vanish
        cart.add_line_removals(tx, order.user_id, {line.card.sku_id: line.quantity for line in plan.quote.lines})
    for discount in plan.quote.discounts:
        discount.consume(tx, order.order_id)


# --- reading and pricing what the buyer asked for -------------------------------------

def _plan(user_id: str, request: OrderSubmission, *, require_address: bool, offer_coupons: bool = False,
          key: TransactionKey | None = None) -> Plan:
    """The order read and priced: its independent reads in one BatchGetItem (after the cart's Query, whose
    lines name the SKUs). With a `key` that already created an order, `_Replayed` before any refusal."""
    batch = ReadBatch()
    earlier = ask_order_for_key(batch, user_id, key) if key is not None else None
    try:
        wanted = _wanted_quantities(user_id, request)
    except BadRequest:
        _answer_key_first(batch, earlier)  # the key alone: a replay's cart is empty by now
        raise
    address = _ask_address(batch, user_id, request.address_id, required=require_address)
    cards_read = ask_sku_cards(batch, wanted)
    priced = ask_quote(batch, user_id=user_id, coupon_id=request.coupon_id)
    _answer_key_first(batch, earlier)
    shipping = address()
    cards = cards_read()
    lines = [PricedLine(card=cards[sku_id], quantity=quantity, shard=MAIN_SHARD)
             for sku_id, quantity in wanted.items() if sku_id in cards]
    _refuse_unknown(wanted, cards)
    _refuse_not_on_sale(lines)
    _refuse_short(lines)
    return Plan(quote=priced(lines, points=request.points, offer_coupons=offer_coupons),
                address=shipping, from_cart=request.from_cart)


def _answer_key_first(batch: ReadBatch, earlier: Callable[[], OrderView | None] | None) -> None:
    batch.run()
    if earlier is not None:
        _refuse_replayed(earlier)


def _refuse_replayed(earlier: Callable[[], OrderView | None]) -> None:
    """`_Replayed` when the key's read (in a batch that has run) found its earlier order."""
    order = earlier()  # 422 IDEMPOTENCY_KEY_REUSED for another request
    if order is not None:
        raise _Replayed(order)


def _wanted_quantities(user_id: str, request: OrderSubmission) -> dict[str, int]:
    """SKU -> quantity, duplicate lines merged (one transaction may touch an item only once)."""
    if request.from_cart:
        pairs = [(line.sku_id, line.quantity) for line in cart.selected_lines(user_id)]
        if not pairs:
            raise BadRequest("the cart has no selected lines", code="CART_EMPTY")
    else:
        pairs = [(item.sku_id, item.quantity) for item in request.items or []]
    wanted: dict[str, int] = {}
    for sku_id, quantity in pairs:
        wanted[sku_id] = wanted.get(sku_id, 0) + quantity
    if len(wanted) > MAX_ORDER_SKUS:
        raise BadRequest(f"an order holds at most {MAX_ORDER_SKUS} different SKUs, got {len(wanted)}",
                         code="TOO_MANY_LINES", details={"max_skus": MAX_ORDER_SKUS})
    too_many = sorted(sku_id for sku_id, quantity in wanted.items() if quantity > MAX_LINE_QUANTITY)
    if too_many:
        raise BadRequest(f"at most {MAX_LINE_QUANTITY} units of one SKU per order", code="QUANTITY_TOO_LARGE",
                         details={"sku_ids": too_many})
    return wanted


def _ask_address(batch: ReadBatch, user_id: str, address_id: str | None, *,
                 required: bool) -> Callable[[], ShippingAddress | None]:
    """The shipping address, read in `batch`: 404 ADDRESS_NOT_FOUND for another buyer's id, 400 ADDRESS_REQUIRED
    for none when `required`."""
    if address_id is None:
        return lambda: _no_address(required)
    found = members.ask_address(batch, user_id, address_id)
    return lambda: _shipping_address(found())


def _no_address(required: bool) -> None:
    if required:
        raise BadRequest("address_id is required to place an order", code="ADDRESS_REQUIRED")
    return None


def _shipping_address(found: members.Address) -> ShippingAddress:
    return ShippingAddress(address_id=found.address_id, name=found.name, phone=found.phone,
                           province=found.province, city=found.city, district=found.district, detail=found.detail)


def _refuse_unknown(wanted: dict[str, int], cards: dict[str, SkuCard]) -> None:
    unknown = [sku_id for sku_id in wanted if sku_id not in cards]
    if unknown:
        raise NotFound(f"no such SKU: {', '.join(unknown)}", code="SKU_NOT_FOUND", details={"sku_ids": unknown})


def _refuse_not_on_sale(lines: list[PricedLine]) -> None:
    off_sale = [line.card.sku_id for line in lines if not line.card.on_sale]
    if off_sale:
        raise Conflict(f"not on sale: {', '.join(off_sale)}", code="SKU_NOT_ON_SALE", details={"sku_ids": off_sale})


def _refuse_short(lines: list[PricedLine]) -> None:
    short = [{"sku_id": line.card.sku_id, "requested": line.quantity, "available": max(line.card.stock, 0)}
             for line in lines if line.card.stock < line.quantity]
    if short:
        names = ", ".join(f"{item['sku_id']} ({item['available']} left)" for item in short)
        metrics.count("OutOfStock")
        raise Conflict(f"not enough stock: {names}", code="OUT_OF_STOCK", details={"lines": short})


def _explain_cancelled(user_id: str, key: TransactionKey, lines: list[PricedLine]) -> OrderView | None:
    """After a cancelled commit, in one BatchGetItem of consistent reads: the key's order (a concurrent twin's,
    or this request's own with its reply lost), else a refusal if stock, sale or existence is why; None: retry."""
    batch = ReadBatch()
    earlier = ask_order_for_key(batch, user_id, key)
    cards_read = ask_sku_cards(batch, [line.card.sku_id for line in lines], consistent=True)
    batch.run()
    order = earlier()
    if order is not None:
        return order
    _refuse_short_lines(lines, cards_read())
    return None


def _refuse_short_lines(lines: list[PricedLine], cards: dict[str, SkuCard]) -> None:
    """Refuse if the fresh `cards` show that stock, sale or existence is why the commit was cancelled."""
    wanted = {line.card.sku_id: line.quantity for line in lines}
    fresh = [PricedLine(card=cards[sku_id], quantity=quantity) for sku_id, quantity in wanted.items()
             if sku_id in cards]
    _refuse_unknown(wanted, cards)
    _refuse_not_on_sale(fresh)
    _refuse_short(fresh)


def _order_lines(priced: Quote) -> list[OrderLine]:
    return [_order_line(line, share) for line, share in zip(priced.lines, priced.breakdown.lines, strict=True)]


def _order_line(line: PricedLine, share: LineShare) -> OrderLine:
    card = line.card
    return OrderLine(sku_id=card.sku_id, shard=line.shard, product_id=card.product_id, title=card.title,
                     specs=dict(card.specs), image=card.image, price=card.price, quantity=line.quantity,
                     line_total=line.line_total, member_discount=share.member, coupon_discount=share.coupon,
                     points_discount=share.points)


def _coupon_record(priced: Quote) -> AppliedCouponRecord | None:
    coupon = priced.coupon
    if coupon is None:
        return None
    return AppliedCouponRecord(coupon_id=coupon.coupon_id, template_id=coupon.template_id, name=coupon.name,
                               discount=coupon.discount, valid_until=coupon.valid_until)


def _new_order(user_id: str, plan: Plan, note: str, idempotency_key: str | None) -> OrderModel:
    now = clock.now()
    order_id = new_id()
    shard = shard_of(order_id)
    expires_at = now + payment_timeout()
    priced, parts = plan.quote, plan.quote.breakdown
    return OrderModel(
        order_id, user_id=user_id, status=statuses.PENDING_PAYMENT, lines=_order_lines(priced),
        items_total=priced.items_total, member_discount=parts.member_discount, coupon_discount=parts.coupon_discount,
        points_discount=parts.points_discount, discount_total=priced.discount_total,
        member_level=priced.member_level, coupon=_coupon_record(priced),
        shipping_fee=plan.quote.shipping_fee, payable=plan.quote.payable, address=plan.address, note=note,
        idempotency_key=idempotency_key, created_at=now, updated_at=now, expires_at=expires_at, refunds=[],
        buyer_status=f"{user_id}#{statuses.PENDING_PAYMENT}", status_shard=f"{statuses.PENDING_PAYMENT}#{shard}",
        listing_shard=f"ALL#{shard}", due_shard=f"EXPIRE#{shard}", due_at=expires_at)


# --- idempotency (core/idempotency.py: transaction_key, required here) -------------------

def order_key(user_id: str, idempotency_key: str | None, request: OrderSubmission) -> TransactionKey:
    """The order's key: required, per buyer (two buyers may pick the same key), the request fingerprinted as
    JSON (the same whether the edge validated it by its committed schema or a caller built the model)."""
    return required_transaction_key(
        f"checkout#{user_id}", idempotency_key, request,
        missing="the Idempotency-Key header is required: send a new random key for each new order",
        reused="this Idempotency-Key was used for a different order request; use a new key")


def ask_order_for_key(batch: ReadBatch, user_id: str, key: TransactionKey) -> Callable[[], OrderView | None]:
    """The order this key already created for this request, its record read in `batch`: once the batch has run,
    the order, or None (422 IDEMPOTENCY_KEY_REUSED for another request)."""
    created = key.ask_created(batch)

    def earlier() -> OrderView | None:
        order_id = created()
        return None if order_id is None else get_order(user_id, order_id)
    return earlier
