"""What buyers and staff send to the order routes, validated at the edge."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictBool, StrictInt, StrictStr

from chalicelib.checkout import statuses
from chalicelib.core.schema import Schema

MAX_QUANTITY = 99
# Raw lines a request may list; duplicates are merged before the distinct-SKU cap applies.
MAX_REQUEST_ITEMS = 100
MAX_NOTE = 200
MAX_REASON = 200
Status = Literal[statuses.ALL]


class OrderItem(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    sku_id: StrictStr = Field(min_length=1, max_length=64)
    quantity: StrictInt = Field(ge=1, le=MAX_QUANTITY)


class OrderSubmission(Schema):
    """`items` (buy now) or `from_cart` (the cart's selected lines), never both."""
    model_config = ConfigDict(extra="forbid", defer_build=True)
    cross_field_rules = ("chalicelib.checkout.rules:one_source",)
    items: list[OrderItem] | None = Field(default=None, min_length=1, max_length=MAX_REQUEST_ITEMS)
    from_cart: StrictBool = False
    address_id: StrictStr | None = Field(default=None, min_length=1, max_length=64)
    coupon_id: StrictStr | None = Field(default=None, min_length=1, max_length=64)
    points: StrictInt | None = Field(default=None, ge=0)
    note: StrictStr = Field(default="", max_length=MAX_NOTE)
    # a flash sale's order: one line of the sale's SKU at the sale price, no coupon, no points (checkout/flash.py)
    flash_sale_id: StrictStr | None = Field(default=None, min_length=1, max_length=64)


class RefundAsk(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    reason: StrictStr = Field(min_length=1, max_length=MAX_REASON)


class ShipmentInput(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    carrier: StrictStr = Field(min_length=1, max_length=40)
    tracking_no: Annotated[StrictStr, Field(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z-]+$")]


class OrderQuery(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    status: Status | None = None
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=50)
