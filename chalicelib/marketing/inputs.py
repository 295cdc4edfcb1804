"""What staff and buyers send to the coupon routes, validated at the edge."""
from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator

from chalicelib.core.schema import Schema, UtcMoment

MAX_SCOPE_IDS = 100
MAX_TOTAL = 10_000_000
MAX_PER_USER = 100
MAX_VALID_DAYS = 3650
MAX_FEN = 100_000_000  # ¥1,000,000: far above any coupon


class Scope(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    kind: Literal["ALL", "CATEGORIES", "PRODUCTS"] = "ALL"
    ids: list[StrictStr] = Field(default_factory=list, max_length=MAX_SCOPE_IDS)

    @model_validator(mode="after")
    def _ids_match_kind(self) -> Scope:
        if self.kind == "ALL" and self.ids:
            raise ValueError("scope ALL takes no ids")
        if self.kind != "ALL" and not self.ids:
            raise ValueError(f"scope {self.kind} needs at least one id")
        if any(not 1 <= len(item) <= 64 for item in self.ids):
            raise ValueError("scope ids are 1-64 characters")
        self.ids = list(dict.fromkeys(self.ids))
        return self


class TemplateTerms(Schema):
    """Every field of a template; a create sends them, an edit sends the ones it changes."""
    model_config = ConfigDict(extra="forbid", defer_build=True)
    name: StrictStr | None = Field(default=None, min_length=1, max_length=40)
    kind: Literal["AMOUNT_OFF", "PERCENT_OFF", "NO_THRESHOLD"] | None = None
    amount_off: StrictInt | None = Field(default=None, ge=1, le=MAX_FEN)
    percent_off: StrictInt | None = Field(default=None, ge=1, le=99)
    max_discount: StrictInt | None = Field(default=None, ge=1, le=MAX_FEN)
    min_spend: StrictInt | None = Field(default=None, ge=0, le=MAX_FEN)
    scope: Scope | None = None
    total: StrictInt | None = Field(default=None, ge=1, le=MAX_TOTAL)
    per_user_limit: StrictInt | None = Field(default=None, ge=1, le=MAX_PER_USER)
    valid_days: StrictInt | None = Field(default=None, ge=1, le=MAX_VALID_DAYS)
    starts_at: UtcMoment | None = None
    ends_at: UtcMoment | None = None
    claimable: StrictBool | None = None


class NewTemplate(TemplateTerms):
    name: StrictStr = Field(min_length=1, max_length=40)
    kind: Literal["AMOUNT_OFF", "PERCENT_OFF", "NO_THRESHOLD"]
    total: StrictInt = Field(ge=1, le=MAX_TOTAL)
    per_user_limit: StrictInt = Field(ge=1, le=MAX_PER_USER)


class Grant(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    user_id: StrictStr = Field(min_length=1, max_length=64)


class MineQuery(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    status: Literal["AVAILABLE", "LOCKED", "USED", "EXPIRED"] | None = None
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=50)


class TemplateQuery(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=50)

