"""The WeChat subscribe-message API behind one small interface, with a sandbox twin.

`stable_token()` asks `POST /cgi-bin/stable_token` for the access token (without
force_refresh: the platform hands every caller the same token while it is valid, so
no function's refresh invalidates another's); `send(token, message)` posts to
`/cgi-bin/message/subscribe/send`. Failures come back as one of three errors, by
what the mall can know about the message:

- `Refused(permanent=True)`: WeChat answered and will never take it (43101 the user
  has no subscription left, 40003 bad openid, 40037 bad template, 47003 bad data, ...);
- `Refused(permanent=False)`: WeChat answered and did not send (-1 busy, 45009 rate
  limit, 40001/42001 token invalid or expired), or the request never left (refused
  connection, DNS, connect timeout): nothing was sent, so it can be tried again;
- `OutcomeUnknown`: the request was sent and no answer came (timeout, reset), or a
  gateway failed after forwarding it (HTTP 500, 502, 504): it may have been delivered.
"""
from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.core import config

DEFAULT_API_BASE = "https://api.weixin.qq.com"
TIMEOUT_SECONDS = 5.0
SANDBOX_APPID = "wx-sandbox-appid"
KEPT_DELIVERIES = 1000
TRANSIENT_ERRCODES = frozenset({-1, 45009, 40001, 42001, 40014})
TOKEN_ERRCODES = frozenset({40001, 42001, 40014})  # the token is invalid or expired: fetch it again


class Refused(Exception):
    def __init__(self, errcode: int | str, errmsg: str = "", *, permanent: bool):
        super().__init__(f"errcode {errcode} {errmsg}".strip())
        self.errcode = errcode
        self.errmsg = errmsg
        self.permanent = permanent

    @property
    def token_invalid(self) -> bool:
        return self.errcode in TOKEN_ERRCODES


class OutcomeUnknown(Exception):
    """The request reached (or may have reached) WeChat and its answer was lost."""


@dataclass(frozen=True)
class Token:
    access_token: str
    expires_in: int  # seconds


class SubscribeApi(Protocol):
    appid: str

    def stable_token(self) -> Token: ...

    def send(self, access_token: str, message: dict[str, Any]) -> str: ...  # WeChat's msgid


def refused(errcode: Any, errmsg: Any) -> Refused:
    code = errcode if isinstance(errcode, int) else str(errcode)
    return Refused(code, str(errmsg or ""), permanent=code not in TRANSIENT_ERRCODES)


