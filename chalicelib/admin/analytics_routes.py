"""The merchant's dashboard: sales, orders by status, the funnel, top products and campaigns.

It reads the analytics feature's per-day counters only (chalicelib/analytics/dashboard.py), imported when a
request needs it: the admin function's cold start loads no analytics code.
"""
from __future__ import annotations

from chalicelib.admin.api import api
from chalicelib.core.auth import staff_may
from chalicelib.core.http import Context
from chalicelib.core.permissions import ORDERS_VIEW


@api.route("/admin/dashboard", "GET", query="chalicelib.analytics.inputs:DashboardQuery",
           response="chalicelib.analytics.views:Dashboard", auth=staff_may(ORDERS_VIEW), errors=(400,),
           summary="GMV, refunds, orders, buyers, the funnel, top products and campaigns per shop day, "
                   "from..to (default the last 7 days; at most 92)")
def dashboard(ctx: Context) -> dict:
    from chalicelib.analytics.dashboard import dashboard as read_dashboard

    return read_dashboard(ctx.query.from_, ctx.query.to)
