"""What the catalog answers: the response shapes of its routes and of the admin catalog console."""
from __future__ import annotations

from typing import Optional

from chalicelib.core.schema import Schema


class CategoryView(Schema):
    category_id: str
    name: str
    parent_id: Optional[str] = None
    sort: int = 0


class CategoryNode(CategoryView):
    children: list[CategoryNode] = []


class CategoryTree(Schema):
    items: list[CategoryNode]


class BuyerSku(Schema):
    sku_id: str
    specs: dict[str, str]
    price: int
    stock: int
    image: Optional[str] = None


class ProductSummary(Schema):
    """A product in a list: what a product card on the shop's home page shows."""
    product_id: str
    title: str
    category_id: str
    image: Optional[str] = None
    price: int  # lowest price among the SKUs on sale, fen
    price_max: int
    sales: int
    created_at: str


class ProductPage(Schema):
    items: list[ProductSummary]
    next_cursor: Optional[str] = None


class BuyerProduct(Schema):
    product_id: str
    title: str
    description: str
    category_id: str
    images: list[str]
    price: int
    price_max: int
    sales: int
    spec_options: dict[str, list[str]]  # each spec name's values, in SKU order: what the picker shows
    skus: list[BuyerSku]


class StockLevels(Schema):
    available: int
    reserved: int
    sold: int


class AdminSku(Schema):
    sku_id: str
    specs: dict[str, str]
    price: int
    image: Optional[str] = None
    active: bool
    stock: StockLevels


class AdminProduct(Schema):
    product_id: str
    title: str
    description: str
    category_id: str
    images: list[str]
    on_sale: bool
    status: str
    sales: int
    version: int
    created_at: str
    updated_at: str
    skus: list[AdminSku]


class AdminProductPage(Schema):
    items: list[AdminProduct]
    next_cursor: Optional[str] = None


class StockAdjustmentView(Schema):
    adjustment_id: str
    sku_id: str
    kind: str  # SET or ADJUST
    delta: int
    available_before: int
    available_after: int
    reason: str
    actor: str
    at: str


class StockAdjustmentPage(Schema):
    items: list[StockAdjustmentView]
    next_cursor: Optional[str] = None
