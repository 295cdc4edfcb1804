"""The shop's catalog: categories, on-sale products (listing and search), product pages; the search indexer."""
from __future__ import annotations

from chalicelib.catalog import browse, search, service
from chalicelib.catalog.inputs import ProductQuery
from chalicelib.catalog.views import BuyerProduct, CategoryTree, ProductPage
from chalicelib.core import events
from chalicelib.core.http import Api, Context

api = Api(__name__, tag="catalog")


@api.route("/catalog/categories", "GET", response=CategoryTree, summary="the category tree")
def categories(ctx: Context) -> CategoryTree:
    return CategoryTree(items=service.category_tree())


@api.route("/catalog/products", "GET", query=ProductQuery, response=ProductPage, errors=(404,),
           summary="on-sale products, newest first; by category and/or title search (q)")
def products(ctx: Context) -> ProductPage:
    return browse.on_sale_products(ctx.query)


@api.route("/catalog/products/{product_id}", "GET", response=BuyerProduct,
           summary="an on-sale product with its SKUs and live stock")
def product(ctx: Context, product_id: str) -> BuyerProduct:
    return service.buyer_product(product_id)


@api.blueprint.on_dynamodb_record(stream_arn=events.stream_arn("products"))
def catalog_search_indexer(event) -> None:
    search.refresh(event)
