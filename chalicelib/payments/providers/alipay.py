"""Alipay (open platform gateway, RSA2) for the mall: notifications, refunds, queries, the H5 payment URL.

A notification is a UTF-8 `application/x-www-form-urlencoded` POST. It is verified by
parsing the form (values URL-decoded, `+` a space), dropping `sign` and `sign_type`,
sorting the rest by key and joining `k=v` with `&`, unescaped, then checking the base64
`sign` as SHA256withRSA (PKCS#1 v1.5) with Alipay's public key.

Empty values are KEPT in the verified string. Alipay signs exactly what it sends, so a
field it sends empty is part of what it signed; Alipay's own Java SDK
(`AlipaySignature.getSignCheckContentV2`, the notification check) and python-alipay-sdk
keep them, and dropping them would reject every notification that carries one. Dropping
empty values is Alipay's rule for signing *requests*; the mall never sends an empty
parameter, so its requests sign the same under either rule.

Amounts are yuan strings with two decimals at this edge and int fen everywhere else
(`core.money.yuan_to_fen`, exact, refusing junk). Times are Beijing time without an offset.
Answers of the gateway are verified too: the signature covers the raw text of the
`<method>_response` object.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from chalicelib.core import clock, config, ids
from chalicelib.core.money import check_fen, fen_to_yuan, yuan_to_fen
from chalicelib.payments.providers import (
    BEIJING,
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

GATEWAY = "https://openapi.alipay.com/gateway.do"
FORM_TYPE = "application/x-www-form-urlencoded;charset=utf-8"
SUCCESS_CODE = "10000"
UNAVAILABLE_CODE = "20000"
RETRYABLE_SUB_CODES = {"ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR", "isp.unknow-error"}
TRADE_STATUSES = {"WAIT_BUYER_PAY": "NOT_PAID", "TRADE_SUCCESS": "PAID", "TRADE_FINISHED": "PAID",
                  "TRADE_CLOSED": "CLOSED"}
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
SUBJECT_MAX = 256
REASON_MAX = 256
# alipay.system.oauth.token's sub_codes for an auth_code that is wrong, already used or expired: the buyer's to retry
OAUTH_CODE_REFUSALS = {"isv.code-invalid", "isv.code-expired", "isv.auth-code-invalid"}
_ALIPAY_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?")


# --- the protocol's primitives (the sandbox twin plays Alipay with them) ----------------

def signing_content(fields: Mapping[str, str]) -> str:
    return "&".join(f"{key}={fields[key]}" for key in sorted(fields))


def notification_content(fields: Mapping[str, str]) -> str:
    """What Alipay signed in a notification: every field but sign and sign_type, empty ones kept."""
    return signing_content({k: v for k, v in fields.items() if k not in ("sign", "sign_type")})


def request_content(params: Mapping[str, str]) -> str:
    """What an app signs in a request: every non-empty parameter but sign (sign_type included)."""
    return signing_content({k: v for k, v in params.items() if k != "sign" and v != ""})


def beijing_time(moment: _dt.datetime) -> str:
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


def parse_form(raw_body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(raw_body.decode("utf-8"), keep_blank_values=True, strict_parsing=True,
                          encoding="utf-8", errors="strict")
    except ValueError:  # UnicodeDecodeError included
        raise NotificationRejected("MALFORMED", "the body is not a UTF-8 form") from None
    fields = dict(pairs)
    if not fields or "" in fields:
        raise NotificationRejected("MALFORMED", "the form is empty or has a field without a name")
    if len(fields) != len(pairs):
        raise NotificationRejected("MALFORMED", "a field appears twice")  # which one did Alipay sign?
    return fields


def signed_answer(text: str, key: str) -> tuple[dict[str, Any], str] | None:
    """The `key` object of a gateway answer and its exact source text, which is what Alipay signed."""
    match = re.search(rf'"{re.escape(key)}"\s*:\s*', text)
    if match is None:
        return None
    try:
        value, end = json.JSONDecoder().raw_decode(text, match.end())
    except ValueError:
        return None
    return (value, text[match.end():end]) if isinstance(value, dict) else None


# --- the provider ----------------------------------------------------------------

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
        status = _status(answer)
        trade_no = _optional(answer, "trade_no")
        # The answer came for our credentials, so it is ours: it names no app or seller itself.
        return PaymentNotification(
            provider=self.name, event_id=f"query:{trade_no or out_trade_no}", kind="PAYMENT",
            out_trade_no=out_trade_no, status=status, amount_total=_yuan(answer, "total_amount"),
            transaction_id=trade_no, paid_at=_time(_optional(answer, "send_pay_date")), app_id=self.app_id,
            merchant_id=self.merchant_id, payer_id=_optional(answer, "buyer_user_id"), raw=answer)

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
                amount_total=_yuan(answer, "total_amount", required=False),
                transaction_id=_optional(answer, "trade_no"), app_id=self.app_id, merchant_id=self.merchant_id,
                out_refund_no=out_refund_no, refund_amount=_yuan(answer, "refund_amount", required=False), raw=answer)
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


# --- parsing -----------------------------------------------------------------------

def parse_fields(fields: dict[str, str]) -> PaymentNotification:
    """A verified notification: a payment's, or a refund's (it carries out_biz_no / gmt_refund)."""
    common = dict(provider="alipay", event_id=_required(fields, "notify_id"),
                  out_trade_no=_required(fields, "out_trade_no"), amount_total=_yuan(fields, "total_amount"),
                  transaction_id=_optional(fields, "trade_no"), app_id=_required(fields, "app_id"),
                  merchant_id=_optional(fields, "seller_id"), payer_id=_optional(fields, "buyer_id"), raw=fields)
    status = _status(fields)
    if _optional(fields, "out_biz_no") or _optional(fields, "gmt_refund"):
        # Alipay notifies a refund only once it is done; refund_fee is the trade's total refunded so far.
        return PaymentNotification(kind="REFUND", status="SUCCESS", paid_at=_time(_optional(fields, "gmt_refund")),
                                   out_refund_no=_optional(fields, "out_biz_no"),
                                   refund_amount=_yuan(fields, "refund_fee", required=False), **common)
    return PaymentNotification(kind="PAYMENT", status=status, paid_at=_time(_optional(fields, "gmt_payment")),
                               **common)


def _status(fields: Mapping[str, Any]) -> str:
    trade_status = _required(fields, "trade_status")
    status = TRADE_STATUSES.get(trade_status)
    if status is None:
        raise NotificationRejected("MALFORMED", f"unknown trade_status {trade_status!r}")
    return status


def _optional(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise NotificationRejected("MALFORMED", f"{name} is not a string")
    return value


def _required(fields: Mapping[str, Any], name: str) -> str:
    value = _optional(fields, name)
    if value is None:
        raise NotificationRejected("MALFORMED", f"missing {name}")
    return value


def _yuan(fields: Mapping[str, Any], name: str, *, required: bool = True) -> int | None:
    text = _required(fields, name) if required else _optional(fields, name)
    if text is None:
        return None
    try:
        return yuan_to_fen(text)
    except ValueError:
        raise NotificationRejected("MALFORMED", f"{name} is not a yuan amount: {text!r}") from None


def _time(text: str | None) -> _dt.datetime | None:
    if text is None:
        return None
    if not _ALIPAY_TIME.fullmatch(text):
        raise NotificationRejected("MALFORMED", f"not an Alipay time: {text!r}")
    try:
        return _dt.datetime.fromisoformat(text).replace(tzinfo=BEIJING)
    except ValueError:
        raise NotificationRejected("MALFORMED", f"not an Alipay time: {text!r}") from None
