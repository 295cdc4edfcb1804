"""What the order routes answer, as /openapi.json documents it (pydantic). The handlers answer with the runtime
views of the same names in checkout/views.py (core/views.py, no pydantic); the tests hold each answer to its model."""
from __future__ import annotations

from chalicelib.core.schema import Schema


class OrderLineView(Schema):
    sku_id: str
    product_id: str
    title: str
    specs: dict[str, str]
    image: str | None
    price: int
    quantity: int
    line_total: int
    member_discount: int
    coupon_discount: int
    points_discount: int
    discount: int  # the line's share of the order's discounts
    paid: int  # line_total - discount: the most a refund of this line could return


class AppliedCouponView(Schema):
    coupon_id: str
    template_id: str
    name: str
    discount: int


class CouponChoice(Schema):
    """One of the buyer's coupons judged against the basket; `reason` says why it does not apply:
    BELOW_MIN_SPEND, OUT_OF_SCOPE, NOT_YET_VALID or EXPIRED."""
    coupon_id: str
    template_id: str
    name: str
    kind: str
    applicable: bool
    discount: int
    reason: str | None
    valid_until: str


class AddressView(Schema):
    address_id: str
    name: str
    phone: str
    province: str
    city: str
    district: str
    detail: str


class ShipmentView(Schema):
    carrier: str
    tracking_no: str
    shipped_at: str


class RefundRequestView(Schema):
    reason: str
    requested_at: str
    decision: str | None
    decided_at: str | None
    reject_reason: str | None


class PaymentView(Schema):
    provider: str
    transaction_id: str
    paid_at: str
    amount: int


class RefundView(Schema):
    out_refund_no: str
    amount: int
    status: str  # PROCESSING, SUCCESS, CLOSED, ABNORMAL, FAILED
    kind: str | None = None  # BUYER (the refund asked for) or RETURN (a payment the order could not take)
    created_at: str
    updated_at: str


class OrderView(Schema):
    """Amounts in fen: payable = items_total - discount_total + shipping_fee, and
    discount_total = member_discount + coupon_discount + points_discount."""
    order_id: str
    user_id: str
    status: str
    cancel_reason: str | None
    items: list[OrderLineView]
    items_total: int
    member_discount: int
    coupon_discount: int
    points_discount: int
    discount_total: int
    member_level: int | None
    coupon: AppliedCouponView | None
    shipping_fee: int
    payable: int
    address: AddressView
    note: str
    created_at: str
    updated_at: str
    expires_at: str | None  # while unpaid: when the order is cancelled if not paid
    paid_at: str | None
    cancelled_at: str | None
    completed_at: str | None
    shipment: ShipmentView | None
    refund_request: RefundRequestView | None
    payment: PaymentView | None
    refunds: list[RefundView]
    flash_sale_id: str | None = None  # the flash sale it was bought in
    group_id: str | None = None  # a group-buy order's group: AWAITING_GROUP once paid until the group completes


class OrderPage(Schema):
    items: list[OrderView]
    next_cursor: str | None


class OrderPreview(Schema):
    """A priced order that was not created: nothing is reserved or spent."""
    items: list[OrderLineView]
    items_total: int
    member_discount: int
    coupon_discount: int
    points_discount: int
    discount_total: int
    shipping_fee: int
    payable: int
    address: AddressView | None
    free_shipping_threshold: int  # items total (after discounts) from which shipping is free
    member_level: int | None
    member_discount_percent: int
    coupon: AppliedCouponView | None  # the coupon asked for, applied
    coupons: list[CouponChoice]  # every unspent coupon the buyer holds, judged against this basket
    best_coupon_id: str | None  # the applicable coupon that takes the most off
    points_balance: int
    points_max: int  # the most points this basket can take (share of the items total, what is left to pay)
