"""Pricing an order: the one function that turns lines, member level, a coupon and points into what is paid.

The order, top to bottom (`price`):

1. line totals: catalog price x quantity (prices never come from the client);
2. member discount: the level's `discount_percent` off every line, rounded down per line;
3. coupon: its discount on its in-scope lines as they stand after the member discount (the minimum
   spend is judged on that amount too), spread over those lines pro rata;
4. points: 1 point = 1 fen off, at most `MALL_POINTS_MAX_SHARE` percent of the items total and never
   more than is left to pay for the items, spread over every line pro rata;
5. shipping: free when the items total after every discount reaches `MALL_FREE_SHIPPING_THRESHOLD`.

Every spread uses largest remainders, so each line's parts sum exactly to the order's and no line is
discounted below zero: a line's `paid` amount is what a partial refund of it could ever return.

The seam with the features that own coupons and points is `Discount`: each one knows its amount and
adds the write that consumes it (the coupon locked, the points deducted) to the order's own
transaction, so a discount is spent if and only if the order exists.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import field
from typing import Any

from chalicelib.catalog.reads import SkuCard
from chalicelib.core import config
from chalicelib.core.config import ConfigError
from chalicelib.core.errors import Unprocessable
from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)

DEFAULT_SHIPPING_FEE = 1000  # fen: ¥10 flat
DEFAULT_FREE_SHIPPING_THRESHOLD = 9900  # fen: free from ¥99 (after discounts)
DEFAULT_POINTS_MAX_SHARE = 50  # percent of the items total points may pay for

AMOUNT_OFF, PERCENT_OFF, NO_THRESHOLD = "AMOUNT_OFF", "PERCENT_OFF", "NO_THRESHOLD"
# Why a coupon does not apply to a basket (the preview's `reason`; a submit's 422 code is COUPON_<reason>).
BELOW_MIN_SPEND, OUT_OF_SCOPE, NOT_YET_VALID, EXPIRED = "BELOW_MIN_SPEND", "OUT_OF_SCOPE", "NOT_YET_VALID", "EXPIRED"
LOCKED, USED = "LOCKED", "USED"


@dataclass(frozen=True)
class PricedLine:
    card: SkuCard
    quantity: int
    shard: int = 0

    @property
    def line_total(self) -> int:
        return self.card.price * self.quantity


@dataclass(frozen=True)
class CouponRule:
    """The arithmetic of a coupon (its terms as the buyer holds them)."""
    kind: str
    amount_off: int = 0
    percent_off: int = 0
    max_discount: int | None = None
    min_spend: int = 0


@dataclass(frozen=True)
class LineShare:
    """One line's part of each discount, in fen."""
    line_total: int
    member: int = 0
    coupon: int = 0
    points: int = 0

    @property
    def discount(self) -> int:
        return self.member + self.coupon + self.points

    @property
    def paid(self) -> int:
        return self.line_total - self.discount


@dataclass(frozen=True)
class Breakdown:
    items_total: int
    member_discount: int
    coupon_discount: int
    points_discount: int
    shipping_fee: int
    lines: list[LineShare]
    points_max: int  # the most points this basket could take, given the member discount and coupon

    @property
    def discount_total(self) -> int:
        return self.member_discount + self.coupon_discount + self.points_discount

    @property
    def payable(self) -> int:
        return self.items_total - self.discount_total + self.shipping_fee


def coupon_verdict(rule: CouponRule, in_scope_amount: int) -> tuple[int, str | None]:
    """(discount, None) when the coupon applies to `in_scope_amount` (after the member discount),
    else (0, reason). The discount never exceeds that amount."""
    if in_scope_amount <= 0:
        return 0, OUT_OF_SCOPE
    if in_scope_amount < rule.min_spend:
        return 0, BELOW_MIN_SPEND
    if rule.kind == PERCENT_OFF:
        discount = in_scope_amount * rule.percent_off // 100
        if rule.max_discount is not None:
            discount = min(discount, rule.max_discount)
    else:  # AMOUNT_OFF (with its minimum spend), NO_THRESHOLD (minimum spend 0)
        discount = rule.amount_off
    return min(discount, in_scope_amount), None


