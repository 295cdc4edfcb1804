"""The WeChat login API (`jscode2session`) behind one small interface, with a sandbox twin.

`code2session(code)` turns the code a mini-program gets from `wx.login()` into the
buyer's openid and the session_key. The live client calls WeChat; the sandbox
twin, used locally and in tests, accepts `dev:<name>` codes so a tester can log
in as a stable buyer `<name>` without a phone.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.core import config
from chalicelib.core.errors import (
    Forbidden,
    MallError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UpstreamError,
)

DEFAULT_API_BASE = "https://api.weixin.qq.com"
TIMEOUT_SECONDS = 3.0
RATE_LIMIT_RETRY_AFTER_SECONDS = 60  # 45011 is a per-minute quota
SANDBOX_CODE = re.compile(r"dev:([A-Za-z0-9_-]{1,32})")  # used with fullmatch: no trailing newline


@dataclass(frozen=True)
class Session:
    openid: str
    session_key: str
    unionid: str | None = None


class WeChatClient(Protocol):
    def code2session(self, code: str) -> Session: ...


def invalid_code() -> Unauthorized:
    return Unauthorized("the login code is invalid, expired or already used", code="INVALID_CODE")


class SandboxWeChat:
    """Local twin of WeChat login: `dev:<name>` is always the same buyer `<name>`."""

    def code2session(self, code: str) -> Session:
        match = SANDBOX_CODE.fullmatch(code)
        if not match:
            raise invalid_code()
        name = match.group(1)
        return Session(openid=f"sandbox-openid-{name}", session_key=_sandbox_session_key(name))


def _sandbox_session_key(name: str) -> str:
    # Shaped like WeChat's (base64 of 16 bytes) so code that decrypts user data sees a realistic key.
    return base64.b64encode(hashlib.sha256(f"sandbox-session:{name}".encode()).digest()[:16]).decode()


# errcode -> the mall error a buyer's login gets. Codes not listed are WeChat failing us: 502.
_ERRCODE_ERRORS = {
    40029: invalid_code,
    40163: invalid_code,  # code already used
    45011: lambda: TooManyRequests("too many login attempts, retry in a minute", code="LOGIN_RATE_LIMITED",
                                   headers={"Retry-After": str(RATE_LIMIT_RETRY_AFTER_SECONDS)}),
    40226: lambda: Forbidden("this WeChat user is blocked", code="USER_BLOCKED"),
    -1: lambda: ServiceUnavailable("WeChat is busy, retry shortly", code="WECHAT_BUSY"),
}


class WeChatApiClient:
    """The real `jscode2session` over HTTPS, with urllib (no extra dependency in the Lambda bundle)."""

    def __init__(self, appid: str, secret: str, base_url: str = DEFAULT_API_BASE,
                 timeout: float = TIMEOUT_SECONDS):
        self.appid = appid
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    @classmethod
    def from_config(cls) -> WeChatApiClient:
        appid = config.env("MALL_WECHAT_APPID")
        if appid is None:
            raise config.ConfigError("MALL_WECHAT_APPID is required when MALL_PROVIDERS=live")
        return cls(appid, config.secret("wechat_app_secret"),
                   config.env("MALL_WECHAT_API_BASE", DEFAULT_API_BASE))

    def code2session(self, code: str) -> Session:
        return _session_from(self.sns_get("jscode2session", js_code=code))

    def sns_get(self, api: str, **params: str) -> dict[str, Any]:
        """GET `sns/<api>` with the app's credentials and grant_type authorization_code; an errcode is raised
        as the mall's error (members/web_auth.py exchanges the official account's codes through it too)."""
        query = urllib.parse.urlencode({"appid": self.appid, "secret": self._secret, **params,
                                        "grant_type": "authorization_code"})
        payload = self._get_json(f"{self.base_url}/sns/{api}?{query}")
        errcode = payload.get("errcode") or 0
        if errcode:
            raise error_for_errcode(errcode, payload.get("errmsg"))
        return payload

    def _get_json(self, url: str) -> dict[str, Any]:
        # The URL carries the app secret, so no message below ever includes it.
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise UpstreamError(f"WeChat login answered HTTP {exc.code}", code="WECHAT_ERROR") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServiceUnavailable(f"WeChat login unreachable: {type(reason).__name__}",
                                     code="WECHAT_UNAVAILABLE") from None
        try:
            payload = json.loads(body)
        except ValueError:
            raise UpstreamError("WeChat login answered something other than JSON", code="WECHAT_ERROR") from None
        if not isinstance(payload, dict):
            raise UpstreamError("WeChat login answered JSON that is not an object", code="WECHAT_ERROR")
        return payload


def error_for_errcode(errcode: Any, errmsg: Any) -> MallError:
    make = _ERRCODE_ERRORS.get(errcode) if isinstance(errcode, int) else None
    if make is not None:
        return make()
    return UpstreamError(f"WeChat login failed: errcode {errcode} {errmsg or ''}".strip(), code="WECHAT_ERROR")


def _session_from(payload: dict[str, Any]) -> Session:
    openid, session_key, unionid = payload.get("openid"), payload.get("session_key"), payload.get("unionid")
    if not (isinstance(openid, str) and openid and isinstance(session_key, str) and session_key):
        raise UpstreamError("WeChat login answered without openid or session_key", code="WECHAT_ERROR")
    return Session(openid=openid, session_key=session_key,
                   unionid=unionid if isinstance(unionid, str) and unionid else None)


def client() -> WeChatClient:
    """The WeChat client this deployment uses: the sandbox twin unless providers are live."""
    return SandboxWeChat() if config.is_sandbox() else WeChatApiClient.from_config()
