"""Group-buy campaigns for staff: create, list, edit, end (the rules are groupbuy's, campaigns.py)."""
from __future__ import annotations

from chalicelib.admin.api import api
from chalicelib.core.auth import STAFF
from chalicelib.core.http import Context

CAMPAIGN = "chalicelib.groupbuy.views:AdminCampaignView"


@api.route("/admin/groupbuy/campaigns", "POST", body="chalicelib.groupbuy.inputs:NewCampaign", response=CAMPAIGN,
           status=201, auth=STAFF, errors=(404,),
           summary="create a group-buy campaign (campaign stock caps what it sells from the SKU's regular stock)")
def create_groupbuy_campaign(ctx: Context):
    from chalicelib.admin.service import require_active_staff
    from chalicelib.groupbuy import campaigns

    return campaigns.create_campaign(ctx.body, actor=require_active_staff(ctx.user_id).username)


@api.route("/admin/groupbuy/campaigns", "GET", response="chalicelib.groupbuy.views:AdminCampaignList", auth=STAFF,
           summary="every group-buy campaign, newest first")
def list_groupbuy_campaigns(ctx: Context):
    from chalicelib.admin.service import require_active_staff
    from chalicelib.groupbuy import campaigns

    require_active_staff(ctx.user_id)
    return {"items": campaigns.all_campaigns()}


@api.route("/admin/groupbuy/campaigns/{campaign_id}", "PUT", body="chalicelib.groupbuy.inputs:CampaignEdit",
           response=CAMPAIGN, auth=STAFF, errors=(404, 409),
           summary="edit a campaign: groups already opened keep their terms; an earlier end brings their deadlines "
                   "forward")
def edit_groupbuy_campaign(ctx: Context, campaign_id: str):
    from chalicelib.admin.service import require_active_staff
    from chalicelib.groupbuy import campaigns

    return campaigns.edit_campaign(campaign_id, ctx.body, actor=require_active_staff(ctx.user_id).username)


@api.route("/admin/groupbuy/campaigns/{campaign_id}/end", "POST", response=CAMPAIGN, auth=STAFF, errors=(404,),
           summary="end a campaign now: no new groups or joins; unfinished groups fail at once unless complete")
def end_groupbuy_campaign(ctx: Context, campaign_id: str):
    from chalicelib.admin.service import require_active_staff
    from chalicelib.groupbuy import campaigns

    return campaigns.end_campaign(campaign_id, actor=require_active_staff(ctx.user_id).username)
