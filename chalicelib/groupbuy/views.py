"""What the group-buy routes answer: campaigns, the public group page, a group with the buyer's order.

Runtime views (core/views.py): the only definition of each shape these routes answer with.
"""
from __future__ import annotations

from chalicelib.checkout.views import OrderView
from chalicelib.core import clock
from chalicelib.core.views import View
from chalicelib.groupbuy.models import CampaignModel, GroupModel, MemberModel


class CampaignView(View):
    campaign_id: str
    product_id: str
    sku_id: str
    title: str
    image: str | None
    group_price: int
    group_size: int
    duration_minutes: int
    starts_at: str
    ends_at: str
    stock_left: int  # units the campaign can still sell
    per_user_limit: int | None


class AdminCampaignView(CampaignView):
    stock: int
    status: str  # ACTIVE or ENDED
    version: int
    updated_at: str
    updated_by: str


class CampaignList(View):
    items: list[CampaignView]


class AdminCampaignList(View):
    items: list[AdminCampaignView]


class MemberView(View):
    """Nothing else about a member reaches a shared page."""
    nickname: str
    avatar: str | None
    is_leader: bool


class GroupPage(View):
    """The share page's data: public, so it names no buyer id and no order."""
    group_id: str
    campaign_id: str
    product_id: str
    sku_id: str
    title: str
    image: str | None
    status: str  # PENDING, OPEN, SUCCEEDED, FAILED
    group_size: int
    group_price: int
    paid_members: int
    places_left: int  # places no live order holds: what a new buyer could still take
    expires_at: str | None  # set when the leader pays
    members: list[MemberView]  # paid members, leader first


class GroupOrder(View):
    group_id: str
    status: str
    order: OrderView


def campaign_view(campaign: CampaignModel) -> CampaignView:
    return CampaignView(**_campaign_fields(campaign))


def admin_campaign_view(campaign: CampaignModel) -> AdminCampaignView:
    return AdminCampaignView(**_campaign_fields(campaign), stock=int(campaign.stock), status=campaign.status,
                             version=int(campaign.version), updated_at=clock.iso(campaign.updated_at),
                             updated_by=campaign.updated_by)


def _campaign_fields(campaign: CampaignModel) -> dict:
    return {"campaign_id": campaign.campaign_id, "product_id": campaign.product_id, "sku_id": campaign.sku_id,
            "title": campaign.title, "image": campaign.image, "group_price": int(campaign.group_price),
            "group_size": int(campaign.group_size), "duration_minutes": int(campaign.duration_minutes),
            "starts_at": clock.iso(campaign.starts_at), "ends_at": clock.iso(campaign.ends_at),
            "stock_left": max(int(campaign.stock_left), 0),
            "per_user_limit": int(campaign.per_user_limit) if campaign.per_user_limit is not None else None}


def group_page(group: GroupModel, members: list[MemberModel]) -> GroupPage:
    paid = sorted((m for m in members if m.state == "PAID"), key=lambda m: (not m.is_leader, m.paid_at or m.joined_at))
    return GroupPage(group_id=group.group_id, campaign_id=group.campaign_id, product_id=group.product_id,
                     sku_id=group.sku_id, title=group.title, image=group.image, status=group.status,
                     group_size=int(group.group_size), group_price=int(group.group_price),
                     paid_members=int(group.paid_members),
                     places_left=max(int(group.group_size) - int(group.holders), 0)
                     if group.status in ("PENDING", "OPEN") else 0,
                     expires_at=clock.iso(group.expires_at) if group.expires_at else None,
                     members=[MemberView(nickname=m.nickname, avatar=m.avatar, is_leader=bool(m.is_leader))
                              for m in paid])
