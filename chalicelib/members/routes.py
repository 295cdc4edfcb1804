"""members routes: WeChat login, the buyer's profile, address book and points, and what orders do to them."""
from __future__ import annotations

import logging
from typing import Annotated, Any

from chalice import Rate
from pydantic import ConfigDict, Field, StrictBool, StringConstraints

from chalicelib.core.auth import BUYER
from chalicelib.core.http import Api, Context
from chalicelib.core.limits import BUYER_LOGIN
from chalicelib.core.schema import Schema
from chalicelib.members import service
from chalicelib.members.service import Address, AddressFields, LoginResult, User

api = Api(__name__, tag="members")
log = logging.getLogger("micromall.members")

SCHEDULE_SAFETY_MILLIS = 5_000


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


@api.route("/auth/login", "POST", body=LoginBody, response=LoginResult, errors=(401, 403, 429, 502), limit=BUYER_LOGIN,
           summary="log in with a wx.login() code; the first login creates the buyer")
def login(ctx: Context) -> LoginResult:
    return service.login(ctx.body.code)


@api.route("/me", "GET", response=User, auth=BUYER, errors=(404,), summary="the buyer's profile")
def me(ctx: Context) -> User:
    return service.get_user(ctx.user_id)


@api.route("/me/export", "GET", response="chalicelib.members.privacy:PersonalData", auth=BUYER, errors=(404,),
           summary="everything the mall holds about the buyer (PIPL): profile, addresses, orders, coupons, points")
def export_my_data(ctx: Context):
    from chalicelib.members import privacy

    return privacy.export_data(ctx.user_id)


@api.route("/me", "DELETE", status=204, auth=BUYER, errors=(409,),
           summary="delete the buyer's account (PIPL): addresses deleted, profile anonymised, orders kept with "
                   "their address redacted; 409 ACCOUNT_HAS_OPEN_ORDERS while an order may still move money or goods")
def delete_me(ctx: Context) -> None:
    from chalicelib.members import privacy

    privacy.delete_account(ctx.user_id)


@api.route("/me/addresses", "GET", response=list[Address], auth=BUYER,
           summary="the buyer's addresses, the default first")
def list_addresses(ctx: Context) -> list[Address]:
    return service.list_addresses(ctx.user_id)


@api.route("/me/addresses", "POST", body=NewAddressBody, response=Address, status=201, auth=BUYER,
           errors=(409,), summary="add an address (the first becomes the default)")
def add_address(ctx: Context) -> Address:
    return service.add_address(ctx.user_id, ctx.body.fields(), ctx.body.is_default)


@api.route("/me/addresses/{address_id}", "PUT", body=AddressUpdateBody, response=Address, auth=BUYER,
           errors=(404, 409), summary="replace an address; is_default true makes it the default")
def update_address(ctx: Context, address_id: str) -> Address:
    return service.update_address(ctx.user_id, address_id, ctx.body.fields(), ctx.body.is_default)


@api.route("/me/addresses/{address_id}", "DELETE", status=204, auth=BUYER, errors=(404, 409),
           summary="delete an address; deleting the default promotes the most recent other one")
def delete_address(ctx: Context, address_id: str) -> None:
    service.delete_address(ctx.user_id, address_id)


@api.route("/me/points", "GET", query=PointsQuery, response="chalicelib.members.points:PointsPage", auth=BUYER,
           summary="the buyer's points balance and ledger, newest first")
def my_points(ctx: Context):
    from chalicelib.members import points

    return points.ledger_page(ctx.user_id, ctx.query.cursor, ctx.query.limit)


@api.blueprint.schedule(Rate(10, unit=Rate.MINUTES), name="members_points_schedule")
def members_points_schedule(event) -> None:
    """Frozen points whose refund window closed join the balance; points past MALL_POINTS_EXPIRY_DAYS expire."""
    from chalicelib.members.effects import run_points_schedule

    context = getattr(event, "context", None)

    def out_of_time() -> bool:
        return context is not None and context.get_remaining_time_in_millis() < SCHEDULE_SAFETY_MILLIS

    report = run_points_schedule(out_of_time=out_of_time)
    log.info("points: %d released, %d expired", report["released"], report["expired"])
@api.route("/me/subscriptions", "POST", body="chalicelib.notify.inputs:SubscriptionResults",
           response="chalicelib.notify.inputs:Subscriptions", auth=BUYER, errors=(400,),
           summary="record what wx.requestSubscribeMessage answered: each accept is one message's credit")
def record_subscriptions(ctx: Context):
    # The notify feature owns the credits; /me is this function's base path, so the route lives here.
    from chalicelib.notify import service as notify

    return notify.record_subscriptions(ctx.user_id, ctx.body.results)
