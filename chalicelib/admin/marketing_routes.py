"""The marketing console: coupon templates (create, list, edit, end, grant) and the member levels."""
from __future__ import annotations

from chalicelib.admin.api import api
from chalicelib.core.auth import OWNER, STAFF, staff_may
from chalicelib.core.http import Context
from chalicelib.core.permissions import MARKETING_MANAGE

TEMPLATE = "chalicelib.marketing.views:TemplateView"
INPUTS = "chalicelib.admin.inputs:"  # models by name: a cold start loads what its first request uses
MANAGE_MARKETING = staff_may(MARKETING_MANAGE)


@api.route("/admin/coupon-templates", "POST", body="chalicelib.marketing.inputs:NewTemplate", response=TEMPLATE,
           status=201, auth=MANAGE_MARKETING,
           summary="create a coupon template (满减, percent off with a cap, no threshold)")
def create_coupon_template(ctx: Context):
    from chalicelib.marketing import templates

    return templates.create_template(ctx.body, actor=ctx.principal.subject)


@api.route("/admin/coupon-templates", "GET", query="chalicelib.marketing.inputs:TemplateQuery",
           response="chalicelib.marketing.views:TemplatePage", auth=STAFF, summary="coupon templates, newest first")
def list_coupon_templates(ctx: Context):
    from chalicelib.marketing import templates

    return templates.list_templates(ctx.query.cursor, ctx.query.limit)


@api.route("/admin/coupon-templates/{template_id}", "GET", response=TEMPLATE, auth=STAFF, errors=(404,),
           summary="one coupon template with how many are claimed")
def get_coupon_template(ctx: Context, template_id: str):
    from chalicelib.marketing import templates

    return templates.get_template(template_id)


@api.route("/admin/coupon-templates/{template_id}", "PUT", body="chalicelib.marketing.inputs:TemplateTerms",
           response=TEMPLATE, auth=MANAGE_MARKETING, errors=(404, 409),
           summary="edit a template; coupons already held keep the terms they were claimed under")
def edit_coupon_template(ctx: Context, template_id: str):
    from chalicelib.marketing import templates

    return templates.edit_template(template_id, ctx.body, actor=ctx.principal.subject)


@api.route("/admin/coupon-templates/{template_id}/end", "POST", response=TEMPLATE, auth=MANAGE_MARKETING, errors=(404,),
           summary="stop claims and grants; held coupons stay valid")
def end_coupon_template(ctx: Context, template_id: str):
    from chalicelib.marketing import templates

    return templates.end_template(template_id, actor=ctx.principal.subject)


@api.route("/admin/coupon-templates/{template_id}/grant", "POST", body="chalicelib.marketing.inputs:Grant",
           response="chalicelib.marketing.views:CouponView", status=201, auth=MANAGE_MARKETING, errors=(404, 409),
           summary="give a buyer one coupon (granted-only templates too), within the total and per-buyer limit")
def grant_coupon(ctx: Context, template_id: str):
    from chalicelib.marketing import service
    from chalicelib.members import service as members

    members.get_user(ctx.body.user_id)  # 404 USER_NOT_FOUND
    return service.grant(ctx.body.user_id, template_id)


@api.route("/admin/member-levels", "GET", response="chalicelib.members.levels:LevelTable", auth=STAFF,
           summary="the five member levels")
def get_member_levels(ctx: Context):
    from chalicelib.members import levels

    return levels.level_table()


@api.route("/admin/member-levels", "PUT", body=INPUTS + "LevelsInput", response="chalicelib.members.levels:LevelTable",
           auth=OWNER, summary="replace the five member levels (thresholds strictly increasing from 0)")
def put_member_levels(ctx: Context):
    from chalicelib.members import levels

    table = [levels.Level(item.level, item.name.strip(), item.growth_threshold, item.discount_percent)
             for item in ctx.body.levels]
    return levels.replace_levels(table, actor=ctx.principal.subject)


@api.route("/admin/members/{user_id}/points", "POST", body=INPUTS + "PointsAdjustment",
           response="chalicelib.members.points:PointsPage", auth=OWNER, errors=(404, 409),
           summary="add points to a buyer (expiring like earned ones) or take some back (never below zero)")
def adjust_points(ctx: Context, user_id: str):
    from chalicelib.core.errors import BadRequest
    from chalicelib.members import points
    from chalicelib.members import service as members

    if ctx.body.delta == 0:
        raise BadRequest("delta must not be 0", code="VALIDATION_ERROR")
    members.get_user(user_id)  # 404 USER_NOT_FOUND
    return points.adjust(user_id, ctx.body.delta, ctx.body.note, actor=ctx.principal.subject)
