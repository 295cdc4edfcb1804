"""The merchant's notification pages: what was sent, the templates per kind, low-stock thresholds and alerts.

They call the notify feature's service (and catalog's, for the threshold, which lives
on the SKU's stock), imported when a request needs them: the admin function's cold
start loads no notify code.
"""
from __future__ import annotations

from chalicelib.admin.api import api
from chalicelib.core.auth import STAFF, staff_may
from chalicelib.core.http import Context
from chalicelib.core.permissions import CATALOG_EDIT, MARKETING_MANAGE

INPUTS = "chalicelib.notify.inputs"
# Which messages buyers get is the shop's marketing voice; a SKU's alert line is part of its catalog card.
MANAGE_MESSAGES = staff_may(MARKETING_MANAGE)
EDIT_CATALOG = staff_may(CATALOG_EDIT)


@api.route("/admin/notifications", "GET", query=f"{INPUTS}:PageQuery", response=f"{INPUTS}:NotificationPage",
           auth=STAFF, errors=(400,), summary="notifications, newest first: kind, recipient, status, the data sent")
def list_notifications(ctx: Context):
    from chalicelib.notify import service

    return service.list_notifications(ctx.query.cursor, ctx.query.limit)


@api.route("/admin/notification-templates", "GET", response=f"{INPUTS}:NotificationTemplateList", auth=STAFF,
           summary="every notification kind: its variables and the template and field mapping set for it")
def list_templates(ctx: Context):
    from chalicelib.notify import service

    return service.template_list()


@api.route("/admin/notification-templates/{kind}", "PUT", body=f"{INPUTS}:NotificationTemplateBody",
           response=f"{INPUTS}:NotificationTemplateView", auth=MANAGE_MESSAGES, errors=(400, 404),
           summary="turn a kind on: its WeChat template id, page and which variable fills each data key")
def put_template(ctx: Context, kind: str):
    from chalicelib.notify import service

    actor = ctx.principal.subject
    return service.save_template(kind, ctx.body, actor)


@api.route("/admin/notification-templates/{kind}", "DELETE", status=204, auth=MANAGE_MESSAGES, errors=(404,),
           summary="turn a kind off: its events are no longer recorded or sent")
def delete_template(ctx: Context, kind: str) -> None:
    from chalicelib.notify import service

    service.remove_template(kind)


@api.route("/admin/skus/{sku_id}/low-stock-threshold", "PUT", body=f"{INPUTS}:ThresholdBody",
           response=f"{INPUTS}:Threshold", auth=EDIT_CATALOG, errors=(400, 404),
           summary="alert when the SKU's available stock falls below `threshold` (null: never)")
def put_low_stock_threshold(ctx: Context, sku_id: str):
    from chalicelib.catalog import stock

    return stock.set_low_stock_threshold(sku_id, ctx.body.threshold)


@api.route("/admin/low-stock-alerts", "GET", query=f"{INPUTS}:PageQuery", response=f"{INPUTS}:AlertPage",
           auth=STAFF, errors=(400,), summary="low-stock alerts raised, newest first")
def list_low_stock_alerts(ctx: Context):
    from chalicelib.notify import service

    return service.list_low_stock_alerts(ctx.query.cursor, ctx.query.limit)
