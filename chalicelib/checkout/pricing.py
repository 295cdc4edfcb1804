"""Pricing an order: lines from the catalog's current cards, discounts, shipping, payable.

Prices never come from the client. The seam for coupons and points (the
marketing feature) is `Discount`: each one knows its amount and adds the write
that consumes it (a coupon marked used, points deducted) to the order's own
transaction, so a discount is spent if and only if the order exists.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.catalog.reads import SkuCard
from chalicelib.core import config
from chalicelib.core.config import ConfigError
from chalicelib.core.errors import Unprocessable

DEFAULT_SHIPPING_FEE = 1000  # fen: ¥10 flat
DEFAULT_FREE_SHIPPING_THRESHOLD = 9900  # fen: free from ¥99 (after discounts)


@dataclass(frozen=True)
class PricedLine:
    card: SkuCard
    quantity: int
    shard: int = 0

    @property
    def line_total(self) -> int:
        return self.card.price * self.quantity


@dataclass(frozen=True)
class Discount:
    source: str  # COUPON or POINTS
    amount: int  # fen
    consume: Callable[[Any], None]  # adds its write to the order's TransactWrite


@dataclass(frozen=True)
class Quote:
    lines: list[PricedLine]
    items_total: int
    shipping_fee: int
    discounts: list[Discount] = field(default_factory=list)

    @property
    def discount_total(self) -> int:
        return sum(discount.amount for discount in self.discounts)

    @property
    def payable(self) -> int:
        return self.items_total - self.discount_total + self.shipping_fee


def shipping_fee() -> int:
    return _fen_setting("MALL_SHIPPING_FEE", DEFAULT_SHIPPING_FEE)


def free_shipping_threshold() -> int:
    """Items total (after discounts) from which shipping is free; 0 makes shipping always free."""
    return _fen_setting("MALL_FREE_SHIPPING_THRESHOLD", DEFAULT_FREE_SHIPPING_THRESHOLD)


def _fen_setting(name: str, default: int) -> int:
    value = config.env_int(name, default)
    if value < 0:
        raise ConfigError(f"{name} is an amount in fen and cannot be negative, got {value}")
    return value


def quote(lines: list[PricedLine], *, user_id: str, coupon_id: str | None, points: int | None) -> Quote:
    items_total = sum(line.line_total for line in lines)
    discounts = _discounts(user_id, items_total, coupon_id, points)
    after_discounts = items_total - sum(discount.amount for discount in discounts)
    fee = 0 if after_discounts >= free_shipping_threshold() else shipping_fee()
    return Quote(lines=lines, items_total=items_total, shipping_fee=fee, discounts=discounts)


def _discounts(user_id: str, items_total: int, coupon_id: str | None, points: int | None) -> list[Discount]:
    """Coupons and points join here when the marketing feature lands.

    Until then no coupon exists and no buyer holds points, so asking for either
    is well-formed but impossible: 422, never a silent full-price order.
    """
    if coupon_id is not None:
        raise Unprocessable(f"coupon {coupon_id} cannot be applied to this order", code="COUPON_NOT_APPLICABLE")
    if points:
        raise Unprocessable("you have no points to spend", code="POINTS_NOT_APPLICABLE")
    return []
