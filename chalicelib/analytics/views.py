"""What `/track` and the dashboard answer, for /openapi.json only: the handlers answer plain dicts of this shape."""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from chalicelib.core.schema import Schema


class TrackAccepted(Schema):
    accepted: int  # events queued
    request_id: str  # names the request in the raw events (`track#<request_id>#<n>`)


class Funnel(Schema):
    visitors: int
    product_viewers: int
    cart_adders: int
    order_creators: int
    payers: int


class Figures(Schema):
    gmv: int  # fen: payable of the orders paid
    net_gmv: int  # gmv - refunds
    refunds: int  # fen: buyers' refunds settled
    orders: int  # placed
    paid_orders: int
    buyers: int  # distinct payers
    new_buyers: int  # first payment ever counted
    average_order_value: int  # fen: gmv / paid_orders, rounded
    repeat_buyer_rate: float  # 0..1: buyers who paid for an order that was not their first
    page_views: int
    product_views: int
    searches: int
    shares: int
    cart_adds: int


class DayFigures(Figures):
    day: str
    funnel: Funnel


class DistinctMethod(Schema):
    method: str  # "exact" (one day) or "hyperloglog" (a range: the union of the days' sketches)
    standard_error: float


class TopProduct(Schema):
    product_id: str
    title: Optional[str]
    views: int
    cart_adds: int
    units: int
    paid_amount: int  # fen paid for its lines (after their discounts)


class CampaignResult(Schema):
    kind: str  # COUPON (a coupon template), FLASH_SALE, GROUP_BUY (a group-buy campaign)
    campaign_id: str
    name: Optional[str]
    orders: int  # placed
    paid_orders: int
    paid_amount: int  # fen: payable of its paid orders
    discount: int  # fen it took off its paid orders


class Dashboard(Schema):
    from_: str = Field(alias="from")
    to: str
    time_zone: str
    totals: Figures
    by_day: list[DayFigures]
    orders_by_status: dict[str, int]  # orders placed in the range, by the status they have now
    funnel: Funnel
    distinct: DistinctMethod
    top_products: list[TopProduct]
    campaigns: list[CampaignResult]
