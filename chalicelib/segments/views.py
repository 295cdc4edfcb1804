"""What the segment console answers, for /openapi.json only: the services answer plain dicts of these shapes."""
from __future__ import annotations

from pydantic import Field

from chalicelib.core.schema import Schema


class Thresholds(Schema):
    new_days: int
    active_days: int
    dormant_days: int
    high_value_fen: int
    high_value_days: int
    version: int = Field(description="0 until first saved (the defaults)")


class ThresholdsView(Thresholds):
    updated_at: str | None
    updated_by: str | None
    refresh_minutes: int = Field(description="MALL_SEGMENTS_REFRESH_MINUTES: how often the segments are recomputed")


class SegmentView(Schema):
    segment: str = Field(description="NEW, ACTIVE, DORMANT or HIGH_VALUE")
    name: str
    definition: str = Field(description="the rule under the current thresholds")
    size: int
    computed_at: str | None = Field(description="null until the schedule first computes it")
    computed_with: Thresholds | None
    stale: bool = Field(description="the thresholds changed since: the next scheduled run recomputes it")


class SegmentList(Schema):
    thresholds: ThresholdsView
    items: list[SegmentView]


class SegmentMember(Schema):
    user_id: str
    nickname: str | None = Field(description="masked; null when the account was deleted since the last refresh")
    account_deleted: bool
    registered_at: str | None
    joined_at: str = Field(description="the refresh that first found the buyer in the segment")
    first_paid_at: str | None
    last_paid_at: str | None
    paid_orders: int
    refunded_orders: int
    paid_total: int = Field(description="fen paid, less refunds")
    high_value_window_total: int = Field(description="fen kept of what was paid within high_value_days")


class MemberPage(Schema):
    segment: str
    computed_at: str | None
    items: list[SegmentMember]
    next_cursor: str | None


class Skipped(Schema):
    already_holds: int = Field(description="holds an unspent coupon of the template")
    per_user_limit: int
    template_exhausted: int
    template_ended: int
    account_deleted: int


class GrantView(Schema):
    grant_id: str
    segment: str
    template_id: str
    status: str = Field(description="RUNNING, DONE or CANCELLED")
    total: int = Field(description="the segment's size when the grant began")
    processed: int = Field(description="members walked so far: granted + skipped + failed")
    granted: int
    skipped: Skipped
    failed: int
    pages: int
    created_by: str
    cancelled_by: str | None
    started_at: str
    updated_at: str
    finished_at: str | None


class GrantPage(Schema):
    items: list[GrantView]
    next_cursor: str | None
