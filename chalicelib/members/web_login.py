"""Buyers' web login: the storefront in a phone browser signs in with WeChat (in WeChat's browser) or Alipay.

1. `GET /auth/web/{provider}/authorize?redirect=/pages/...` answers the provider's authorize URL, whose
   `redirect_uri` is the storefront's login page (`MALL_SHOP_URL` + `/pages/login/login?provider=&redirect=`),
   and a `state` the provider hands back unchanged.
2. The provider sends the browser back with `code` (WeChat) or `auth_code` (Alipay) and `state`; the page posts
   `POST /auth/web/{provider}/login {"code", "state", "redirect"}` and gets a buyer token, as `/auth/login` answers.

The state is the CSRF defence and keeps the mall stateless: an HMAC (key derived from the token signing secret)
over the provider, an expiry, a nonce, the redirect target and a digest of the browser's `X-Device-Id`. A state
forged, edited, used with another redirect or provider, replayed from another device (a login CSRF plants the
attacker's code and state in a victim's browser) or expired is refused with 403. It is only [0-9a-f] and 58
characters, because WeChat takes at most 128 bytes of [a-zA-Z0-9]; the redirect therefore travels beside it (in
the redirect_uri's query) and is re-checked against it. The redirect is a storefront page path (`/pages/...`), never
a URL: the mall cannot be made to send a buyer elsewhere (open redirect).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import urlencode

from pydantic import ConfigDict, Field, StrictStr

from chalicelib.core import clock, config
from chalicelib.core.errors import BadRequest, Forbidden, NotFound
from chalicelib.core.limits import DEVICE_ID_PATTERN
from chalicelib.core.schema import Schema
from chalicelib.members.service import LoginResult

DEFAULT_STATE_SECONDS = 600
LOGIN_PAGE = "/pages/login/login"
SANDBOX_SHOP_URL = "/shop"  # the local stack serves the storefront on the API's own origin
REDIRECT = re.compile(r"/pages/[A-Za-z0-9_/-]{1,120}(\?[A-Za-z0-9_.~%=&+-]{0,400})?")
STATE = re.compile(r"([0-9]{10})([0-9a-f]{16})([0-9a-f]{32})")


# --- what the routes take and answer ------------------------------------------------------

class AuthorizeQuery(Schema):
    model_config = ConfigDict(extra="forbid")
    redirect: str = Field(default="/pages/member/member", max_length=600,
                          description="the storefront page to come back to: a path starting /pages/")


class AuthorizeAnswer(Schema):
    provider: str
    authorize_url: str  # where the browser goes next (in sandbox mode the local stack's page, a relative URL)
    redirect_uri: str  # the storefront page the provider sends the browser back to, with code (or auth_code), state
    state: str
    expires_in: int  # seconds the state is accepted
    sandbox: bool  # the local twins: the storefront may offer its demo-buyer login too


class WebLoginBody(Schema):
    model_config = ConfigDict(extra="forbid")
    code: StrictStr = Field(min_length=1, max_length=256, description="WeChat's `code` or Alipay's `auth_code`")
    state: StrictStr = Field(min_length=1, max_length=128)
    redirect: StrictStr = Field(min_length=1, max_length=600, description="the `redirect` the state was made for")


class WebLoginResult(LoginResult):
    """`POST /auth/login`'s answer, and where the buyer was going."""
    provider: str
    redirect: str


# --- state and redirect ---------------------------------------------------------------------

def state_seconds() -> int:
    return max(60, config.env_int("MALL_WEB_LOGIN_STATE_SECONDS", DEFAULT_STATE_SECONDS))


def check_provider(provider: str) -> str:
    from chalicelib.members.web_auth import PROVIDERS

    if provider not in PROVIDERS:
        raise NotFound(f"no web login with {provider!r}: wechat or alipay", code="PROVIDER_NOT_FOUND")
    return provider


def check_redirect(redirect: str) -> str:
    if not REDIRECT.fullmatch(redirect) or "//" in redirect:
        raise BadRequest("redirect must be a storefront page path such as /pages/orders/orders",
                         code="INVALID_REDIRECT")
    return redirect


def device_of(headers) -> str:
    device = (headers.get("x-device-id") or "").strip()
    if not DEVICE_ID_PATTERN.fullmatch(device):
        raise BadRequest("web login needs the browser's X-Device-Id header (1-64 of [0-9A-Za-z_.:-])",
                         code="DEVICE_ID_REQUIRED")
    return device


def _mac(provider: str, expires: str, nonce: str, redirect: str, device: str) -> str:
    key = hmac.new(config.secret("jwt_secret").encode(), b"micromall web-login state v1", hashlib.sha256).digest()
    device_digest = hashlib.sha256(device.encode()).hexdigest()
    message = "\n".join((provider, expires, nonce, redirect, device_digest)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def issue_state(provider: str, redirect: str, device: str) -> str:
    expires = f"{int(clock.timestamp()) + state_seconds():010d}"
    nonce = secrets.token_hex(8)
    return expires + nonce + _mac(provider, expires, nonce, redirect, device)


def check_state(state: str, provider: str, redirect: str, device: str) -> None:
    """403 INVALID_STATE unless the mall made `state` for this provider, redirect and device; 403 STATE_EXPIRED
    once its time is up (the buyer starts the login again)."""
    match = STATE.fullmatch(state)
    expected = _mac(provider, match[1], match[2], redirect, device) if match else ""
    if not match or not hmac.compare_digest(expected, match[3]):
        raise Forbidden("this login was not started here: start it again", code="INVALID_STATE")
    if int(match[1]) <= clock.timestamp():
        raise Forbidden("this login took too long: start it again", code="STATE_EXPIRED")


def shop_url() -> str:
    """The storefront's public address (`MALL_SHOP_URL`, e.g. https://m.example.com/shop), where providers send
    the browser back; required in live mode (an authorized domain of the official account / Alipay app)."""
    url = config.env("MALL_SHOP_URL")
    if url is None and config.is_sandbox():
        return SANDBOX_SHOP_URL
    if url is None or not url.startswith("https://"):
        from chalicelib.members.web_auth import not_configured

        raise not_configured("any provider (MALL_SHOP_URL, the storefront's https address)")
    return url.rstrip("/")


# --- the two steps -----------------------------------------------------------------------------

def authorize(provider: str, redirect: str, device: str) -> AuthorizeAnswer:
    from chalicelib.members.web_auth import authorizer

    check_provider(provider)
    check_redirect(redirect)
    redirect_uri = f"{shop_url()}{LOGIN_PAGE}?" + urlencode({"provider": provider, "redirect": redirect})
    auth = authorizer(provider)
    state = issue_state(provider, redirect, device)
    return AuthorizeAnswer(provider=provider, authorize_url=auth.authorize_url(redirect_uri, state),
                           redirect_uri=redirect_uri, state=state, expires_in=state_seconds(),
                           sandbox=config.is_sandbox())


def login(provider: str, code: str, state: str, redirect: str, device: str) -> WebLoginResult:
    """Check the state, exchange the code, find or create the buyer (members/identities.py), answer a token."""
    from chalicelib.members import identities, service
    from chalicelib.members.web_auth import authorizer

    check_provider(provider)
    check_redirect(redirect)
    check_state(state, provider, redirect, device)
    identity = authorizer(provider).exchange(code)
    user = identities.sign_in(identity.claims, unionid=identity.unionid, nickname=identities.NICKNAMES[provider])
    answer = service.signed_in(user)
    return WebLoginResult(token=answer.token, expires_in=answer.expires_in, user=answer.user,
                          provider=provider, redirect=redirect)
