"""marketing routes: the coupons buyers may claim, claiming one, the buyer's coupons, the member levels,
the flash sales buyers see, and the flash sales' closer (a schedule) and pool stream handler."""
from __future__ import annotations

import logging

from chalice import Rate

from chalicelib.core import events
from chalicelib.core.auth import BUYER
from chalicelib.core.http import IDEMPOTENCY_KEY, Api, Context, Header
from chalicelib.core.limits import COUPON_CLAIM

api = Api(__name__, tag="marketing")
log = logging.getLogger("micromall.marketing")
FLASH_POOL_BATCH = 100
CLAIM_KEY = Header(IDEMPOTENCY_KEY.name, "optional: a new random key per claim, the same key when retrying that claim "
                   "(after no answer); it answers the coupon that claim gave, never a second one",
                   schema=IDEMPOTENCY_KEY.schema)


@api.route("/marketing/coupons", "GET", response="chalicelib.marketing.views:ClaimableList",
           summary="coupons buyers may claim now, with how many are left")
def claimable_coupons(ctx: Context):
    from chalicelib.marketing import service

    return service.claimable_coupons()


@api.route("/marketing/coupons/mine", "GET", query="chalicelib.marketing.inputs:MineQuery",
           response="chalicelib.marketing.views:CouponPage", auth=BUYER,
           summary="the buyer's coupons, newest first (status AVAILABLE, LOCKED, USED or EXPIRED)")
def my_coupons(ctx: Context):
    from chalicelib.marketing import service

    return service.my_coupons(ctx.user_id, ctx.query.status, ctx.query.cursor, ctx.query.limit)


@api.route("/marketing/coupons/{template_id}/claim", "POST", response="chalicelib.marketing.views:CouponView",
           status=201, auth=BUYER, errors=(400, 404, 409, 422), limit=COUPON_CLAIM, headers=(CLAIM_KEY,),
           summary="claim one coupon: 409 SOLD_OUT when none is left, LIMIT_REACHED at the per-buyer limit "
                   "(optional header Idempotency-Key makes a retry return the same coupon)")
def claim_coupon(ctx: Context, template_id: str):
    from chalicelib.marketing import service

    return service.claim(ctx.user_id, template_id, ctx.headers.get("idempotency-key"))


@api.route("/marketing/member-levels", "GET", response="chalicelib.members.levels:LevelTable",
           summary="the merchant's member levels: growth threshold and member discount of each")
def member_levels(ctx: Context):
    from chalicelib.members import levels

    return levels.level_table()


@api.route("/marketing/flash-sales", "GET", response="chalicelib.marketing.flash_views:FlashSaleList",
           summary="running and upcoming flash sales with the units left (status by the server clock)")
def flash_sales(ctx: Context):
    from chalicelib.marketing import flash_sales as sales

    return sales.current_sales()


@api.route("/marketing/flash-sales/{sale_id}", "GET", response="chalicelib.marketing.flash_views:FlashSaleView",
           errors=(404,), summary="one flash sale: UPCOMING, RUNNING, SOLD_OUT or ENDED, and the units left")
def flash_sale(ctx: Context, sale_id: str):
    from chalicelib.marketing import flash_sales as sales

    return sales.get_sale(sale_id)


@api.blueprint.schedule(Rate(1, unit=Rate.MINUTES), name="marketing_flash_closer")
def marketing_flash_closer(event) -> None:
    """Flash sales past their `ends_at` are closed and their unsold units go back to regular stock."""
    from chalicelib.marketing import flash_sales as sales

    ended = sales.close_due_sales()
    if ended:
        log.info("flash sales: %d closed at their end", ended)


@api.blueprint.on_dynamodb_record(stream_arn=events.stream_arn("flash_pools"), batch_size=FLASH_POOL_BATCH,
                                  name="marketing_flash_pool")
def marketing_flash_pool(event) -> None:
    """Keeps each sale's sold-out flag current and sends units that came back to a closed pool to regular stock
    (both recomputed from the tables: idempotent)."""
    from chalicelib.marketing import flash_stock

    flash_stock.on_pool_changes([image for record in event if (image := events.image(record, "new"))])
