"""Alipay (open platform gateway, RSA2) for the mall: notifications, refunds, queries, the H5 payment URL.

The client: it signs gateway calls and verifies their answers, and verifies the webhook's
notifications, by the rules in `alipay_protocol` (what is signed, empty values and all);
`alipay_parsing` reads the verified fields (yuan at this edge, int fen everywhere else).
Callers import the client's names, and the protocol's, from here.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from chalicelib.core import clock, config, ids
from chalicelib.core.money import check_fen, fen_to_yuan
from chalicelib.payments.providers import (
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
    load_public_key,
    required_env,
    rsa_sign,
    rsa_verify,
)
from chalicelib.payments.providers.alipay_parsing import (  # noqa: F401 - TRADE_STATUSES, parse_fields: API here too
    TRADE_STATUSES,
    alipay_time,
    optional_text,
    parse_fields,
    trade_status,
    yuan,
)
from chalicelib.payments.providers.alipay_protocol import (  # noqa: F401 - the protocol's names are API here too
    TIME_FORMAT,
    beijing_time,
    notification_content,
    parse_form,
    request_content,
    signed_answer,
    signing_content,
)

GATEWAY = "https://openapi.alipay.com/gateway.do"
FORM_TYPE = "application/x-www-form-urlencoded;charset=utf-8"
SUCCESS_CODE = "10000"
UNAVAILABLE_CODE = "20000"
RETRYABLE_SUB_CODES = {"ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR", "isp.unknow-error"}
SUBJECT_MAX = 256
REASON_MAX = 256
# alipay.system.oauth.token's sub_codes for an auth_code that is wrong, already used or expired: the buyer's to retry
OAUTH_CODE_REFUSALS = {"isv.code-invalid", "isv.code-expired", "isv.auth-code-invalid"}


class Alipay:
    """The mall's Alipay app: verifies notifications and signs gateway calls sent through `transport`."""

    name = "alipay"

    def __init__(self, *, app_id: str, seller_id: str, app_private_key: str, alipay_public_key: str,
                 notify_url: str, transport: Transport, gateway_url: str = GATEWAY):
        try:
            self._app_key = load_private_key(app_private_key)
            self._alipay_key = load_public_key(alipay_public_key)
        except ValueError as exc:
            raise config.ConfigError(f"Alipay keys: {exc}") from None
        self.app_id = app_id
        self.app_ids = (app_id,)
        self.merchant_id = seller_id
        self.notify_url = notify_url
        self.transport = transport
        self.gateway_url = gateway_url

    @classmethod
    def from_config(cls) -> Alipay:
        gateway = config.env("MALL_ALIPAY_GATEWAY", GATEWAY)
        return cls(app_id=required_env("MALL_ALIPAY_APP_ID"), seller_id=required_env("MALL_ALIPAY_SELLER_ID"),
                   app_private_key=config.secret("alipay_app_private_key"),
                   alipay_public_key=config.secret("alipay_public_key"),
                   notify_url=required_env("MALL_ALIPAY_NOTIFY_URL"),
                   transport=HttpTransport(gateway, "alipay"), gateway_url=gateway)

    # --- payments ---

    def prepay(self, req: PrepayRequest) -> dict[str, str]:
        """The signed gateway URL an H5 page sends the buyer to (alipay.trade.wap.pay); Alipay is not called."""
        _check_trade_no(req.out_trade_no)
        if check_fen(req.amount) == 0:
            raise ValueError("a payment of 0 fen cannot be made")
        biz = {"out_trade_no": req.out_trade_no, "total_amount": fen_to_yuan(req.amount),
               "subject": req.description[:SUBJECT_MAX], "product_code": "QUICK_WAP_WAY",
               "time_expire": beijing_time(req.expires_at)}
        params = self.signed_params("alipay.trade.wap.pay", biz, notify_url=self.notify_url)
        return {"pay_url": f"{self.gateway_url}?{urlencode(params)}"}

    def query(self, out_trade_no: str) -> PaymentNotification | None:
        """The trade as Alipay knows it; None until the buyer has opened the cashier (ACQ.TRADE_NOT_EXIST)."""
        _check_trade_no(out_trade_no)
        answer = self._call("alipay.trade.query", {"out_trade_no": out_trade_no},
                            absent_sub_codes=("ACQ.TRADE_NOT_EXIST",))
        if answer is None:
            return None
        try:
            return self._queried_trade(out_trade_no, answer)
        except NotificationRejected as exc:
            raise ProviderError(f"Alipay answered a query with an unusable trade: {exc.message}",
                                provider=self.name, retryable=False) from None

    def _queried_trade(self, out_trade_no: str, answer: dict[str, Any]) -> PaymentNotification:
        status = trade_status(answer)
        trade_no = optional_text(answer, "trade_no")
        # The answer came for our credentials, so it is ours: it names no app or seller itself.
        return PaymentNotification(
            provider=self.name, event_id=f"query:{trade_no or out_trade_no}", kind="PAYMENT",
            out_trade_no=out_trade_no, status=status, amount_total=yuan(answer, "total_amount"),
            transaction_id=trade_no, paid_at=alipay_time(optional_text(answer, "send_pay_date")), app_id=self.app_id,
            merchant_id=self.merchant_id, payer_id=optional_text(answer, "buyer_user_id"), raw=answer)

    def refund(self, req: RefundRequest) -> RefundAccepted:
        """alipay.trade.refund is synchronous; an answer without a fund change is confirmed by a refund query."""
        _check_trade_no(req.out_trade_no)
        if not 0 < check_fen(req.refund_amount) <= check_fen(req.total_amount):
            raise ValueError(f"cannot refund {req.refund_amount} fen of {req.total_amount}")
        biz = {"out_trade_no": req.out_trade_no, "refund_amount": fen_to_yuan(req.refund_amount),
               "out_request_no": req.out_refund_no}
        if req.reason:
            biz["refund_reason"] = req.reason[:REASON_MAX]
        answer = self._call("alipay.trade.refund", biz) or {}
        # fund_change N: no money moved by *this* call, as when the same out_request_no is retried.
        done = answer.get("fund_change") == "Y" or self._refund_succeeded(req)
        return RefundAccepted(out_refund_no=req.out_refund_no, refund_id=None,
                              status="SUCCESS" if done else "PROCESSING")

    def _refund_succeeded(self, req: RefundRequest) -> bool:
        return self.query_refund(req.out_trade_no, req.out_refund_no) is not None

    def query_refund(self, out_trade_no: str, out_refund_no: str) -> PaymentNotification | None:
        """alipay.trade.fastpay.refund.query: SUCCESS for a refund Alipay made, None for one it did not make.

        Alipay refunds synchronously: there is no refund in progress to report. Only
        `refund_status` REFUND_SUCCESS counts as made (Alipay's documents disagree on whether an
        empty one means success too); anything else is asked again under the same number, which
        Alipay refunds once.
        """
        _check_trade_no(out_trade_no)
        answer = self._call("alipay.trade.fastpay.refund.query",
                            {"out_trade_no": out_trade_no, "out_request_no": out_refund_no}) or {}
        if answer.get("refund_status") != "REFUND_SUCCESS":
            return None
        try:
            return PaymentNotification(
                provider=self.name, event_id=f"query:{out_refund_no}:SUCCESS", kind="REFUND",
                out_trade_no=out_trade_no, status="SUCCESS",
                amount_total=yuan(answer, "total_amount", required=False),
                transaction_id=optional_text(answer, "trade_no"), app_id=self.app_id, merchant_id=self.merchant_id,
                out_refund_no=out_refund_no, refund_amount=yuan(answer, "refund_amount", required=False), raw=answer)
        except NotificationRejected as exc:
            raise ProviderError(f"Alipay answered a refund query with an unusable refund: {exc.message}",
                                provider=self.name, retryable=False) from None

    def close(self, out_trade_no: str) -> str:
        """alipay.trade.close: CLOSED (or never opened by the buyer), or PAID when the buyer paid first."""
        _check_trade_no(out_trade_no)
        try:
            self._call("alipay.trade.close", {"out_trade_no": out_trade_no}, absent_sub_codes=("ACQ.TRADE_NOT_EXIST",))
        except ProviderError as exc:
            if exc.provider_code != "ACQ.TRADE_STATUS_ERROR":
                raise
            trade = self.query(out_trade_no)  # closed already, or paid: only a query tells which
            return "PAID" if trade is not None and trade.status == "PAID" else "CLOSED"
        return "CLOSED"

    # --- web login ---

    def oauth_token(self, auth_code: str) -> str:
        """alipay.system.oauth.token: the buyer's Alipay `user_id` (or `open_id`) for a web authorization's
        `auth_code`. A code Alipay refuses (`isv.code-invalid`: wrong, used or expired) is OAuthCodeRefused."""
        params = self.signed_params("alipay.system.oauth.token", None, grant_type="authorization_code",
                                    code=auth_code)
        reply = self.transport.send("POST", "", urlencode(params).encode("utf-8"),
                                    {"Content-Type": FORM_TYPE, "Accept": "application/json"})
        answer, signed = self._answer(reply, "alipay.system.oauth.token")
        if answer.get("code") in (None, SUCCESS_CODE) and "sub_code" not in answer:
            if not signed:
                raise ProviderError("Alipay's answer failed signature verification", provider=self.name,
                                    retryable=False)
            buyer = answer.get("user_id") or answer.get("open_id")
            if not isinstance(buyer, str) or not buyer:
                raise ProviderError("Alipay answered oauth.token without user_id or open_id", provider=self.name,
                                    retryable=False)
            return buyer
        if answer.get("sub_code") in OAUTH_CODE_REFUSALS:
            raise OAuthCodeRefused(str(answer.get("sub_code")))
        raise self._error(answer)

    # --- the webhook ---

    def parse_notification(self, headers: Mapping[str, str], raw_body: bytes) -> PaymentNotification:
        fields = parse_form(raw_body)
        self.verify_fields(fields)
        return parse_fields(fields)

    def verify_fields(self, fields: Mapping[str, str]) -> None:
        sign = fields.get("sign")
        if not sign:
            raise NotificationRejected("BAD_SIGNATURE", "the notification is not signed")
        if fields.get("sign_type", "RSA2") != "RSA2":  # RSA (SHA-1) is not accepted
            raise NotificationRejected("BAD_SIGNATURE", f"unsupported sign_type {fields['sign_type']!r}")
        if fields.get("charset", "utf-8").lower() != "utf-8":
            raise NotificationRejected("MALFORMED", f"unsupported charset {fields['charset']!r}")
        if not rsa_verify(self._alipay_key, notification_content(fields).encode("utf-8"), sign):
            raise NotificationRejected("BAD_SIGNATURE", "the signature does not match")

    def accept_reply(self) -> tuple[int, str, str]:
        return 200, "success", "text/plain"

    def reject_reply(self, reason: str, message: str) -> tuple[int, str, str]:
        """Anything but `success` makes Alipay retry; the reason stays in the mall's logs."""
        return 200, "fail", "text/plain"

    # --- calls ---

    def signed_params(self, method: str, biz_content: dict[str, Any] | None, **extra: str) -> dict[str, str]:
        """The signed request; `biz_content` None for a method whose parameters are all common ones (oauth.token)."""
        biz = "" if biz_content is None else json.dumps(biz_content, ensure_ascii=False, separators=(",", ":"))
        params = {"app_id": self.app_id, "method": method, "format": "JSON", "charset": "utf-8",
                  "sign_type": "RSA2", "timestamp": beijing_time(clock.now()), "version": "1.0",
                  "biz_content": biz, **extra}
        params = {key: value for key, value in params.items() if value}  # never send what the rules disagree on
        params["sign"] = rsa_sign(self._app_key, request_content(params).encode("utf-8"))
        return params

    def _call(self, method: str, biz_content: dict[str, Any], *,
              absent_sub_codes: tuple[str, ...] = ()) -> dict[str, Any] | None:
        """The verified `<method>_response`; None when Alipay answers (signed) one of `absent_sub_codes`."""
        body = urlencode(self.signed_params(method, biz_content)).encode("ascii")
        reply = self.transport.send("POST", "", body, {"Content-Type": FORM_TYPE, "Accept": "application/json"})
        answer, signed = self._answer(reply, method)
        if signed and answer.get("code") == SUCCESS_CODE:
            return answer
        if signed and answer.get("sub_code") in absent_sub_codes:
            return None
        if answer.get("code") == SUCCESS_CODE:
            raise ProviderError("Alipay's answer failed signature verification", provider=self.name,
                                retryable=False)
        raise self._error(answer)

    def _answer(self, reply: Reply, method: str) -> tuple[dict[str, Any], bool]:
        if reply.status != 200:
            raise ProviderError(f"Alipay answered HTTP {reply.status}", provider=self.name,
                                retryable=reply.status >= 500 or reply.status == 429, http_status=reply.status)
        try:
            text = reply.body.decode("utf-8")
            document = json.loads(text)
        except ValueError:
            raise ProviderError("Alipay answered something other than JSON", provider=self.name,
                                retryable=False) from None
        located = signed_answer(text, method.replace(".", "_") + "_response") or signed_answer(text, "error_response")
        if located is None or not isinstance(document, dict):
            raise ProviderError(f"Alipay answered without a {method} response", provider=self.name, retryable=False)
        answer, source = located
        sign = document.get("sign")
        signed = isinstance(sign, str) and rsa_verify(self._alipay_key, source.encode("utf-8"), sign)
        return answer, signed

    def _error(self, answer: dict[str, Any]) -> ProviderError:
        code, sub_code = answer.get("code"), answer.get("sub_code")
        retryable = code == UNAVAILABLE_CODE or sub_code in RETRYABLE_SUB_CODES
        return ProviderError(f"Alipay answered {code} {sub_code or ''}: {answer.get('sub_msg') or answer.get('msg')}",
                             provider=self.name, retryable=retryable, provider_code=sub_code or code)


class OAuthCodeRefused(Exception):
    """Alipay refused a web authorization's auth_code (OAUTH_CODE_REFUSALS); `sub_code` says how."""

    def __init__(self, sub_code: str):
        super().__init__(f"Alipay refused the auth_code: {sub_code}")
        self.sub_code = sub_code


def _check_trade_no(out_trade_no: str) -> None:
    if not ids.is_out_trade_no(out_trade_no):
        raise ValueError(f"not a valid out_trade_no: {out_trade_no!r}")