class WeChatSubscribeClient:
    """The real API over HTTPS with http.client, so a refused connection is told apart from a lost answer."""

    def __init__(self, appid: str, secret: str, base_url: str = DEFAULT_API_BASE, timeout: float = TIMEOUT_SECONDS):
        self.appid = appid
        self._secret = secret
        self.base = urllib.parse.urlsplit(base_url.rstrip("/"))
        self.timeout = timeout

    @classmethod
    def from_config(cls) -> WeChatSubscribeClient:
        appid = config.env("MALL_WECHAT_APPID")
        if appid is None:
            raise config.ConfigError("MALL_WECHAT_APPID is required when MALL_PROVIDERS=live")
        return cls(appid, config.secret("wechat_app_secret"), config.env("MALL_WECHAT_API_BASE", DEFAULT_API_BASE),
                   timeout=TIMEOUT_SECONDS)

    def stable_token(self) -> Token:
        try:
            payload = self._post("/cgi-bin/stable_token", {"grant_type": "client_credential", "appid": self.appid,
                                                           "secret": self._secret, "force_refresh": False})
        except OutcomeUnknown as exc:  # asking for a token twice is harmless
            raise Refused("NETWORK", str(exc), permanent=False) from None
        if payload.get("errcode"):
            raise Refused(payload["errcode"], str(payload.get("errmsg") or ""), permanent=False)
        token, expires_in = payload.get("access_token"), payload.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int):
            raise Refused("BAD_ANSWER", "stable_token answered without access_token", permanent=False)
        return Token(token, expires_in)

    def send(self, access_token: str, message: dict[str, Any]) -> str:
        path = "/cgi-bin/message/subscribe/send?" + urllib.parse.urlencode({"access_token": access_token})
        payload = self._post(path, message)
        errcode = payload.get("errcode") or 0
        if errcode:
            raise refused(errcode, payload.get("errmsg"))
        return str(payload.get("msgid") or "")

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        # The path may carry the token and the body the secret: no message below includes either.
        connection_class = http.client.HTTPSConnection if self.base.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(self.base.hostname, self.base.port, timeout=self.timeout)
        try:
            try:
                connection.connect()
            except OSError as exc:  # refused, unreachable, DNS, connect timeout: nothing was sent
                raise Refused("NETWORK", f"WeChat unreachable: {type(exc).__name__}", permanent=False) from None
            try:
                connection.request("POST", self.base.path + path, body=json.dumps(body, ensure_ascii=False).encode(),
                                   headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                status, raw = response.status, response.read()
            except (OSError, http.client.HTTPException) as exc:
                raise OutcomeUnknown(f"no answer from WeChat: {type(exc).__name__}") from None
        finally:
            connection.close()
        if status >= 500 and status != 503:  # a gateway error after forwarding: it may have been delivered
            raise OutcomeUnknown(f"WeChat answered HTTP {status}")
        if status != 200:  # refused at the door (503, 429, 4xx): nothing was sent
            raise Refused(f"HTTP{status}", "WeChat answered an HTTP error", permanent=False)
        try:
            payload = json.loads(raw)
        except ValueError:
            raise Refused("BAD_ANSWER", "WeChat answered something other than JSON", permanent=False) from None
        if not isinstance(payload, dict):
            raise Refused("BAD_ANSWER", "WeChat answered JSON that is not an object", permanent=False)
        return payload


class SandboxSubscribeApi:
    """Local twin: records every delivery (what `GET /admin/notifications` shows was sent) and token fetch.

    `script(openid, errcode, ...)` makes the next sends to that user answer those errcodes
    (0 = delivered, "UNKNOWN" = the answer is lost after delivery), as WeChat would.
    """

    appid = SANDBOX_APPID
    _lock = threading.Lock()
    deliveries: list[dict[str, Any]] = []
    token_fetches = 0
    sent = 0
    _scripts: dict[str, list[Any]] = {}

    def stable_token(self) -> Token:
        with self._lock:
            SandboxSubscribeApi.token_fetches += 1
            return Token(f"sandbox-token-{SandboxSubscribeApi.token_fetches}", 7200)

    def send(self, access_token: str, message: dict[str, Any]) -> str:
        with self._lock:
            script = self._scripts.get(message.get("touser", ""), [])
            outcome = script.pop(0) if script else 0
            if outcome not in (0, "UNKNOWN"):
                raise refused(outcome, "sandbox scripted")
            SandboxSubscribeApi.sent += 1
            msgid = f"sandbox-msg-{SandboxSubscribeApi.sent}"
            self.deliveries.append({**message, "msgid": msgid, "access_token": access_token})
            del self.deliveries[:-KEPT_DELIVERIES]  # a local stack runs for days: keep the latest
        if outcome == "UNKNOWN":
            raise OutcomeUnknown("sandbox scripted: delivered, answer lost")
        return msgid

    @classmethod
    def script(cls, openid: str, *outcomes: Any) -> None:
        with cls._lock:
            cls._scripts.setdefault(openid, []).extend(outcomes)

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            cls.deliveries.clear()
            cls._scripts.clear()
            cls.token_fetches = 0
            cls.sent = 0


def client() -> SubscribeApi:
    """The subscribe-message API this deployment uses: the sandbox twin unless providers are live."""
    return SandboxSubscribeApi() if config.is_sandbox() else WeChatSubscribeClient.from_config()
