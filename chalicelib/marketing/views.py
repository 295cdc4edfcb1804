"""What the coupon routes answer: templates as buyers and staff see them, and a buyer's coupons.

Runtime views (core/views.py): the only definition of each shape these routes answer with.
"""
from __future__ import annotations

from datetime import datetime

from chalicelib.core import clock
from chalicelib.core.views import View
from chalicelib.marketing.models import AVAILABLE, EXPIRED, CouponModel, CouponTemplateModel


class ScopeView(View):
    kind: str  # ALL, CATEGORIES or PRODUCTS
    ids: list[str]


class ClaimableCoupon(View):
    """A template buyers may claim (GET /marketing/coupons). Amounts in fen; validity is `valid_days`
    from the claim, or the window `starts_at`..`ends_at`."""
    template_id: str
    name: str
    kind: str
    amount_off: int | None
    percent_off: int | None
    max_discount: int | None
    min_spend: int
    scope: ScopeView
    total: int
    remaining: int
    per_user_limit: int
    valid_days: int | None
    starts_at: str | None
    ends_at: str | None


class TemplateView(ClaimableCoupon):
    """A template as staff see it."""
    claimed: int
    claimable: bool
    status: str  # ACTIVE or ENDED
    version: int
    created_at: str
    updated_at: str


class TemplatePage(View):
    items: list[TemplateView]
    next_cursor: str | None


class ClaimableList(View):
    items: list[ClaimableCoupon]


class CouponView(View):
    """A coupon the buyer holds, with the terms it was claimed under."""
    coupon_id: str
    template_id: str
    name: str
    kind: str
    amount_off: int | None
    percent_off: int | None
    max_discount: int | None
    min_spend: int
    scope: ScopeView
    status: str  # AVAILABLE, LOCKED, USED, EXPIRED
    valid_from: str
    valid_until: str
    order_id: str | None  # while locked, and once used
    claimed_at: str
    used_at: str | None


class CouponPage(View):
    items: list[CouponView]
    next_cursor: str | None


def _iso(moment: datetime | None) -> str | None:
    return clock.iso(moment) if moment is not None else None


def _opt(value) -> int | None:
    return None if value is None else int(value)


def _scope(item) -> ScopeView:
    return ScopeView(kind=item.scope_kind, ids=list(item.scope_ids or []))


def _terms(template: CouponTemplateModel) -> dict:
    total, claimed = int(template.total), int(template.claimed or 0)
    return dict(template_id=template.template_id, name=template.name, kind=template.kind,
                amount_off=_opt(template.amount_off), percent_off=_opt(template.percent_off),
                max_discount=_opt(template.max_discount), min_spend=int(template.min_spend or 0),
                scope=_scope(template), total=total, remaining=max(total - claimed, 0),
                per_user_limit=int(template.per_user_limit), valid_days=_opt(template.valid_days),
                starts_at=_iso(template.starts_at), ends_at=_iso(template.ends_at))


def claimable_view(template: CouponTemplateModel) -> ClaimableCoupon:
    return ClaimableCoupon(**_terms(template))


def template_view(template: CouponTemplateModel) -> TemplateView:
    return TemplateView(**_terms(template), claimed=int(template.claimed or 0), claimable=bool(template.claimable),
                        status=template.status, version=int(template.version),
                        created_at=clock.iso(template.created_at), updated_at=clock.iso(template.updated_at))


def shown_status(coupon: CouponModel) -> str:
    """What the buyer sees: an unspent coupon past its validity is EXPIRED, by the clock."""
    if coupon.status == AVAILABLE and coupon.valid_until <= clock.now():
        return EXPIRED
    return coupon.status


def coupon_view(coupon: CouponModel) -> CouponView:
    return CouponView(coupon_id=coupon.coupon_id, template_id=coupon.template_id, name=coupon.name,
                      kind=coupon.kind, amount_off=_opt(coupon.amount_off), percent_off=_opt(coupon.percent_off),
                      max_discount=_opt(coupon.max_discount), min_spend=int(coupon.min_spend or 0),
                      scope=_scope(coupon), status=shown_status(coupon), valid_from=clock.iso(coupon.valid_from),
                      valid_until=clock.iso(coupon.valid_until), order_id=coupon.order_id,
                      claimed_at=clock.iso(coupon.claimed_at), used_at=_iso(coupon.used_at))
