"""What staff send to create or edit a flash sale, and what the flash-sale routes answer."""
from __future__ import annotations

from pydantic import ConfigDict, Field, StrictInt, StrictStr, model_validator

from chalicelib.core.schema import Schema, UtcMoment

MAX_FEN = 100_000_000
MAX_SALE_STOCK = 1_000_000
MAX_PER_USER = 99
MAX_SHARDS = 64  # the sale, its shards and the SKU's inventory item are one transaction (100 items at most)
MAX_PAYMENT_TIMEOUT = 86_400
UPCOMING, RUNNING, SOLD_OUT, ENDED = "UPCOMING", "RUNNING", "SOLD_OUT", "ENDED"


class NewFlashSale(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    sku_id: StrictStr = Field(min_length=1, max_length=64)
    sale_price: StrictInt = Field(ge=1, le=MAX_FEN)
    stock: StrictInt = Field(ge=1, le=MAX_SALE_STOCK)
    per_user_limit: StrictInt = Field(ge=1, le=MAX_PER_USER)
    starts_at: UtcMoment
    ends_at: UtcMoment
    payment_timeout_seconds: StrictInt | None = Field(default=None, ge=1, le=MAX_PAYMENT_TIMEOUT)
    shards: StrictInt | None = Field(default=None, ge=1, le=MAX_SHARDS)


class FlashSaleEdit(Schema):
    """Only what is sent changes, each field the new value (not a change by), so an edit sent twice changes
    nothing more. What may change when: README, Flash sales (marketing/flash_edits.py)."""
    model_config = ConfigDict(extra="forbid", defer_build=True)
    sale_price: StrictInt | None = Field(default=None, ge=1, le=MAX_FEN, description="only before the sale starts")
    stock: StrictInt | None = Field(default=None, ge=1, le=MAX_SALE_STOCK,
                                    description="the new cap: more moves out of regular stock, less gives back "
                                                "units not held by orders")
    per_user_limit: StrictInt | None = Field(default=None, ge=1, le=MAX_PER_USER)
    starts_at: UtcMoment | None = Field(default=None, description="only before the sale starts")
    ends_at: UtcMoment | None = Field(default=None, description="after now and after starts_at")
    payment_timeout_seconds: StrictInt | None = Field(default=None, ge=1, le=MAX_PAYMENT_TIMEOUT,
                                                      description="orders placed from now on")

    @model_validator(mode="after")
    def changes_something(self) -> FlashSaleEdit:
        if all(getattr(self, field) is None for field in type(self).model_fields):
            raise ValueError("give at least one of " + ", ".join(type(self).model_fields))
        return self


class FlashSaleQuery(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=50)


class FlashSaleView(Schema):
    """A sale as buyers see it: `status` UPCOMING, RUNNING, SOLD_OUT or ENDED by the server clock;
    `remaining` the pool's available units (units held by unpaid orders may still come back)."""
    sale_id: str
    product_id: str
    sku_id: str
    title: str
    image: str | None
    sale_price: int
    original_price: int
    starts_at: str
    ends_at: str
    status: str
    remaining: int
    per_user_limit: int
    payment_timeout_seconds: int


class FlashSaleAdminView(FlashSaleView):
    """A sale as staff see it: stock = available (remaining) + reserved + sold + returned (to regular stock)."""
    stock: int
    shards: int
    reserved: int
    sold: int
    returned: int
    closed_at: str | None
    close_reason: str | None
    created_at: str
    created_by: str
    version: int = Field(description="grows with every edit")
    edited_at: str | None = None
    edited_by: str | None = None


class FlashSaleList(Schema):
    items: list[FlashSaleView]


class FlashSalePage(Schema):
    items: list[FlashSaleAdminView]
    next_cursor: str | None
