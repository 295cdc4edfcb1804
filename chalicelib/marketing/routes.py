"""marketing routes: the coupons buyers may claim, claiming one, the buyer's coupons, the member levels."""
from __future__ import annotations

from chalicelib.core.auth import BUYER
from chalicelib.core.http import Api, Context
from chalicelib.core.limits import COUPON_CLAIM

api = Api(__name__, tag="marketing")


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
           status=201, auth=BUYER, errors=(404, 409), limit=COUPON_CLAIM,
           summary="claim one coupon: 409 SOLD_OUT when none is left, LIMIT_REACHED at the per-buyer limit")
def claim_coupon(ctx: Context, template_id: str):
    from chalicelib.marketing import service

    return service.claim(ctx.user_id, template_id)


@api.route("/marketing/member-levels", "GET", response="chalicelib.members.levels:LevelTable",
           summary="the merchant's member levels: growth threshold and member discount of each")
def member_levels(ctx: Context):
    from chalicelib.members import levels

    return levels.level_table()
