"""The shop's catalog: categories, on-sale products (listing and search), product pages; the search indexer.

Models and the modules that use them are imported by the handlers that need
them: a product page, often a cold start's first request, needs neither pydantic
nor the catalog's write rules (see core/http.py and reads.py).
"""
from __future__ import annotations

from chalicelib.catalog import reads
from chalicelib.core import events
from chalicelib.core.http import Api, Context

api = Api(__name__, tag="catalog")
VIEWS = "chalicelib.catalog.views"


@api.route("/catalog/categories", "GET", response=f"{VIEWS}:CategoryTree", summary="the category tree")
def categories(ctx: Context):
    from chalicelib.catalog import service
    from chalicelib.catalog.views import CategoryTree

    return CategoryTree(items=service.category_tree())


@api.route("/catalog/products", "GET", query="chalicelib.catalog.inputs:ProductQuery",
           response=f"{VIEWS}:ProductPage", errors=(404,),
           summary="on-sale products, newest first; by category and/or title search (q)")
def products(ctx: Context):
    from chalicelib.catalog import browse

    return browse.on_sale_products(ctx.query)


@api.route("/catalog/products/{product_id}", "GET", response=f"{VIEWS}:BuyerProduct",
           summary="an on-sale product with its SKUs and live stock")
def product(ctx: Context, product_id: str) -> dict:
    return reads.product_page(product_id)


@api.blueprint.on_dynamodb_record(stream_arn=events.stream_arn("products"))
def catalog_search_indexer(event) -> None:
    from chalicelib.catalog import search

    search.refresh(event)
