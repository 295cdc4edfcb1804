"""The catalog's hot reads: product pages and SKU cards, without request or response models.

These answer most of a shop's traffic and are the first request of many cold
starts, so they import only the tables (no pydantic): a product page is built as
plain data shaped like `views.BuyerProduct`, which documents it in /openapi.json.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from chalicelib.catalog.models import MAIN_SHARD, ON_SALE, InventoryModel, ProductModel, SkuEntry
from chalicelib.core.db import batch_get, get_or_none, plain_map
from chalicelib.core.errors import NotFound
from chalicelib.core.ids import looks_like_id, require_id
from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)

if TYPE_CHECKING:
    from chalicelib.core.batch_reads import ReadBatch


@dataclass(frozen=True)
class SkuCard:
    """What carts and orders read about a SKU."""
    sku_id: str
    product_id: str
    title: str
    specs: dict[str, str]
    price: int
    image: str | None
    stock: int  # available units now (shard 0: regular stock)
    on_sale: bool  # product on sale and SKU active


def sku_cards(sku_ids: Iterable[str], *, consistent: bool = False) -> dict[str, SkuCard]:
    """Cards for the known ids among `sku_ids`: one BatchGetItem per 100 ids, on inventory alone.

    `consistent` for a reader that must see the latest stock, such as checkout
    explaining why its reservation failed.
    """
    wanted = [sku_id for sku_id in dict.fromkeys(sku_ids) if looks_like_id(sku_id)]
    rows = batch_get(InventoryModel, [(sku_id, MAIN_SHARD) for sku_id in wanted], consistent=consistent)
    return {row.sku_id: _card_of(row) for row in rows if row.product_id}


def ask_sku_cards(batch: ReadBatch, sku_ids: Iterable[str], *,
                  consistent: bool = False) -> Callable[[], dict[str, SkuCard]]:
    """`sku_cards`, the inventory items read in `batch` with other features' reads."""
    wanted = [sku_id for sku_id in dict.fromkeys(sku_ids) if looks_like_id(sku_id)]
    rows = [batch.ask(InventoryModel, (sku_id, MAIN_SHARD), consistent=consistent) for sku_id in wanted]
    return lambda: {row.sku_id: _card_of(row) for row in (found() for found in rows)
                    if row is not None and row.product_id}


def _card_of(row: InventoryModel) -> SkuCard:
    return SkuCard(sku_id=row.sku_id, product_id=row.product_id, title=row.title, specs=specs_of(row.specs),
                   price=int(row.price), image=row.image, stock=int(row.available), on_sale=bool(row.on_sale))


def product_page(product_id: str) -> dict[str, Any]:
    """An on-sale product for buyers: one GetItem for the product, one BatchGetItem for its SKUs' live stock."""
    product = load_product(product_id, consistent=False)
    if product.status != ON_SALE:
        raise NotFound("product not found", code="PRODUCT_NOT_FOUND")
    active = [entry for entry in product.skus if entry.active]
    stocks = stock_rows(active)
    fallback_image = product.images[0] if product.images else None
    skus = [{"sku_id": e.sku_id, "specs": specs_of(e.specs), "price": int(e.price),
             "stock": int(stocks[e.sku_id].available) if e.sku_id in stocks else 0,
             "image": e.image or fallback_image} for e in active]
    prices = [sku["price"] for sku in skus]
    return {"product_id": product.product_id, "title": product.title, "description": product.description,
            "category_id": product.category_id, "images": list(product.images), "price": min(prices),
            "price_max": max(prices), "sales": int(product.sales), "spec_options": _spec_options(skus),
            "skus": skus}


def _spec_options(skus: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each spec name's values in SKU order: what the spec picker shows."""
    options: dict[str, list[str]] = {}
    for sku in skus:
        for name, value in sku["specs"].items():
            values = options.setdefault(name, [])
            if value not in values:
                values.append(value)
    return options


def load_product(product_id: str, *, consistent: bool = True) -> ProductModel:
    require_id(product_id, "PRODUCT")
    product = get_or_none(ProductModel, product_id, consistent=consistent)
    if product is None:
        raise NotFound("product not found", code="PRODUCT_NOT_FOUND")
    return product


def stock_rows(entries: Iterable[SkuEntry]) -> dict[str, InventoryModel]:
    return {row.sku_id: row for row in batch_get(InventoryModel, [(e.sku_id, MAIN_SHARD) for e in entries])}


def specs_of(raw: Any) -> dict[str, str]:
    return plain_map(raw)


def product_categories(product_ids: Iterable[str]) -> dict[str, str]:
    """product_id -> category_id for the known products among `product_ids` (one BatchGetItem per 100):
    what a category-scoped coupon needs to know about a basket."""
    wanted = [product_id for product_id in dict.fromkeys(product_ids) if looks_like_id(product_id)]
    return {row.product_id: row.category_id for row in batch_get(ProductModel, [(pid,) for pid in wanted])}


def product_titles(product_ids: Iterable[str]) -> dict[str, str]:
    """product_id -> title for the known products among `product_ids` (one BatchGetItem per 100): how the
    merchant's dashboard names its top products."""
    wanted = [product_id for product_id in dict.fromkeys(product_ids) if looks_like_id(product_id)]
    return {row.product_id: row.title for row in batch_get(ProductModel, [(pid,) for pid in wanted])}
