"""What the segment console accepts, validated at the edge (named lazily by chalicelib/admin/segment_routes.py)."""
from __future__ import annotations

from pydantic import ConfigDict, Field, StrictInt, StrictStr

from chalicelib.core.schema import Schema
from chalicelib.segments.rules import MAX_WINDOW_DAYS

MAX_FEN = 10_000_000_000  # ¥100,000,000: far above any buyer's year


class ThresholdsBody(Schema):
    """Every threshold (a PUT replaces them all); `dormant_days` may not be below `active_days`."""
    model_config = ConfigDict(extra="forbid", defer_build=True)
    new_days: StrictInt = Field(ge=1, le=365, description="NEW: registered within this many days")
    active_days: StrictInt = Field(ge=1, le=365, description="ACTIVE: paid within this many days")
    dormant_days: StrictInt = Field(ge=1, le=1095, description="DORMANT: paid before, not within this many days")
    high_value_fen: StrictInt = Field(ge=1, le=MAX_FEN, description="HIGH_VALUE: kept at least this much (fen)...")
    high_value_days: StrictInt = Field(ge=1, le=MAX_WINDOW_DAYS, description="...of what was paid in this many days")


class MembersQuery(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=100)


class GrantBody(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    template_id: StrictStr = Field(min_length=1, max_length=64)


class GrantsQuery(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=50)
