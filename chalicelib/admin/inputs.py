"""What the marketing and payments consoles accept and answer, named lazily by their route modules: a cold
start of the admin function imports none of it until a request uses it."""
from __future__ import annotations

from pydantic import ConfigDict, Field, StrictInt, StrictStr

from chalicelib.core.schema import Schema


class LevelInput(Schema):
    model_config = ConfigDict(extra="forbid")
    level: StrictInt = Field(ge=1, le=5)
    name: StrictStr = Field(min_length=1, max_length=20)
    growth_threshold: StrictInt = Field(ge=0, le=10**9)
    discount_percent: StrictInt = Field(ge=0, le=100)


class LevelsInput(Schema):
    model_config = ConfigDict(extra="forbid")
    levels: list[LevelInput] = Field(min_length=5, max_length=5)


class PointsAdjustment(Schema):
    model_config = ConfigDict(extra="forbid")
    delta: StrictInt = Field(ge=-10**8, le=10**8)
    note: StrictStr = Field(min_length=1, max_length=100)


class RejectBody(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    reason: StrictStr = Field(min_length=1, max_length=200)


class Anomaly(Schema):
    anomaly_id: str
    # AMOUNT_MISMATCH, MERCHANT_MISMATCH, UNKNOWN_ORDER, UNKNOWN_REFUND, REFUND_CLOSED, REFUND_ABNORMAL,
    # REFUND_FAILED, REFUND_AMOUNT_MISMATCH, CURRENCY_MISMATCH, RECONCILE_GAVE_UP
    code: str
    order_id: str | None
    provider: str | None
    transaction_id: str | None
    amount: int | None
    detail: str | None
    at: str


class AnomalyList(Schema):
    items: list[Anomaly]
