"""What a basket costs this buyer: their member level, the coupon they chose, the points they spend.

Reads what the other features hold (members: level and points balance; marketing: the
buyer's coupons; catalog: product categories, only for a category-scoped coupon) and
hands it to `pricing.price`, the one pricing function. The writes that spend a coupon
or points are the owning features' own functions, added to the order's transaction
through `pricing.Discount`.

DynamoDB calls, whatever the basket: the buyer's account (level and balance), the level table
and the coupon (when one is named) are keys in checkout's one BatchGetItem (`ask_quote`,
core/batch_reads); then a BatchGetItem of categories, only for a category-scoped coupon (it
needs the coupon's scope and the SKUs' products); a preview also Queries the buyer's coupons once.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib.catalog.reads import product_categories
from chalicelib.checkout.pricing import (
    EXPIRED,
    LOCKED,
    NOT_YET_VALID,
    USED,
    AppliedCoupon,
    CouponOption,
    CouponRule,
    Discount,
    PricedLine,
    Quote,
    coupon_verdict,
    free_shipping_threshold,
    points_max_share,
    price,
    shipping_fee,
)
from chalicelib.core import clock
from chalicelib.core.errors import Unprocessable
from chalicelib.members import loyalty

if TYPE_CHECKING:
    from chalicelib.core.batch_reads import ReadBatch
    from chalicelib.marketing.redemption import HeldCoupon
    from chalicelib.members.loyalty import PricingAccount


def _redemption() -> Any:
    """marketing's coupon functions, imported when a basket involves a coupon (most orders carry none)."""
    from chalicelib.marketing import redemption

    return redemption


def ask_quote(batch: ReadBatch, *, user_id: str, coupon_id: str | None) -> Callable[..., Quote]:
    """Add what pricing reads by key (the buyer's account and the level table; the coupon, when one is
    named) to `batch`; the answer, once it has run, prices lines: `(lines, points=, offer_coupons=)`."""
    account = loyalty.ask_pricing_account(batch, user_id)
    chosen = _redemption().ask_coupon_for_order(batch, user_id, coupon_id) if coupon_id is not None else None

    def priced(lines: list[PricedLine], *, points: int | None, offer_coupons: bool = False) -> Quote:
        return _quote(lines, user_id=user_id, account=account(), chosen=chosen() if chosen else None,
                      points=points, offer_coupons=offer_coupons)
    return priced


def _quote(lines: list[PricedLine], *, user_id: str, account: PricingAccount, chosen: HeldCoupon | None,
           points: int | None, offer_coupons: bool) -> Quote:
    """The priced basket; `offer_coupons` (the preview) also judges every coupon the buyer holds."""
    held = _redemption().coupons_to_offer(user_id) if offer_coupons else []
    categories = _categories_if_needed(lines, ([chosen] if chosen else []) + held)
    totals = [line.line_total for line in lines]
    common = {"member_percent": account.discount_percent, "points_share": points_max_share(),
              "shipping": shipping_fee(), "free_from": free_shipping_threshold()}
    spent = points or 0
    if spent > account.points:
        raise Unprocessable(f"you have {account.points} points, not {spent}", code="INSUFFICIENT_POINTS",
                            details={"balance": account.points})
    applied, discounts = None, []
    if chosen is not None:
        _refuse_unusable(chosen)
        breakdown = price(totals, coupon=_rule(chosen), in_scope=_scope(chosen, lines, categories), points=spent,
                          **common)
        applied = AppliedCoupon(coupon_id=chosen.coupon_id, template_id=chosen.template_id, name=chosen.name,
                                discount=breakdown.coupon_discount, valid_until=chosen.valid_until)
        discounts.append(Discount("COUPON", breakdown.coupon_discount,
                                  lambda tx, order_id: _redemption().add_lock(tx, user_id, chosen.coupon_id, order_id)))
    else:
        breakdown = price(totals, points=spent, **common)
    if spent:
        discounts.append(Discount("POINTS", spent,
                                  lambda tx, order_id: loyalty.add_redemption(tx, user_id, spent, order_id)))
    options = [_option(coupon, lines, categories, account.discount_percent) for coupon in held]
    return Quote(lines=lines, breakdown=breakdown, member_level=account.level,
                 member_percent=account.discount_percent, coupon=applied, discounts=discounts,
                 coupon_options=options, points_balance=account.points)


def _refuse_unusable(coupon: HeldCoupon) -> None:
    reason = _holding_reason(coupon)
    if reason is not None:
        raise Unprocessable(f"coupon {coupon.coupon_id} cannot be used: {reason.lower().replace('_', ' ')}",
                            code=f"COUPON_{reason}", details={"reason": reason})


def _holding_reason(coupon: HeldCoupon) -> str | None:
    """Why the buyer cannot spend this coupon now, whatever the basket; None when they can."""
    redemption = _redemption()
    if coupon.status == redemption.LOCKED:
        return LOCKED
    if coupon.status == redemption.USED:
        return USED
    now = clock.now()
    if coupon.status == redemption.EXPIRED or coupon.valid_until <= now:
        return EXPIRED
    if coupon.valid_from > now:
        return NOT_YET_VALID
    return None


def _option(coupon: HeldCoupon, lines: list[PricedLine], categories: dict[str, str],
            member_percent: int) -> CouponOption:
    reason = _holding_reason(coupon)
    discount = 0
    if reason is None:
        after_member = [line.line_total - line.line_total * member_percent // 100 for line in lines]
        scope = _scope(coupon, lines, categories)
        discount, reason = coupon_verdict(_rule(coupon), sum(a for a, inside in zip(after_member, scope,
                                                                                   strict=True) if inside))
    return CouponOption(coupon_id=coupon.coupon_id, template_id=coupon.template_id, name=coupon.name,
                        kind=coupon.kind, applicable=reason is None, discount=discount, reason=reason,
                        valid_until=coupon.valid_until)


def _rule(coupon: HeldCoupon) -> CouponRule:
    return CouponRule(kind=coupon.kind, amount_off=coupon.amount_off or 0, percent_off=coupon.percent_off or 0,
                      max_discount=coupon.max_discount, min_spend=coupon.min_spend)


def _scope(coupon: HeldCoupon, lines: list[PricedLine], categories: dict[str, str]) -> list[bool]:
    return [coupon.covers(line.card.product_id, categories.get(line.card.product_id)) for line in lines]


def _categories_if_needed(lines: list[PricedLine], coupons: list[HeldCoupon]) -> dict[str, str]:
    if not coupons or not any(coupon.scope_kind == _redemption().SCOPE_CATEGORIES for coupon in coupons):
        return {}
    return product_categories({line.card.product_id for line in lines})
