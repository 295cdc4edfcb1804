"""Coupons at checkout: what checkout reads about a buyer's coupons, and the writes that spend and return one.

A coupon moves only inside the order's own transactions:

- submit: AVAILABLE -> LOCKED(order_id), on condition that it is AVAILABLE and valid now (the key is the
  buyer's own, so another buyer's coupon id is simply not found). Of five orders racing with one coupon,
  one commits; the others' transactions are cancelled and they are refused on a fresh read (422 LOCKED).
- payment: LOCKED -> USED;
- cancel, expiry, or a full refund: back to AVAILABLE, or EXPIRED when that happens after `valid_until`.

The last two are unconditional, as a stock release is: the order's move they ride in is conditioned on
the order's status, which is what makes them happen once, and no coupon state may ever block a payment
or a cancel. Only the order that locked a coupon can reach those writes.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.core import clock
from chalicelib.core.errors import NotFound
from chalicelib.core.ids import looks_like_id
from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)
from chalicelib.marketing.models import (
    AVAILABLE,
    EXPIRED,
    LOCKED,
    SCOPE_ALL,
    SCOPE_CATEGORIES,
    SCOPE_PRODUCTS,
    USED,
    CouponModel,
)

if TYPE_CHECKING:
    from chalicelib.core.batch_reads import ReadBatch

__all__ = ["AVAILABLE", "EXPIRED", "LOCKED", "USED", "SCOPE_ALL", "SCOPE_CATEGORIES", "SCOPE_PRODUCTS",
           "HeldCoupon", "ask_coupon_for_order", "coupons_to_offer", "add_lock", "add_use", "add_return"]

OFFER_LIMIT = 200  # coupons a preview judges: a buyer rarely holds more than a handful


@dataclass(frozen=True)
class HeldCoupon:
    """A buyer's coupon with the terms it was claimed under."""
    coupon_id: str
    template_id: str
    name: str
    kind: str
    amount_off: int | None
    percent_off: int | None
    max_discount: int | None
    min_spend: int
    scope_kind: str
    scope_ids: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime
    status: str  # as stored: AVAILABLE, LOCKED, USED or EXPIRED

    def covers(self, product_id: str, category_id: str | None) -> bool:
        """Whether a line of `product_id` (in `category_id`) is in this coupon's scope."""
        if self.scope_kind == SCOPE_PRODUCTS:
            return product_id in self.scope_ids
        if self.scope_kind == SCOPE_CATEGORIES:
            return category_id is not None and category_id in self.scope_ids
        return True


def held(coupon: CouponModel) -> HeldCoupon:
    return HeldCoupon(coupon_id=coupon.coupon_id, template_id=coupon.template_id, name=coupon.name,
                      kind=coupon.kind, amount_off=_int(coupon.amount_off), percent_off=_int(coupon.percent_off),
                      max_discount=_int(coupon.max_discount), min_spend=int(coupon.min_spend or 0),
                      scope_kind=coupon.scope_kind, scope_ids=tuple(coupon.scope_ids or ()),
                      valid_from=coupon.valid_from, valid_until=coupon.valid_until, status=coupon.status)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def ask_coupon_for_order(batch: ReadBatch, user_id: str, coupon_id: str) -> Callable[[], HeldCoupon]:
    """The buyer's own coupon, read consistently (it is about to be locked) in `batch` with other features'
    reads: the callable answers once the batch has run; any other id (another buyer's included) is
    404 COUPON_NOT_FOUND."""
    if not looks_like_id(coupon_id):
        return lambda: _held_or_not_found(None)
    coupon = batch.ask(CouponModel, (user_id, coupon_id), consistent=True)
    return lambda: _held_or_not_found(coupon())


def _held_or_not_found(coupon: CouponModel | None) -> HeldCoupon:
    if coupon is None:
        raise NotFound("coupon not found", code="COUPON_NOT_FOUND")
    return held(coupon)


def coupons_to_offer(user_id: str) -> list[HeldCoupon]:
    """The buyer's unspent coupons (stored AVAILABLE; the clock decides valid or expired), newest first."""
    rows = CouponModel.query(user_id, filter_condition=CouponModel.status == AVAILABLE, scan_index_forward=False,
                             limit=OFFER_LIMIT)
    return [held(row) for row in rows]


def add_lock(tx: Any, user_id: str, coupon_id: str, order_id: str) -> None:
    """AVAILABLE -> LOCKED by `order_id`, only while available and within its validity."""
    now = clock.now()
    tx.update(CouponModel(user_id, coupon_id),
              actions=[CouponModel.status.set(LOCKED), CouponModel.order_id.set(order_id),
                       CouponModel.locked_at.set(now)],
              condition=(CouponModel.status == AVAILABLE) & (CouponModel.valid_from <= now)
              & (CouponModel.valid_until > now))


def add_use(tx: Any, user_id: str, coupon_id: str, order_id: str) -> None:
    """LOCKED -> USED: the order that locked it was paid."""
    tx.update(CouponModel(user_id, coupon_id),
              actions=[CouponModel.status.set(USED), CouponModel.order_id.set(order_id),
                       CouponModel.used_at.set(clock.now())])


def add_return(tx: Any, user_id: str, coupon_id: str, valid_until: datetime) -> None:
    """Back to the buyer (the order was cancelled, expired or refunded in full): AVAILABLE while still valid,
    else EXPIRED."""
    now = clock.now()
    status = AVAILABLE if valid_until > now else EXPIRED
    tx.update(CouponModel(user_id, coupon_id),
              actions=[CouponModel.status.set(status), CouponModel.order_id.remove(),
                       CouponModel.locked_at.remove(), CouponModel.used_at.remove(),
                       CouponModel.returned_at.set(now)])
