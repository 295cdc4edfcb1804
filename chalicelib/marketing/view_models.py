"""What the coupon routes answer, as /openapi.json documents it (pydantic). The handlers answer with the runtime
views of the same names in marketing/views.py (core/views.py, no pydantic); the tests hold each answer to its model."""
from __future__ import annotations

from chalicelib.core.schema import Schema


class ScopeView(Schema):
    kind: str  # ALL, CATEGORIES or PRODUCTS
    ids: list[str]


class ClaimableCoupon(Schema):
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


class TemplatePage(Schema):
    items: list[TemplateView]
    next_cursor: str | None


class ClaimableList(Schema):
    items: list[ClaimableCoupon]


class CouponView(Schema):
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


class CouponPage(Schema):
    items: list[CouponView]
    next_cursor: str | None
