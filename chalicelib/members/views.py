"""What the members routes answer, as /openapi.json documents it (pydantic).

The handlers answer with the runtime views of the same names (members/service.py, levels.py,
points.py: core/views.py, no pydantic), each naming its model here (core/views.py); the tests hold
every answer to its model (tests/contracts.py).
"""
from __future__ import annotations

from chalicelib.core.schema import Schema


class User(Schema):
    """What a buyer may see of their own record (never the session_key)."""
    user_id: str
    openid: str
    nickname: str
    level: int  # the member level the buyer's growth reaches now (levels follow growth both ways)
    level_name: str
    discount_percent: int  # the level's member discount: percent off every line
    growth: int  # yuan paid for completed orders, less refunded ones
    points: int  # spendable at checkout, 1 point = 1 fen
    frozen_points: int  # earned, released when the refund window of their order closes
    created_at: str


class LoginResult(Schema):
    token: str
    expires_in: int
    user: User


class Address(Schema):
    address_id: str
    name: str
    phone: str
    province: str
    city: str
    district: str
    detail: str
    is_default: bool
    created_at: str
    updated_at: str


AddressList = list[Address]  # `GET /me/addresses`


class LevelView(Schema):
    level: int
    name: str
    growth_threshold: int
    discount_percent: int


class LevelTable(Schema):
    levels: list[LevelView]
    version: int  # 0 while the defaults stand


class PointsEntry(Schema):
    entry_id: str
    delta: int
    reason: str
    order_id: str | None
    created_at: str
    expires_at: str | None  # an earning: when what is left of it expires
    status: str | None  # an earning: FROZEN, RELEASED, CLAWED or EXPIRED
    release_at: str | None  # a frozen earning: when it joins the balance
    shortfall: int | None  # a clawback: points already spent that could not be taken back
    note: str | None


class PointsPage(Schema):
    balance: int
    frozen: int
    items: list[PointsEntry]
    next_cursor: str | None
