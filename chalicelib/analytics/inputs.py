"""What `/track` and the dashboard accept, named lazily by the routes: a cold start imports none of it."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import ConfigDict, Field, StrictStr, field_validator, model_validator

from chalicelib.analytics.tracking import MAX_EVENTS
from chalicelib.core import clock
from chalicelib.core.ids import ID_PATTERN
from chalicelib.core.schema import Schema

ProductId = Annotated[StrictStr, Field(pattern=ID_PATTERN.pattern)]
SearchText = Annotated[StrictStr, Field(min_length=1, max_length=100)]


class TrackEvent(Schema):
    """One thing the buyer did. `product_id` names the product of a PRODUCT_VIEW (required) or a SHARE;
    `q` is a SEARCH's words (required); `at` the client's own time (ISO 8601 with an offset), kept raw."""
    model_config = ConfigDict(extra="forbid")
    type: Literal["PAGE_VIEW", "PRODUCT_VIEW", "SEARCH", "SHARE"]
    product_id: Optional[ProductId] = None
    q: Optional[SearchText] = None
    at: Optional[StrictStr] = Field(default=None, max_length=40)

    @field_validator("at")
    @classmethod
    def _iso_time(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return clock.iso(clock.parse_iso(value))
        except (ValueError, OverflowError):  # OverflowError: a time at the edge of year 1 or 9999 in UTC
            raise ValueError("at is an ISO 8601 time with its offset, e.g. 2026-11-25T12:00:00+08:00") from None

    @model_validator(mode="after")
    def _names_what_it_needs(self) -> TrackEvent:
        if self.type == "PRODUCT_VIEW" and self.product_id is None:
            raise ValueError("a PRODUCT_VIEW names its product_id")
        if self.type == "SEARCH" and self.q is None:
            raise ValueError("a SEARCH carries its words in q")
        return self


class TrackBody(Schema):
    model_config = ConfigDict(extra="forbid")
    events: Annotated[list[TrackEvent], Field(min_length=1, max_length=MAX_EVENTS)]


class DashboardQuery(Schema):
    """Dates in the shop's time zone (`MALL_SHOP_TIMEZONE`); both optional: the last 7 days to today."""
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: Optional[str] = Field(default=None, alias="from", json_schema_extra={"format": "date"},
                                 description="first day, YYYY-MM-DD (default: 6 days before `to`)")
    to: Optional[str] = Field(default=None, json_schema_extra={"format": "date"},
                              description="last day, YYYY-MM-DD (default: today)")


class BackfillBody(Schema):
    """Shop days (`MALL_SHOP_TIMEZONE`) whose placed orders are replayed into the counters, at most 366."""
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: StrictStr = Field(alias="from", max_length=10, json_schema_extra={"format": "date"},
                             description="first day the orders were placed, YYYY-MM-DD")
    to: StrictStr = Field(max_length=10, json_schema_extra={"format": "date"},
                          description="last day, YYYY-MM-DD (today at the latest)")
