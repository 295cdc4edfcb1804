"""members routes: WeChat login, the buyer's profile, address book and points, and what orders do to them."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from chalice import Rate

from chalicelib.core.auth import BUYER
from chalicelib.core.http import DEVICE_ID, Api, Context
from chalicelib.core.limits import BUYER_LOGIN

if TYPE_CHECKING:
    from chalicelib.members.service import Address, LoginResult, User

api = Api(__name__, tag="members")
log = logging.getLogger("micromall.members")

SCHEDULE_SAFETY_MILLIS = 5_000
# Models by name, the service imported by the handler: a cold start loads what its first request uses.
INPUTS, VIEWS = "chalicelib.members.inputs:", "chalicelib.members.service:"


@api.route("/auth/login", "POST", body=INPUTS + "LoginBody",
           response=VIEWS + "LoginResult", errors=(401, 403, 429, 502), limit=BUYER_LOGIN,
           summary="log in with a wx.login() code; the first login creates the buyer")
def login(ctx: Context) -> LoginResult:
    from chalicelib.members import service

    return service.login(ctx.body.code)


WEB = "chalicelib.members.web_login:"  # the web login (a phone browser), pydantic: not a cold-start path


@api.route("/auth/web/{provider}/authorize", "GET", query=WEB + "AuthorizeQuery", response=WEB + "AuthorizeAnswer",
           errors=(400, 404, 503), headers=(DEVICE_ID,),
           summary="start a web login (wechat: in WeChat's browser; alipay: any other): the provider's authorize URL "
                   "and a state bound to the redirect page and this device (X-Device-Id required)")
def web_authorize(ctx: Context, provider: str):
    from chalicelib.members import web_login

    return web_login.authorize(provider, ctx.query.redirect, web_login.device_of(ctx.headers))


@api.route("/auth/web/{provider}/login", "POST", body=WEB + "WebLoginBody", response=WEB + "WebLoginResult",
           errors=(400, 401, 403, 404, 429, 502, 503), limit=BUYER_LOGIN,
           summary="finish a web login with the provider's code (Alipay's auth_code) and the state: a buyer token "
                   "as /auth/login answers, and the redirect page; the first login creates the buyer")
def web_login(ctx: Context, provider: str):
    from chalicelib.members import web_login

    return web_login.login(provider, ctx.body.code, ctx.body.state, ctx.body.redirect,
                           web_login.device_of(ctx.headers))


@api.route("/me", "GET", response=VIEWS + "User", auth=BUYER, errors=(404,), summary="the buyer's profile")
def me(ctx: Context) -> User:
    from chalicelib.members import service

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


@api.route("/me/addresses", "GET", response=VIEWS + "AddressList", auth=BUYER,
           summary="the buyer's addresses, the default first")
def list_addresses(ctx: Context) -> list[Address]:
    from chalicelib.members import service

    return service.list_addresses(ctx.user_id)


@api.route("/me/addresses", "POST", body=INPUTS + "NewAddressBody", response=VIEWS + "Address", status=201, auth=BUYER,
           errors=(409,), summary="add an address (the first becomes the default)")
def add_address(ctx: Context) -> Address:
    from chalicelib.members import service

    return service.add_address(ctx.user_id, ctx.body.fields(), ctx.body.is_default)


@api.route("/me/addresses/{address_id}", "PUT", body=INPUTS + "AddressUpdateBody", response=VIEWS + "Address", auth=BUYER,
           errors=(404, 409), summary="replace an address; is_default true makes it the default")
def update_address(ctx: Context, address_id: str) -> Address:
    from chalicelib.members import service

    return service.update_address(ctx.user_id, address_id, ctx.body.fields(), ctx.body.is_default)


@api.route("/me/addresses/{address_id}", "DELETE", status=204, auth=BUYER, errors=(404, 409),
           summary="delete an address; deleting the default promotes the most recent other one")
def delete_address(ctx: Context, address_id: str) -> None:
    from chalicelib.members import service

    service.delete_address(ctx.user_id, address_id)


@api.route("/me/points", "GET", query=INPUTS + "PointsQuery", response="chalicelib.members.points:PointsPage", auth=BUYER,
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
