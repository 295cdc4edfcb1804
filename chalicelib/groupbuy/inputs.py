"""What buyers and staff send to the group-buy routes, validated at the edge."""
from __future__ import annotations

from pydantic import ConfigDict, Field, StrictInt, StrictStr

from chalicelib.core.schema import Schema, UtcMoment

MIN_GROUP_SIZE, MAX_GROUP_SIZE = 2, 50
MAX_DURATION_MINUTES = 7 * 24 * 60
MAX_CAMPAIGN_STOCK = 1_000_000
MAX_PER_USER_LIMIT = 99
MAX_PRICE = 100_000_000  # fen: ¥1,000,000


class NewCampaign(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    product_id: StrictStr = Field(min_length=1, max_length=64)
    sku_id: StrictStr = Field(min_length=1, max_length=64)
    group_price: StrictInt = Field(ge=1, le=MAX_PRICE)
    group_size: StrictInt = Field(ge=MIN_GROUP_SIZE, le=MAX_GROUP_SIZE)
    duration_minutes: StrictInt = Field(ge=1, le=MAX_DURATION_MINUTES)
    stock: StrictInt = Field(ge=1, le=MAX_CAMPAIGN_STOCK)
    per_user_limit: StrictInt | None = Field(default=None, ge=1, le=MAX_PER_USER_LIMIT)
    starts_at: UtcMoment | None = None
    ends_at: UtcMoment | None = None


class CampaignEdit(Schema):
    """Only what is sent changes. Groups already opened keep the terms they were opened with."""
    model_config = ConfigDict(extra="forbid", defer_build=True)
    group_price: StrictInt | None = Field(default=None, ge=1, le=MAX_PRICE)
    group_size: StrictInt | None = Field(default=None, ge=MIN_GROUP_SIZE, le=MAX_GROUP_SIZE)
    duration_minutes: StrictInt | None = Field(default=None, ge=1, le=MAX_DURATION_MINUTES)
    stock: StrictInt | None = Field(default=None, ge=0, le=MAX_CAMPAIGN_STOCK)
    per_user_limit: StrictInt | None = Field(default=None, ge=1, le=MAX_PER_USER_LIMIT)
    ends_at: UtcMoment | None = None


class GroupOpening(Schema):
    """A group-buy order takes no coupon and no points: asking for either is 422."""
    model_config = ConfigDict(extra="forbid", defer_build=True)
    campaign_id: StrictStr = Field(min_length=1, max_length=64)
    address_id: StrictStr = Field(min_length=1, max_length=64)
    coupon_id: StrictStr | None = Field(default=None, min_length=1, max_length=64)
    points: StrictInt | None = Field(default=None, ge=0)


class GroupJoining(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    address_id: StrictStr = Field(min_length=1, max_length=64)
    coupon_id: StrictStr | None = Field(default=None, min_length=1, max_length=64)
    points: StrictInt | None = Field(default=None, ge=0)
