"""What the order routes answer: the order as its buyer and the merchant see it.

Runtime views (core/views.py): the only definition of each shape these routes answer with.
"""
from __future__ import annotations

from datetime import datetime

from chalicelib.checkout.models import OrderModel
from chalicelib.core import clock
from chalicelib.core.db import plain_map
from chalicelib.core.views import View


class OrderLineView(View):
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


class AppliedCouponView(View):
    coupon_id: str
    template_id: str
    name: str
    discount: int


class CouponChoice(View):
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


class AddressView(View):
    address_id: str
    name: str
    phone: str
    province: str
    city: str
    district: str
    detail: str


class ShipmentView(View):
    carrier: str
    tracking_no: str
    shipped_at: str


class RefundRequestView(View):
    reason: str
    requested_at: str
    decision: str | None
    decided_at: str | None
    reject_reason: str | None


class PaymentView(View):
    provider: str
    transaction_id: str
    paid_at: str
    amount: int


class RefundView(View):
    out_refund_no: str
    amount: int
    status: str  # PROCESSING, SUCCESS, CLOSED, ABNORMAL, FAILED
    kind: str | None = None  # BUYER (the refund asked for) or RETURN (a payment the order could not take)
    created_at: str
    updated_at: str


class OrderView(View):
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


class OrderPage(View):
    items: list[OrderView]
    next_cursor: str | None


class OrderPreview(View):
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


def _iso(moment: datetime | None) -> str | None:
    return clock.iso(moment) if moment is not None else None


def line_view(line) -> OrderLineView:
    member, coupon, points = (int(line.member_discount or 0), int(line.coupon_discount or 0),
                              int(line.points_discount or 0))
    discount = member + coupon + points
    return OrderLineView(sku_id=line.sku_id, product_id=line.product_id, title=line.title,
                         specs=plain_map(line.specs), image=line.image, price=int(line.price),
                         quantity=int(line.quantity), line_total=int(line.line_total), member_discount=member,
                         coupon_discount=coupon, points_discount=points, discount=discount,
                         paid=int(line.line_total) - discount)


def applied_coupon_view(coupon) -> AppliedCouponView | None:
    if coupon is None:
        return None
    return AppliedCouponView(coupon_id=coupon.coupon_id, template_id=coupon.template_id, name=coupon.name,
                             discount=int(coupon.discount))


def address_view(address) -> AddressView:
    return AddressView(address_id=address.address_id, name=address.name, phone=address.phone,
                       province=address.province, city=address.city, district=address.district,
                       detail=address.detail)


def order_view(order: OrderModel) -> OrderView:
    return OrderView(
        order_id=order.order_id, user_id=order.user_id, status=order.status, cancel_reason=order.cancel_reason,
        items=[line_view(line) for line in order.lines], items_total=int(order.items_total),
        member_discount=int(order.member_discount or 0), coupon_discount=int(order.coupon_discount or 0),
        points_discount=int(order.points_discount or 0), discount_total=int(order.discount_total),
        member_level=None if order.member_level is None else int(order.member_level),
        coupon=applied_coupon_view(order.coupon), shipping_fee=int(order.shipping_fee),
        payable=int(order.payable), address=address_view(order.address), note=order.note or "",
        created_at=clock.iso(order.created_at), updated_at=clock.iso(order.updated_at),
        expires_at=_iso(order.expires_at) if order.status == "PENDING_PAYMENT" else None,
        paid_at=_iso(order.paid_at), cancelled_at=_iso(order.cancelled_at), completed_at=_iso(order.completed_at),
        shipment=_shipment_view(order.shipment), refund_request=_refund_request_view(order.refund_request),
        payment=_payment_view(order.payment), refunds=[_refund_view(refund) for refund in order.refunds or []],
        flash_sale_id=order.flash_sale_id, group_id=order.group_id)


def _shipment_view(shipment) -> ShipmentView | None:
    if shipment is None:
        return None
    return ShipmentView(carrier=shipment.carrier, tracking_no=shipment.tracking_no,
                        shipped_at=clock.iso(shipment.shipped_at))


def _refund_request_view(request) -> RefundRequestView | None:
    if request is None:
        return None
    return RefundRequestView(reason=request.reason, requested_at=clock.iso(request.requested_at),
                             decision=request.decision, decided_at=_iso(request.decided_at),
                             reject_reason=request.reject_reason)


def _payment_view(payment) -> PaymentView | None:
    if payment is None:
        return None
    return PaymentView(provider=payment.provider, transaction_id=payment.transaction_id,
                       paid_at=clock.iso(payment.paid_at), amount=int(payment.amount))


def _refund_view(refund) -> RefundView:
    return RefundView(out_refund_no=refund.out_refund_no, amount=int(refund.amount), status=refund.status,
                      kind=refund.kind,
                      created_at=clock.iso(refund.created_at), updated_at=clock.iso(refund.updated_at))


REDACTED = "[已删除]"  # what an order shows in place of the address of a buyer who deleted their account


def for_staff(view: OrderView | OrderPage) -> OrderView | OrderPage:
    """What staff see: the buyer's name, phone and street line masked, phone numbers in the note masked
    (core/masking.py). The buyer sees their own order whole; the full address of one order is for
    whoever ships it (`orders.shipping_address`)."""
    from chalicelib.core.masking import mask_detail, mask_name, mask_phone, redact

    if isinstance(view, OrderPage):
        return OrderPage(items=[for_staff(item) for item in view.items], next_cursor=view.next_cursor)
    address = view.address
    if address.address_id != REDACTED:
        address = address.model_copy(update={"name": mask_name(address.name), "phone": mask_phone(address.phone),
                                             "detail": mask_detail(address.detail)})
    return view.model_copy(update={"address": address, "note": redact(view.note)})
