"""What the cart routes answer, as /openapi.json documents it (pydantic). The handlers answer with the runtime
views of the same names in cart/service.py (core/views.py, no pydantic); the tests hold each answer to its model."""
from __future__ import annotations

from chalicelib.core.schema import Schema


class CartLineView(Schema):
    """A line priced now. `price` is None (and the line unavailable) when the SKU no longer exists."""
    sku_id: str
    product_id: str
    title: str | None
    specs: dict[str, str]
    image: str | None
    price: int | None
    added_price: int
    quantity: int
    selected: bool
    stock: int
    on_sale: bool
    available: bool
    unavailable_reason: str | None  # SKU_GONE, NOT_ON_SALE, OUT_OF_STOCK, INSUFFICIENT_STOCK
    added_at: str
    updated_at: str


class CartView(Schema):
    """The cart, newest line first; totals count only lines both selected and available."""
    lines: list[CartLineView]
    line_count: int
    selected_count: int
    selected_quantity: int
    items_total: int
