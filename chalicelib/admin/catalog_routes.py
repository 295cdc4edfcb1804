"""Catalog console for staff: categories, products with their SKUs, stock with its audit trail.

The HTTP edge admits each request (account enabled, session live, permission held:
`catalog.view`, `catalog.edit`, or `stock.adjust` for stock changes) before a handler
runs; the handler records the caller as the actor.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.admin.api import api
from chalicelib.core.auth import staff_may
from chalicelib.core.http import Context
from chalicelib.core.permissions import CATALOG_EDIT, CATALOG_VIEW, STOCK_ADJUST

if TYPE_CHECKING:
    from chalicelib.catalog.views import (
        AdminProduct,
        AdminProductPage,
        CategoryTree,
        CategoryView,
        StockAdjustmentPage,
        StockAdjustmentView,
    )

# Models by name, services imported by the handler: a cold start loads only what its first request uses.
INPUTS, VIEWS = "chalicelib.catalog.inputs:", "chalicelib.catalog.views:"

VIEW = staff_may(CATALOG_VIEW)
EDIT = staff_may(CATALOG_EDIT)
ADJUST_STOCK = staff_may(STOCK_ADJUST)


@api.route("/admin/categories", "POST", body=INPUTS + "NewCategory", response=VIEWS + "CategoryView", status=201, auth=EDIT,
           errors=(404, 409, 422), summary="create a category (under `parent_id`, at most 3 levels); "
                                            "optional header Idempotency-Key makes a retry return the same category")
def create_category(ctx: Context) -> CategoryView:
    from chalicelib.catalog import service
    from chalicelib.core.idempotency import claimed_id

    actor = ctx.user_id
    category_id = claimed_id(f"admin#category#{actor}", ctx.headers.get("idempotency-key"), ctx.body)
    return service.add_category(ctx.body, category_id=category_id)


@api.route("/admin/categories", "GET", response=VIEWS + "CategoryTree", auth=VIEW, summary="the category tree")
def list_categories(ctx: Context) -> CategoryTree:
    from chalicelib.catalog import service
    from chalicelib.catalog.views import CategoryTree

    return CategoryTree(items=service.category_tree())


@api.route("/admin/categories/{category_id}", "PUT", body=INPUTS + "CategoryEdit",
           response=VIEWS + "CategoryView", auth=EDIT,
           errors=(409,), summary="rename or re-sort a category")
def edit_category(ctx: Context, category_id: str) -> CategoryView:
    from chalicelib.catalog import service

    return service.update_category(category_id, ctx.body)


@api.route("/admin/products", "POST", body=INPUTS + "NewProduct", response=VIEWS + "AdminProduct", status=201, auth=EDIT,
           errors=(404, 422), summary="create a product with its SKUs and opening stock; optional header "
                                       "Idempotency-Key makes a retry return the same product")
def create_product(ctx: Context) -> AdminProduct:
    from chalicelib.catalog import service
    from chalicelib.core.idempotency import claimed_id

    actor = ctx.user_id
    product_id = claimed_id(f"admin#product#{actor}", ctx.headers.get("idempotency-key"), ctx.body)
    return service.add_product(ctx.body, actor=actor, product_id=product_id)


@api.route("/admin/products", "GET", query=INPUTS + "AdminProductQuery", response=VIEWS + "AdminProductPage", auth=VIEW,
           errors=(404,), summary="every product, off-sale ones too, with stock; newest first")
def list_products(ctx: Context) -> AdminProductPage:
    from chalicelib.catalog import browse

    return browse.admin_products(ctx.query)


@api.route("/admin/products/{product_id}", "GET", response=VIEWS + "AdminProduct", auth=VIEW,
           summary="a product, on sale or not, with every SKU's stock")
def get_product(ctx: Context, product_id: str) -> AdminProduct:
    from chalicelib.catalog import service

    return service.admin_product(product_id)


@api.route("/admin/products/{product_id}", "PUT", body=INPUTS + "ProductEdit", response=VIEWS + "AdminProduct", auth=EDIT,
           errors=(409,), summary="edit a product; `skus` lists every SKU to sell (left-out SKUs are withdrawn)")
def edit_product(ctx: Context, product_id: str) -> AdminProduct:
    from chalicelib.catalog import service

    actor = ctx.user_id
    return service.update_product(product_id, ctx.body, actor=actor)


@api.route("/admin/products/{product_id}", "DELETE", response=VIEWS + "AdminProduct", auth=EDIT, errors=(409,),
           summary="take a product off sale (it is kept for orders and can be put back on sale)")
def delete_product(ctx: Context, product_id: str) -> AdminProduct:
    from chalicelib.catalog import service

    actor = ctx.user_id
    return service.take_off_sale(product_id, actor=actor)


@api.route("/admin/skus/{sku_id}/stock", "PUT", body=INPUTS + "StockSet",
           response=VIEWS + "StockAdjustmentView", auth=ADJUST_STOCK,
           errors=(409,), summary="set a SKU's available stock (audited)")
def set_stock(ctx: Context, sku_id: str) -> StockAdjustmentView:
    from chalicelib.catalog import stock

    actor = ctx.user_id
    return stock.set_stock(sku_id, ctx.body.stock, reason=ctx.body.reason, actor=actor)


@api.route("/admin/skus/{sku_id}/stock-adjustments", "POST", body=INPUTS + "StockAdjust",
           response=VIEWS + "StockAdjustmentView",
           status=201, auth=ADJUST_STOCK, errors=(409,), summary="add to or take from a SKU's available stock (audited)")
def adjust_stock(ctx: Context, sku_id: str) -> StockAdjustmentView:
    from chalicelib.catalog import stock

    actor = ctx.user_id
    return stock.adjust_stock(sku_id, ctx.body.delta, reason=ctx.body.reason, actor=actor)


@api.route("/admin/skus/{sku_id}/stock-adjustments", "GET", query=INPUTS + "PageQuery",
           response=VIEWS + "StockAdjustmentPage",
           auth=VIEW, summary="a SKU's stock changes, newest first")
def stock_adjustments(ctx: Context, sku_id: str) -> StockAdjustmentPage:
    from chalicelib.catalog import stock

    return stock.stock_history(sku_id, ctx.query.cursor, ctx.query.limit)
