"""What the members routes accept, named lazily by chalicelib/members/routes.py: a cold start whose first request
is `GET /me` imports none of it."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, StrictBool, StringConstraints

from chalicelib.core.schema import Schema
from chalicelib.members.service import AddressFields


def _text(max_length: int, **constraints: Any) -> Any:
    # Strict: a JSON number is not a name; stripped first so "   " counts as empty.
    return Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1,
                                            max_length=max_length, **constraints)]


class LoginBody(Schema):
    model_config = ConfigDict(extra="forbid")
    code: _text(128)


class AddressBody(Schema):
    model_config = ConfigDict(extra="forbid")
    name: _text(32)
    phone: _text(11, pattern=r"^1[3-9][0-9]{9}$")  # mainland mobile number
    province: _text(32)
    city: _text(32)
    district: _text(32)
    detail: _text(120)

    def fields(self) -> AddressFields:
        return AddressFields(name=self.name, phone=self.phone, province=self.province, city=self.city,
                             district=self.district, detail=self.detail)


class PointsQuery(Schema):
    model_config = ConfigDict(extra="forbid")
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=50)


class NewAddressBody(AddressBody):
    is_default: StrictBool = False


class AddressUpdateBody(AddressBody):
    is_default: StrictBool | None = None  # left out: the address keeps its default status