def price(line_totals: Sequence[int], *, member_percent: int = 0, coupon: CouponRule | None = None,
          in_scope: Sequence[bool] | None = None, points: int = 0, points_share: int = DEFAULT_POINTS_MAX_SHARE,
          shipping: int = DEFAULT_SHIPPING_FEE, free_from: int = DEFAULT_FREE_SHIPPING_THRESHOLD) -> Breakdown:
    """The whole price of a basket. Raises Unprocessable when the coupon does not apply or the points
    exceed what the basket may take; what the buyer holds (coupon status, balance) is checked by the caller."""
    if not 0 <= member_percent <= 100:
        raise ValueError(f"member discount percent must be 0-100, got {member_percent}")
    items_total = sum(line_totals)
    member = [total * member_percent // 100 for total in line_totals]
    after_member = [total - off for total, off in zip(line_totals, member, strict=True)]
    coupon_parts = [0] * len(line_totals)
    if coupon is not None:
        scope = list(in_scope) if in_scope is not None else [True] * len(line_totals)
        weights = [amount if inside else 0 for amount, inside in zip(after_member, scope, strict=True)]
        discount, reason = coupon_verdict(coupon, sum(weights))
        if reason is not None:
            raise Unprocessable(f"this coupon does not apply to this order: {reason.lower().replace('_', ' ')}",
                                code=f"COUPON_{reason}", details={"reason": reason})
        coupon_parts = allocate(discount, weights)
    after_coupon = [amount - off for amount, off in zip(after_member, coupon_parts, strict=True)]
    points_max = min(items_total * points_share // 100, sum(after_coupon))
    if points > points_max:
        raise Unprocessable(f"this order takes at most {points_max} points", code="POINTS_EXCEED_LIMIT",
                            details={"points_max": points_max})
    points_parts = allocate(points, after_coupon)
    lines = [LineShare(total, m, c, p)
             for total, m, c, p in zip(line_totals, member, coupon_parts, points_parts, strict=True)]
    discounted = sum(line.paid for line in lines)
    fee = 0 if discounted >= free_from else shipping
    return Breakdown(items_total=items_total, member_discount=sum(member), coupon_discount=sum(coupon_parts),
                     points_discount=points, shipping_fee=fee, lines=lines, points_max=points_max)


def allocate(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` spread over `weights` pro rata, in whole fen, by largest remainder: the parts sum to
    `amount` exactly and none exceeds its weight (`amount` <= sum of weights)."""
    whole = sum(weights)
    if amount == 0:
        return [0] * len(weights)
    if not 0 < amount <= whole:
        raise ValueError(f"cannot spread {amount} over {whole}")
    parts = [amount * weight // whole for weight in weights]
    remainders = [amount * weight % whole for weight in weights]
    left = amount - sum(parts)
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        parts[index] += 1
    return parts


# --- the order's quote: what checkout reads and commits ---------------------------------------------

@dataclass(frozen=True)
class Discount:
    source: str  # COUPON or POINTS
    amount: int  # fen
    consume: Callable[[Any, str], None]  # (tx, order_id): adds its write to the order's TransactWrite


@dataclass(frozen=True)
class AppliedCoupon:
    """The coupon an order uses, as the order keeps it (its terms may change later; the order's do not)."""
    coupon_id: str
    template_id: str
    name: str
    discount: int
    valid_until: Any  # datetime: a coupon given back after this is EXPIRED, not AVAILABLE


@dataclass(frozen=True)
class CouponOption:
    """One of the buyer's coupons judged against the basket (the preview's list)."""
    coupon_id: str
    template_id: str
    name: str
    kind: str
    applicable: bool
    discount: int
    reason: str | None
    valid_until: Any


@dataclass(frozen=True)
class Quote:
    lines: list[PricedLine]
    breakdown: Breakdown
    member_level: int | None = None
    member_percent: int = 0
    coupon: AppliedCoupon | None = None
    discounts: list[Discount] = field(default_factory=list)
    coupon_options: list[CouponOption] = field(default_factory=list)
    points_balance: int | None = None

    @property
    def items_total(self) -> int:
        return self.breakdown.items_total

    @property
    def discount_total(self) -> int:
        return self.breakdown.discount_total

    @property
    def shipping_fee(self) -> int:
        return self.breakdown.shipping_fee

    @property
    def payable(self) -> int:
        return self.breakdown.payable

    @property
    def best_coupon_id(self) -> str | None:
        usable = [option for option in self.coupon_options if option.applicable and option.discount > 0]
        if not usable:
            return None
        return min(usable, key=lambda option: (-option.discount, option.valid_until, option.coupon_id)).coupon_id


def shipping_fee() -> int:
    return _fen_setting("MALL_SHIPPING_FEE", DEFAULT_SHIPPING_FEE)


def free_shipping_threshold() -> int:
    """Items total (after discounts) from which shipping is free; 0 makes shipping always free."""
    return _fen_setting("MALL_FREE_SHIPPING_THRESHOLD", DEFAULT_FREE_SHIPPING_THRESHOLD)


def points_max_share() -> int:
    """Percent of the items total that points may pay for (0 turns redemption off)."""
    share = config.env_int("MALL_POINTS_MAX_SHARE", DEFAULT_POINTS_MAX_SHARE)
    if not 0 <= share <= 100:
        raise ConfigError(f"MALL_POINTS_MAX_SHARE is a percent 0-100, got {share}")
    return share


def _fen_setting(name: str, default: int) -> int:
    value = config.env_int(name, default)
    if value < 0:
        raise ConfigError(f"{name} is an amount in fen and cannot be negative, got {value}")
    return value
