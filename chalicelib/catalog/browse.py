"""Product lists: the shop's on-sale listing and search, and the admin console's list of everything.

Lists read the products' secondary indexes (never a Scan) newest first; a page
cursor is the last product id shown, because product ids sort by creation time.
"""
from __future__ import annotations

from chalicelib.catalog import search, service
from chalicelib.catalog.inputs import AdminProductQuery, ProductQuery
from chalicelib.catalog.models import ALL_PRODUCTS, ON_SALE, ProductModel
from chalicelib.catalog.views import AdminProductPage, ProductPage, ProductSummary
from chalicelib.core import clock
from chalicelib.core.paging import decode_cursor, encode_cursor


def on_sale_products(query: ProductQuery) -> ProductPage:
    after = decode_cursor(query.cursor)
    if query.category_id is not None:
        service.get_category(query.category_id)
    if query.q:
        products, more = search.search(query.q, category_id=query.category_id, after=after, limit=query.limit)
    elif query.category_id is not None:
        products, more = _page(ProductModel.on_sale_by_category, query.category_id, after, query.limit)
    else:
        products, more = _page(ProductModel.by_status, ON_SALE, after, query.limit)
    return ProductPage(items=[_summary(product) for product in products], next_cursor=_next(products, more))


def admin_products(query: AdminProductQuery) -> AdminProductPage:
    after = decode_cursor(query.cursor)
    if query.category_id is not None:
        service.get_category(query.category_id)
    if query.status == ON_SALE and query.category_id is not None:
        products, more = _page(ProductModel.on_sale_by_category, query.category_id, after, query.limit)
    else:
        index, partition = ((ProductModel.by_status, query.status) if query.status
                            else (ProductModel.all_products, ALL_PRODUCTS))
        only_category = ProductModel.category_id == query.category_id if query.category_id else None
        products, more = _page(index, partition, after, query.limit, only_category)
    return AdminProductPage(items=service.admin_products(products), next_cursor=_next(products, more))


def _page(index, partition: str, after: str | None, limit: int, condition=None) -> tuple[list[ProductModel], bool]:
    """One page newest first, reading one item more than shown to know whether another page exists."""
    rows = list(index.query(partition, range_key_condition=ProductModel.product_id < after if after else None,
                            filter_condition=condition, scan_index_forward=False, limit=limit + 1))
    return rows[:limit], len(rows) > limit


def _next(products: list[ProductModel], more: bool) -> str | None:
    return encode_cursor(products[-1].product_id) if more else None


def _summary(product: ProductModel) -> ProductSummary:
    active = [entry for entry in product.skus if entry.active]
    prices = [int(entry.price) for entry in active] or [0]
    image = product.images[0] if product.images else next((e.image for e in active if e.image), None)
    return ProductSummary(product_id=product.product_id, title=product.title, category_id=product.category_id,
                          image=image, price=min(prices), price_max=max(prices), sales=int(product.sales),
                          created_at=clock.iso(product.created_at))
