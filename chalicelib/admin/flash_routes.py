"""The flash-sale console: create a sale (its stock moved out of regular stock), list them, edit one, end one."""
from __future__ import annotations

from chalicelib.admin.api import api
from chalicelib.core.auth import STAFF, staff_may
from chalicelib.core.http import Context
from chalicelib.core.permissions import MARKETING_MANAGE

SALE = "chalicelib.marketing.flash_views:FlashSaleAdminView"
MANAGE_MARKETING = staff_may(MARKETING_MANAGE)


@api.route("/admin/flash-sales", "POST", body="chalicelib.marketing.flash_views:NewFlashSale", response=SALE,
           status=201, auth=MANAGE_MARKETING, errors=(404, 409),
           summary="create a flash sale: its stock moves out of the SKU's available stock into the sale's pool")
def create_flash_sale(ctx: Context):
    from chalicelib.marketing import flash_sales

    return flash_sales.create_sale(ctx.body, actor=ctx.principal.subject)


@api.route("/admin/flash-sales", "GET", query="chalicelib.marketing.flash_views:FlashSaleQuery",
           response="chalicelib.marketing.flash_views:FlashSalePage", auth=STAFF,
           summary="flash sales, newest first, with their pool: available, reserved, sold, returned")
def list_flash_sales(ctx: Context):
    from chalicelib.marketing import flash_sales

    return flash_sales.list_sales(ctx.query.cursor, ctx.query.limit)


@api.route("/admin/flash-sales/{sale_id}", "PUT", body="chalicelib.marketing.flash_views:FlashSaleEdit",
           response=SALE, auth=MANAGE_MARKETING, errors=(404, 409),
           summary="edit a sale: price and start before it starts; end, stock, per-buyer limit and payment timeout "
                   "while it runs too, each edit one transaction that orders in flight see whole or not at all")
def edit_flash_sale(ctx: Context, sale_id: str):
    from chalicelib.marketing import flash_edits

    return flash_edits.edit_sale(sale_id, ctx.body, actor=ctx.principal.subject)


@api.route("/admin/flash-sales/{sale_id}/end", "POST", response=SALE, auth=MANAGE_MARKETING, errors=(404,),
           summary="end a sale now: no order commits after this, unsold units go back to regular stock")
def end_flash_sale(ctx: Context, sale_id: str):
    from chalicelib.marketing import flash_sales

    return flash_sales.end_sale(sale_id)
