"""Web authorization for buyers in a phone browser, behind one small interface per provider with a sandbox twin.

- WeChat (公众号网页授权, `snsapi_base`), for the storefront opened inside WeChat: the browser goes to
  open.weixin.qq.com's authorize page, comes back with `code`, and `sns/oauth2/access_token` turns the code into
  the official account's openid (and the unionid when the account is bound to the open platform).
- Alipay (`auth_base`), for every other phone browser: openauth.alipay.com's authorize page gives `auth_code`, and
  `alipay.system.oauth.token`, signed like the mall's other Alipay calls (payments' `Alipay`), gives `user_id`.

Each `WebAuthorizer` builds the provider's authorize URL and exchanges a code for a `WebIdentity`. In sandbox
mode the authorize URL is the local stack's page (`infra/local/web.py: sandbox_authorize`), which sends the
browser straight back with `sandbox.<buyer>`, a code the twins accept (the same browser is the same buyer).
Missing configuration in live mode is 503 NOT_CONFIGURED, never a 500.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

from chalicelib.core import config
from chalicelib.core.errors import ServiceUnavailable, UpstreamError
from chalicelib.members import official_account, wechat

PROVIDERS = ("wechat", "alipay")
WECHAT_AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
ALIPAY_AUTHORIZE_URL = "https://openauth.alipay.com/oauth2/publicAppAuthorize.htm"
SANDBOX_AUTHORIZE_PATH = "/sandbox/web-login/"  # + provider: served by the local stack only
SANDBOX_CODE = re.compile(r"sandbox\.([A-Za-z0-9_-]{1,32})")


@dataclass(frozen=True)
class WebIdentity:
    """Who the provider says the buyer is: `claims` are the keys the mall finds the buyer by, the most
    durable first (a unionid outlives an official account's openid)."""
    provider: str
    subject: str  # the official account's openid, or the Alipay user_id
    unionid: str | None = None

    @property
    def claims(self) -> tuple[str, ...]:
        if self.provider == "wechat":
            own = (f"{official_account.CLAIM_PREFIX}{self.subject}",)
            return (unionid_claim(self.unionid), *own) if self.unionid else own
        return (f"alipay:{self.subject}",)


def unionid_claim(unionid: str) -> str:
    """The claim a unionid is held under, in the same table as mini-program openids (which have no colon)."""
    return f"unionid:{unionid}"


class WebAuthorizer(Protocol):
    provider: str

    def authorize_url(self, redirect_uri: str, state: str) -> str: ...

    def exchange(self, code: str) -> WebIdentity: ...


def not_configured(what: str) -> ServiceUnavailable:
    return ServiceUnavailable(f"web login with {what} is not configured on this shop", code="NOT_CONFIGURED",
                              retry_after_seconds=3600)


# --- WeChat official account ------------------------------------------------------------

class WeChatWebAuth:
    """The official account's web authorization; the code exchange over HTTPS like the mini-program login's."""

    provider = "wechat"

    def __init__(self, appid: str, secret: str, api_base: str = wechat.DEFAULT_API_BASE,
                 timeout: float = wechat.TIMEOUT_SECONDS):
        self.appid = appid
        self._api = wechat.WeChatApiClient(appid, secret, api_base, timeout)

    @classmethod
    def from_config(cls) -> WeChatWebAuth:
        appid = official_account.appid()  # the one WeChat Pay in WeChat's browser prepays under too
        try:
            secret = config.secret("wechat_oa_secret") if appid else None
        except config.ConfigError:
            secret = None
        if not appid or not secret:
            raise not_configured("WeChat (MALL_WECHAT_OA_APPID and the wechat_oa_secret)")
        return cls(appid, secret, config.env("MALL_WECHAT_API_BASE", wechat.DEFAULT_API_BASE))

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        query = urlencode({"appid": self.appid, "redirect_uri": redirect_uri, "response_type": "code",
                           "scope": "snsapi_base", "state": state})
        return f"{WECHAT_AUTHORIZE_URL}?{query}#wechat_redirect"

    def exchange(self, code: str) -> WebIdentity:
        """`sns/oauth2/access_token`: openid and unionid, or errcode (40029 invalid, 40163 used: 401 INVALID_CODE)."""
        payload = self._api.sns_get("oauth2/access_token", code=code)
        openid, unionid = payload.get("openid"), payload.get("unionid")
        if not isinstance(openid, str) or not openid:
            raise UpstreamError("WeChat web authorization answered without openid", code="WECHAT_ERROR")
        return WebIdentity("wechat", openid, unionid if isinstance(unionid, str) and unionid else None)


class SandboxWeChatWebAuth:
    """Local twin: the authorize URL is the local stack's page; `sandbox.<buyer>` is the same buyer every time,
    with a unionid as if the official account were bound to an open platform."""

    provider = "wechat"
    appid = official_account.SANDBOX_APPID

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        query = urlencode({"appid": self.appid, "redirect_uri": redirect_uri, "response_type": "code",
                           "scope": "snsapi_base", "state": state})
        return f"{SANDBOX_AUTHORIZE_PATH}wechat?{query}#wechat_redirect"

    def exchange(self, code: str) -> WebIdentity:
        match = SANDBOX_CODE.fullmatch(code)
        if match is None:
            raise wechat.invalid_code()
        buyer = match.group(1)
        return WebIdentity("wechat", f"sandbox-oa-openid-{buyer}", f"sandbox-unionid-{buyer}")


# --- Alipay ------------------------------------------------------------------------------

class AlipayWebAuth:
    """Alipay's web authorization, through the mall's Alipay client (live, or wired to its sandbox twin)."""

    provider = "alipay"

    def __init__(self, alipay, authorize_base: str = ALIPAY_AUTHORIZE_URL):
        self.alipay = alipay
        self.authorize_base = authorize_base

    @classmethod
    def from_config(cls) -> AlipayWebAuth:
        # payments' Alipay itself, not `providers.provider`, which could hand out WeChat Pay and its keys too
        from chalicelib.payments.providers.alipay import Alipay

        try:
            if config.is_sandbox():
                from chalicelib.payments.providers.sandbox import alipay_provider, load_sandbox_keys

                alipay = alipay_provider(load_sandbox_keys())
            else:
                alipay = Alipay.from_config()
        except config.ConfigError:
            raise not_configured("Alipay (MALL_ALIPAY_* and its keys)") from None
        return cls(alipay, f"{SANDBOX_AUTHORIZE_PATH}alipay" if config.is_sandbox() else ALIPAY_AUTHORIZE_URL)

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        query = urlencode({"app_id": self.alipay.app_id, "scope": "auth_base", "redirect_uri": redirect_uri,
                           "state": state})
        return f"{self.authorize_base}?{query}"

    def exchange(self, code: str) -> WebIdentity:
        from chalicelib.payments.providers import ProviderError
        from chalicelib.payments.providers.alipay import OAuthCodeRefused

        try:
            return WebIdentity("alipay", self.alipay.oauth_token(code))
        except OAuthCodeRefused:
            raise wechat.invalid_code() from None  # the same 401 INVALID_CODE a refused WeChat code is
        except ProviderError as exc:
            if exc.retryable:
                raise ServiceUnavailable("Alipay is busy, retry shortly", code="ALIPAY_BUSY") from None
            raise UpstreamError(f"Alipay web authorization failed: {exc.provider_code or exc}",
                                code="ALIPAY_ERROR") from None


def authorizer(provider: str) -> WebAuthorizer:
    """The web authorizer for `provider` ("wechat" or "alipay") as this deployment is configured."""
    if provider == "wechat":
        return SandboxWeChatWebAuth() if config.is_sandbox() else WeChatWebAuth.from_config()
    return AlipayWebAuth.from_config()


def sandbox_code(buyer: str) -> str:
    """What the local authorize page hands back for `buyer` (1-32 of [A-Za-z0-9_-]), for either provider."""
    code = f"sandbox.{buyer}"
    if not SANDBOX_CODE.fullmatch(code):
        raise ValueError(f"a sandbox buyer is 1-32 of [A-Za-z0-9_-], not {buyer!r}")
    return code

