"""The merchant's dashboard: sales, orders by status, the funnel, top products and campaigns.

It reads the analytics feature's per-day counters only (chalicelib/analytics/dashboard.py), imported when a
request needs it: the admin function's cold start loads no analytics code. The owner's backfill of the orders
placed before analytics counted them (chalicelib/analytics/backfill.py) starts, shows and stops here; its pages
are counted by analytics' `analytics_backfill_worker`.
"""
from __future__ import annotations

from chalicelib.admin.api import api
from chalicelib.core.auth import OWNER, staff_may
from chalicelib.core.http import Context
from chalicelib.core.permissions import ORDERS_VIEW


@api.route("/admin/dashboard", "GET", query="chalicelib.analytics.inputs:DashboardQuery",
           response="chalicelib.analytics.views:Dashboard", auth=staff_may(ORDERS_VIEW), errors=(400,),
           summary="GMV, refunds, orders, buyers, the funnel, top products and campaigns per shop day, "
                   "from..to (default the last 7 days; at most 92)")
def dashboard(ctx: Context) -> dict:
    from chalicelib.analytics.dashboard import dashboard as read_dashboard

    return read_dashboard(ctx.query.from_, ctx.query.to)


BACKFILL_INPUTS, BACKFILL_VIEW = "chalicelib.analytics.inputs:", "chalicelib.analytics.backfill_views:BackfillJobView"


@api.route("/admin/analytics/backfill", "POST", body=BACKFILL_INPUTS + "BackfillBody", response=BACKFILL_VIEW,
           status=202, auth=OWNER, errors=(400,),
           summary="replay the orders, payments and refunds placed from..to into the dashboard's counters, in the "
                   "background; each fact counts once with what the live stream counted")
def start_backfill(ctx: Context) -> dict:
    from chalicelib.analytics import backfill

    return backfill.start_job(ctx.body.from_, ctx.body.to, actor=ctx.principal.subject)


@api.route("/admin/analytics/backfill/{job_id}", "GET", response=BACKFILL_VIEW, auth=OWNER, errors=(404,),
           summary="a backfill's progress: pages, orders read, facts counted, already counted, left to the live count")
def get_backfill(ctx: Context, job_id: str) -> dict:
    from chalicelib.analytics import backfill

    return backfill.get_job(job_id)


@api.route("/admin/analytics/backfill/{job_id}/cancel", "POST", response=BACKFILL_VIEW, auth=OWNER, errors=(404, 409),
           summary="stop a RUNNING backfill: no page starts after it; what it counted stays counted")
def cancel_backfill(ctx: Context, job_id: str) -> dict:
    from chalicelib.analytics import backfill

    return backfill.cancel_job(job_id, actor=ctx.principal.subject)


@api.route("/admin/analytics/backfill/{job_id}/resume", "POST", response=BACKFILL_VIEW, auth=OWNER, errors=(404, 409),
           summary="queue a RUNNING backfill's next page again (its message was lost or dead-lettered)")
def resume_backfill(ctx: Context, job_id: str) -> dict:
    from chalicelib.analytics import backfill

    return backfill.resume_job(job_id)
