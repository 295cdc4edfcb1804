"""WeChat Pay API v3 for a mini-program merchant (JSAPI), on `cryptography` and urllib: the client.

It signs its calls and `wx.requestPayment`'s parameters with the merchant key
(`wechatpay_protocol`), verifies notifications and the answers to its calls as
specs/payments.md says (`wechatpay_verification`: headers, replay window, platform key,
AES-256-GCM), and reads transactions and refunds (`wechatpay_parsing`). Callers import the
client's names, and those modules', from here. cryptography is imported inside the functions
that use it, so importing this module costs a cold start nothing.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from chalicelib.core import clock, config, ids
from chalicelib.core.money import check_fen
from chalicelib.payments.providers import (
    REFUND_STATUSES,
    WECHAT_SCENES,
    HttpTransport,
    NotificationRejected,
    PaymentNotification,
    PrepayRequest,
    ProviderError,
    RefundAccepted,
    RefundRequest,
    Reply,
    Transport,
    load_private_key,
    required_env,
)
from chalicelib.payments.providers.wechatpay_parsing import (  # noqa: F401 - parse_* are this module's API too
    EVENT_KINDS,
    TRADE_STATES,
    envelope_of,
    json_object,
    parse_refund,
    parse_transaction,
)
from chalicelib.payments.providers.wechatpay_protocol import (  # noqa: F401 - the protocol's names are API here too
    SIGNATURE_TYPE,
    aes_gcm_decrypt,
    aes_gcm_encrypt,
    authorization,
    new_nonce,
    parse_authorization,
    pay_sign,
    rfc3339,
    signed_message,
)
from chalicelib.payments.providers.wechatpay_verification import (  # noqa: F401 - and the verifier's
    PUBLIC_KEY_ID_PREFIX,
    REPLAY_WINDOW_SECONDS,
    SIGNED_HEADERS,
    PlatformKeys,
    check_timestamp,
    decrypt_resource,
    verify_signature,
)

API_BASE = "https://api.mch.weixin.qq.com"
USER_AGENT = "micromall (python urllib)"  # WeChat Pay refuses API calls without a User-Agent
DESCRIPTION_MAX = 127  # WeChat's limit; a long product title is cut rather than failing the payment
REASON_MAX = 80

RETRYABLE_CODES = {"SYSTEM_ERROR", "FREQUENCY_LIMITED", "BANK_ERROR"}
REJECT_STATUS = {"BAD_SIGNATURE": 401, "UNKNOWN_SERIAL": 401, "STALE_TIMESTAMP": 401, "MISSING_HEADERS": 400,
                 "MALFORMED": 400, "BAD_CIPHERTEXT": 400,
                 # genuine notifications the mall refuses to apply (payments.service.Refused)
                 "MERCHANT_MISMATCH": 400, "UNKNOWN_ORDER": 404, "UNKNOWN_REFUND": 404, "AMOUNT_MISMATCH": 400,
                 "CURRENCY_MISMATCH": 400}
# any other reason is the mall failing: 500


class WeChatPay:
    """The mall's WeChat Pay merchant: verifies notifications and signs calls sent through `transport`."""

    name = "wechat"

    def __init__(self, *, app_id: str, merchant_id: str, merchant_serial: str, merchant_private_key: str,
                 apiv3_key: str, platform_keys: Mapping[str, str] | PlatformKeys, notify_url: str,
                 transport: Transport, web_app_id: str | None = None):
        if len(apiv3_key.encode("utf-8")) != 32:
            raise config.ConfigError("the WeChat Pay APIv3 key must be 32 bytes")
        try:
            self._merchant_key = load_private_key(merchant_private_key)
        except ValueError as exc:
            raise config.ConfigError(f"WeChat Pay merchant private key: {exc}") from None
        self.app_id = app_id  # the mini-program's
        self.web_app_id = web_app_id  # the official account's, for the storefront in WeChat's browser; may be None
        self.app_ids = (app_id, web_app_id) if web_app_id else (app_id,)
        self.merchant_id = merchant_id
        self.merchant_serial = merchant_serial
        self._apiv3_key = apiv3_key
        self.platform_keys = platform_keys if isinstance(platform_keys, PlatformKeys) else PlatformKeys(platform_keys)
        self.notify_url = notify_url
        self.transport = transport

    @classmethod
    def from_config(cls) -> WeChatPay:
        from chalicelib.members import official_account  # the one the web login authorizes with

        return cls(app_id=required_env("MALL_WECHAT_APPID"), merchant_id=required_env("MALL_WECHATPAY_MCHID"),
                   merchant_serial=required_env("MALL_WECHATPAY_MERCHANT_SERIAL"),
                   merchant_private_key=config.secret("wechatpay_merchant_private_key"),
                   apiv3_key=config.secret("wechatpay_apiv3_key"),
                   platform_keys=PlatformKeys.from_json(config.secret("wechatpay_platform_keys")),
                   notify_url=required_env("MALL_WECHATPAY_NOTIFY_URL"),
                   transport=HttpTransport(config.env("MALL_WECHATPAY_API_BASE", API_BASE), "wechat"),
                   web_app_id=official_account.appid())

    def app_id_for(self, scene: str) -> str | None:
        """The appid a buyer paying from `scene` (WECHAT_SCENES) pays under; None when the shop has no official
        account for WeChat's browser."""
        if scene not in WECHAT_SCENES:
            raise ValueError(f"unknown WeChat Pay scene {scene!r}")
        return self.web_app_id if scene == "wechat_browser" else self.app_id

    # --- payments ---

    def prepay(self, req: PrepayRequest) -> dict[str, str]:
        """A JSAPI order at WeChat Pay, answered with the parameters `wx.requestPayment` (the mini-program) or
        `WeixinJSBridge`'s `getBrandWCPayRequest` (WeChat's browser; `req.app_id` the official account's) take."""
        answer = self._call("POST", "/v3/pay/transactions/jsapi", self._prepay_payload(req))
        prepay_id = answer.get("prepay_id") if answer else None
        if not isinstance(prepay_id, str) or not prepay_id:
            raise ProviderError("WeChat Pay answered the prepay without a prepay_id", provider=self.name,
                                retryable=False)
        return self.client_parameters(prepay_id, app_id=req.app_id)

    def _prepay_payload(self, req: PrepayRequest) -> dict[str, Any]:
        _check_trade_no(req.out_trade_no)
        if check_fen(req.amount) == 0:
            raise ValueError("a payment of 0 fen cannot be made")
        return {"appid": self._own_app_id(req.app_id), "mchid": self.merchant_id,
                "description": req.description[:DESCRIPTION_MAX],
                "out_trade_no": req.out_trade_no, "time_expire": rfc3339(req.expires_at),
                "notify_url": self.notify_url, "amount": {"total": req.amount, "currency": "CNY"},
                "payer": {"openid": req.payer_id}}

    def client_parameters(self, prepay_id: str, *, timestamp: str | None = None, nonce: str | None = None,
                          app_id: str | None = None) -> dict[str, str]:
        """Signed for the app the prepay was made under (`app_id`, one of ours; None: the mini-program)."""
        app_id = self._own_app_id(app_id)
        timestamp = timestamp or str(int(clock.timestamp()))
        nonce = nonce or new_nonce()
        package = f"prepay_id={prepay_id}"
        return {"appId": app_id, "timeStamp": timestamp, "nonceStr": nonce, "package": package,
                "signType": "RSA", "paySign": pay_sign(self._merchant_key, app_id, timestamp, nonce, package)}

    def _own_app_id(self, app_id: str | None) -> str:
        if app_id is None:
            return self.app_id
        if app_id not in self.app_ids:
            raise ValueError(f"appid {app_id!r} is not one of this shop's")
        return app_id

    def query(self, out_trade_no: str) -> PaymentNotification | None:
        """The trade as WeChat Pay knows it; None when it does not (never prepaid, or not yet)."""
        _check_trade_no(out_trade_no)
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}?mchid={quote(self.merchant_id)}"
        answer = self._call("GET", path, absent_codes=("ORDER_NOT_EXIST",))
        if answer is None:
            return None
        event_id = f"query:{answer.get('transaction_id') or out_trade_no}"
        try:
            return parse_transaction(answer, event_id)
        except NotificationRejected as exc:
            raise ProviderError(f"WeChat Pay answered a query with an unusable trade: {exc.message}",
                                provider=self.name, retryable=False) from None

    def refund(self, req: RefundRequest) -> RefundAccepted:
        answer = self._call("POST", "/v3/refund/domestic/refunds", self._refund_payload(req)) or {}
        status = answer.get("status")
        if status not in REFUND_STATUSES:
            raise ProviderError(f"WeChat Pay answered a refund with status {status!r}", provider=self.name,
                                retryable=False)
        refund_id = answer.get("refund_id")
        return RefundAccepted(out_refund_no=req.out_refund_no, status=status,
                              refund_id=refund_id if isinstance(refund_id, str) else None)

    def query_refund(self, out_trade_no: str, out_refund_no: str) -> PaymentNotification | None:
        """A refund as WeChat Pay knows it (GET /v3/refund/domestic/refunds/{out_refund_no}); None when unknown."""
        _check_trade_no(out_trade_no)
        answer = self._call("GET", f"/v3/refund/domestic/refunds/{quote(out_refund_no, safe='')}",
                            absent_codes=("RESOURCE_NOT_EXISTS",))
        if answer is None:
            return None
        try:
            note = parse_refund({**answer, "refund_status": answer.get("status"), "mchid": self.merchant_id},
                                f"query:{answer.get('refund_id')}:{answer.get('status')}")
        except NotificationRejected as exc:
            raise ProviderError(f"WeChat Pay answered a refund query with an unusable refund: {exc.message}",
                                provider=self.name, retryable=False) from None
        if note.out_trade_no != out_trade_no:
            raise ProviderError(f"WeChat Pay's refund {out_refund_no} belongs to another trade", provider=self.name,
                                retryable=False)
        return note

    def close(self, out_trade_no: str) -> str:
        """Close an unpaid trade so the buyer can no longer pay it: CLOSED, or PAID when it was paid first."""
        _check_trade_no(out_trade_no)
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/close"
        reply = self._send("POST", path, {"mchid": self.merchant_id})
        if 200 <= reply.status < 300:
            return "CLOSED"
        error = self._error(reply)
        if error.provider_code == "ORDERPAID":
            return "PAID"
        if error.provider_code == "ORDER_NOT_EXIST":
            return "CLOSED"  # never prepaid: there is nothing the buyer could pay
        raise error

    def _refund_payload(self, req: RefundRequest) -> dict[str, Any]:
        _check_trade_no(req.out_trade_no)
        if not 0 < check_fen(req.refund_amount) <= check_fen(req.total_amount):
            raise ValueError(f"cannot refund {req.refund_amount} fen of {req.total_amount}")
        payload: dict[str, Any] = {
            "out_trade_no": req.out_trade_no, "out_refund_no": req.out_refund_no, "notify_url": self.notify_url,
            "amount": {"refund": req.refund_amount, "total": req.total_amount, "currency": "CNY"}}
        if req.reason:
            payload["reason"] = req.reason[:REASON_MAX]
        return payload

    # --- the webhook ---

    def parse_notification(self, headers: Mapping[str, str], raw_body: bytes) -> PaymentNotification:
        self.verify_signature(headers, raw_body)
        envelope = envelope_of(raw_body)
        resource = decrypt_resource(self._apiv3_key, envelope["resource"])
        if EVENT_KINDS[envelope["event_type"]] == "PAYMENT":
            return parse_transaction(resource, envelope["id"])
        return parse_refund(resource, envelope["id"])

    def verify_signature(self, headers: Mapping[str, str], body: bytes) -> None:
        """Steps 1-3 of `wechatpay_verification`; raises NotificationRejected."""
        verify_signature(self.platform_keys, headers, body)

    def accept_reply(self) -> tuple[int, str, str]:
        return 204, "", "application/json"

    def reject_reply(self, reason: str, message: str) -> tuple[int, str, str]:
        """4xx for a request that is not a genuine notification, 500 for the mall failing; WeChat retries both."""
        body = json.dumps({"code": "FAIL", "message": message}, ensure_ascii=False)
        return REJECT_STATUS.get(reason, 500), body, "application/json"

    # --- calls ---

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None, *,
              absent_codes: tuple[str, ...] = ()) -> dict[str, Any] | None:
        """The verified JSON answer; None when WeChat answers one of `absent_codes`."""
        reply = self._send(method, path, payload)
        if not 200 <= reply.status < 300:
            error = self._error(reply)
            if error.provider_code in absent_codes:
                return None
            raise error
        try:
            self.verify_signature(reply.headers, reply.body)
            return json_object(reply.body, "the answer")
        except NotificationRejected as exc:
            raise ProviderError(f"WeChat Pay's answer was refused: {exc}", provider=self.name, retryable=False,
                                provider_code=exc.reason, http_status=reply.status) from None

    def _send(self, method: str, path: str, payload: dict[str, Any] | None) -> Reply:
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp, nonce = str(int(clock.timestamp())), new_nonce()
        headers = {"Authorization": authorization(self._merchant_key, self.merchant_id, self.merchant_serial,
                                                  method, path, timestamp, nonce, body),
                   "Accept": "application/json", "User-Agent": USER_AGENT}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self.platform_keys.public_key_id:
            # Names the platform public key we verify with, for accounts migrating off certificates.
            headers["Wechatpay-Serial"] = self.platform_keys.public_key_id
        return self.transport.send(method, path, body, headers)

    def _error(self, reply: Reply) -> ProviderError:
        try:
            answer = json.loads(reply.body)
        except ValueError:
            answer = {}
        answer = answer if isinstance(answer, dict) else {}
        code, message = answer.get("code"), answer.get("message")
        code = code if isinstance(code, str) else None
        retryable = reply.status >= 500 or reply.status == 429 or code in RETRYABLE_CODES
        return ProviderError(f"WeChat Pay answered HTTP {reply.status} {code or ''}: {message or ''}".strip(),
                             provider=self.name, retryable=retryable, provider_code=code, http_status=reply.status)


def _check_trade_no(out_trade_no: str) -> None:
    if not ids.is_out_trade_no(out_trade_no):
        raise ValueError(f"not a valid out_trade_no: {out_trade_no!r}")
