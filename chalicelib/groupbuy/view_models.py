"""What the group-buy routes answer, as /openapi.json documents it (pydantic). The handlers answer with the
runtime views of the same names in groupbuy/views.py (core/views.py, no pydantic); the tests hold each answer to its
model."""
from __future__ import annotations

from chalicelib.checkout.view_models import OrderView
from chalicelib.core.schema import Schema


class CampaignView(Schema):
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


class CampaignList(Schema):
    items: list[CampaignView]


class AdminCampaignList(Schema):
    items: list[AdminCampaignView]


class MemberView(Schema):
    """Nothing else about a member reaches a shared page."""
    nickname: str
    avatar: str | None
    is_leader: bool


class GroupPage(Schema):
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


class GroupOrder(Schema):
    group_id: str
    status: str
    order: OrderView
