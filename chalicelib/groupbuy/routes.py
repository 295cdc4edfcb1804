"""groupbuy routes: running campaigns, opening and joining groups, the public group page, and the group jobs.

Staff manage campaigns under `/admin/groupbuy/campaigns` (the admin feature's routes, admin/groupbuy_routes.py).
"""
from __future__ import annotations

import logging

from chalice import Rate

from chalicelib.core import events
from chalicelib.core.auth import BUYER
from chalicelib.core.http import Api, Context, Header

api = Api(__name__, tag="groupbuy")
log = logging.getLogger("micromall.groupbuy")

GROUP_ORDER = "chalicelib.groupbuy.views:GroupOrder"
OPTIONAL_KEY = Header("Idempotency-Key", "optional: the same key returns the same group and order",
                      schema=(("type", "string"), ("pattern", "^[0-9A-Za-z_.:-]{8,64}$")))
# Leave this much of the expiry job's Lambda time unused, so a run never ends mid-transaction.
EXPIRY_SAFETY_MILLIS = 10_000


@api.route("/groupbuy/campaigns", "GET", response="chalicelib.groupbuy.views:CampaignList",
           summary="running group-buy campaigns")
def list_campaigns(ctx: Context):
    from chalicelib.groupbuy import campaigns

    return {"items": campaigns.running_campaigns()}


@api.route("/groupbuy/campaigns/{campaign_id}", "GET", response="chalicelib.groupbuy.views:CampaignView",
           errors=(404,), summary="one running campaign")
def get_campaign(ctx: Context, campaign_id: str):
    from chalicelib.groupbuy import campaigns

    return campaigns.running_campaign(campaign_id)


@api.route("/groupbuy/groups", "POST", body="chalicelib.groupbuy.inputs:GroupOpening", response=GROUP_ORDER,
           status=201, auth=BUYER, errors=(404, 409, 422, 503), headers=(OPTIONAL_KEY,),
           summary="open a group with the leader's order (the group opens to others when the leader pays)")
def open_group(ctx: Context):
    from chalicelib.groupbuy import service

    return service.open_group(ctx.user_id, ctx.body, ctx.headers.get("idempotency-key"))


@api.route("/groupbuy/groups/{group_id}/join", "POST", body="chalicelib.groupbuy.inputs:GroupJoining",
           response=GROUP_ORDER, status=201, auth=BUYER, errors=(404, 409, 422, 503), headers=(OPTIONAL_KEY,),
           summary="join an open group with the buyer's own order: the place is held until it is paid or expires")
def join_group(ctx: Context, group_id: str):
    from chalicelib.groupbuy import service

    return service.join_group(ctx.user_id, group_id, ctx.body, ctx.headers.get("idempotency-key"))


@api.route("/groupbuy/groups/{group_id}", "GET", response="chalicelib.groupbuy.views:GroupPage", errors=(404,),
           summary="the public group page (what a shared link opens): status, places left, expiry, members")
def get_group(ctx: Context, group_id: str):
    from chalicelib.groupbuy import service

    return service.group_page_of(group_id)


@api.blueprint.schedule(Rate(1, unit=Rate.MINUTES), name="groupbuy_expiry")
def groupbuy_expiry(event) -> None:
    """Incomplete groups past their deadline fail; finished groups' orders are settled (paid, refunded, cancelled)."""
    from chalicelib.groupbuy.settlement import run_due_groups

    context = getattr(event, "context", None)

    def out_of_time() -> bool:
        return context is not None and context.get_remaining_time_in_millis() < EXPIRY_SAFETY_MILLIS

    report = run_due_groups(out_of_time=out_of_time)
    log.info("group expiry: %d failed, %d settled, %d moved by someone else first, %d left for the next run",
             report.failed, report.settled, report.lost_races, report.unsettled)


@api.blueprint.on_dynamodb_record(stream_arn=events.stream_arn("groupbuys"), batch_size=10,
                                  name="groupbuy_settlement")
def groupbuy_settlement(event) -> None:
    """A group that succeeded or failed: announced once, its members' orders settled (idempotent)."""
    from chalicelib.groupbuy.events import handle_group_records

    handle_group_records(event)
