"""openapi.alipay.com/gateway.do, played locally: the Transport the real `Alipay` talks to, and its notifications.

It checks the app's request signatures and answers signed as the gateway does.
Refunds are synchronous, as Alipay's are; a refund that moved money is also notified
to `deliver(headers, raw_body)` (unless the outcome is a lost notification).
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from chalicelib.core import clock, ids
from chalicelib.core.money import fen_to_yuan, yuan_to_fen
from chalicelib.payments.providers import Deliver, Reply, load_private_key, rsa_sign, rsa_verify
from chalicelib.payments.providers.alipay_protocol import beijing_time, notification_content, request_content
from chalicelib.payments.providers.sandbox.book import Refused, TradeBook, biz_content, positive_fen
from chalicelib.payments.providers.sandbox.keys import AlipayKeys, alnum, digits

# What a scripted refund call does: SUCCESS (refunded and notified), LOST (refunded, the notification lost),
# DOWN (gateway answers 20000, nothing refunded), REFUSED (a business error, nothing refunded).
ALIPAY_REFUND_OUTCOMES = ("SUCCESS", "LOST", "DOWN", "REFUSED")
# What the local web-authorization page hands back as auth_code (members/web_auth.py: sandbox_code): the same
# buyer every time.
SANDBOX_AUTH_CODE = re.compile(r"sandbox\.([A-Za-z0-9_-]{1,32})")


def sandbox_alipay_user_id(buyer: str) -> str:
    """A stable Alipay user_id (2088 + 12 digits) per sandbox buyer."""
    number = int.from_bytes(hashlib.sha256(f"sandbox-alipay:{buyer}".encode()).digest()[:8], "big")
    return f"2088{number % 10**12:012d}"


class SandboxAlipay:
    """openapi.alipay.com/gateway.do, played locally: a Transport for `Alipay`, and its notifications."""

    def __init__(self, keys: AlipayKeys, book: TradeBook, deliver: Deliver | None = None):
        self.keys = keys
        self.book = book
        self.deliver = deliver

    # --- as the gateway ---

    def send(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        api = params.get("method", "")
        try:
            self._check_request(params)
            if api == "alipay.system.oauth.token":  # its parameters are common ones, no biz_content
                return self._answer(api, self._oauth_token(params))
            return self._answer(api, self._route(api, biz_content(params)))
        except Refused as refused:
            return self._answer(api, {"code": str(refused.status), "msg": "Business Failed",
                                      "sub_code": refused.code, "sub_msg": refused.message})

    def _check_request(self, params: dict[str, str]) -> None:
        app_key = load_private_key(self.keys.app_private_key_pem).public_key()
        if params.get("app_id") != self.keys.app_id:
            raise Refused(40002, "isv.invalid-app-id", "unknown app_id")
        if params.get("sign_type") != "RSA2" or \
                not rsa_verify(app_key, request_content(params).encode("utf-8"), params.get("sign", "")):
            raise Refused(40002, "isv.invalid-signature", "the signature does not match")

    def _route(self, api: str, biz: dict[str, Any]) -> dict[str, Any]:
        if api == "alipay.trade.query":
            return self._query(biz)
        if api == "alipay.trade.refund":
            return self._refund(biz)
        if api == "alipay.trade.fastpay.refund.query":
            return self._refund_query(biz)
        if api == "alipay.trade.close":
            return self._close(biz)
        raise Refused(40002, "isv.invalid-method", f"no such method {api!r}")

    def _oauth_token(self, params: dict[str, str]) -> dict[str, Any]:
        """A web authorization's auth_code from the local authorize page (`sandbox_auth_code`): Alipay's answer,
        without `code` as Alipay's own success answer to this method; anything else is `isv.code-invalid`."""
        if params.get("grant_type") != "authorization_code":
            raise Refused(40002, "isv.invalid-parameter", "grant_type must be authorization_code")
        match = SANDBOX_AUTH_CODE.fullmatch(params.get("code", ""))
        if match is None:
            raise Refused(40002, "isv.code-invalid", "授权码code无效")
        return {"user_id": sandbox_alipay_user_id(match.group(1)), "access_token": "sandbox" + alnum(24),
                "expires_in": 1296000, "refresh_token": "sandbox" + alnum(24), "re_expires_in": 2592000,
                "auth_start": beijing_time(clock.now())}

    def _answer(self, api: str, payload: dict[str, Any]) -> Reply:
        if api == "alipay.system.oauth.token" and "sub_code" in payload:
            api = "error"  # Alipay answers this method's failures as error_response
        inner = json.dumps({"msg": "Success", **payload}, ensure_ascii=False, separators=(",", ":"))
        sign = rsa_sign(load_private_key(self.keys.alipay_private_key_pem), inner.encode("utf-8"))
        text = f'{{"{api.replace(".", "_")}_response":{inner},"sign":"{sign}"}}'
        return Reply(200, {"content-type": "application/json;charset=utf-8"}, text.encode("utf-8"))

    def _query(self, biz: dict[str, Any]) -> dict[str, Any]:
        trade = self.book.read("alipay", str(biz.get("out_trade_no")))
        if trade is None:
            raise Refused(40004, "ACQ.TRADE_NOT_EXIST", "the trade does not exist")
        return {"code": "10000", "trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"],
                "buyer_logon_id": "san***@sandbox.invalid", "trade_status": trade["trade_status"],
                "total_amount": fen_to_yuan(trade["amount"]), "buyer_pay_amount": fen_to_yuan(trade["amount"]),
                "send_pay_date": trade["gmt_payment"], "buyer_user_id": trade["buyer_id"]}

    def _refund(self, biz: dict[str, Any]) -> dict[str, Any]:
        out_trade_no, out_request_no = str(biz.get("out_trade_no")), biz.get("out_request_no") or biz.get("out_trade_no")
        try:
            amount = yuan_to_fen(biz.get("refund_amount"))
        except ValueError:
            raise Refused(40004, "ACQ.INVALID_PARAMETER", "refund_amount is not a yuan amount") from None
        outcome = self.book.next_outcome("alipay", out_trade_no, "SUCCESS")
        if outcome == "DOWN":
            raise Refused(20000, "isp.unknow-error", "sandbox: Alipay is scripted to be down for this call")
        if outcome == "REFUSED":
            raise Refused(40004, "ACQ.SELLER_BALANCE_NOT_ENOUGH", "sandbox: this refund is scripted to be refused")
        fresh: list[bool] = []
        trade = self.book.update("alipay", out_trade_no,
                                 lambda current: _alipay_refund(current, out_request_no, amount, fresh))
        if fresh:
            headers, raw_body = self.build_refund_notification(out_trade_no, out_request_no)
            if self.deliver is not None and outcome != "LOST":
                self.deliver(headers, raw_body)
        return {"code": "10000", "trade_no": trade["trade_no"], "out_trade_no": out_trade_no,
                "buyer_logon_id": "san***@sandbox.invalid", "fund_change": "Y" if fresh else "N",
                "refund_fee": fen_to_yuan(_refunded(trade)), "buyer_user_id": trade["buyer_id"]}

    def _refund_query(self, biz: dict[str, Any]) -> dict[str, Any]:
        trade = self.book.read("alipay", str(biz.get("out_trade_no"))) or {"refunds": {}}
        refund = trade["refunds"].get(biz.get("out_request_no"))
        if refund is None:
            return {"code": "10000"}  # Alipay's answer for a refund it never made: no refund_status
        return {"code": "10000", "out_trade_no": trade["out_trade_no"], "out_request_no": biz["out_request_no"],
                "trade_no": trade["trade_no"], "total_amount": fen_to_yuan(trade["amount"]),
                "refund_amount": fen_to_yuan(refund["amount"]), "refund_status": "REFUND_SUCCESS"}

    def script_refunds(self, out_trade_no: str, *outcomes: str) -> None:
        """The next refund calls for this trade end as `outcomes` (ALIPAY_REFUND_OUTCOMES), in order."""
        unknown = [outcome for outcome in outcomes if outcome not in ALIPAY_REFUND_OUTCOMES]
        if unknown:
            raise ValueError(f"sandbox Alipay refund outcomes are {', '.join(ALIPAY_REFUND_OUTCOMES)}, not {unknown}")
        self.book.script("alipay", out_trade_no, outcomes)

    def _close(self, biz: dict[str, Any]) -> dict[str, Any]:
        out_trade_no = str(biz.get("out_trade_no"))

        def close(trade: dict[str, Any] | None) -> dict[str, Any]:
            if trade is None:
                raise Refused(40004, "ACQ.TRADE_NOT_EXIST", "the trade does not exist")
            if trade["trade_status"] != "WAIT_BUYER_PAY":
                raise Refused(40004, "ACQ.TRADE_STATUS_ERROR", "the trade is not waiting for payment")
            trade["trade_status"] = "TRADE_CLOSED"
            return trade

        if self.book.read("alipay", out_trade_no) is None:
            raise Refused(40004, "ACQ.TRADE_NOT_EXIST", "the trade does not exist")
        trade = self.book.update("alipay", out_trade_no, close)
        return {"code": "10000", "out_trade_no": out_trade_no, "trade_no": trade["trade_no"]}

    # --- as Alipay's notifications ---

    def build_payment_notification(self, out_trade_no: str, amount: int, buyer_id: str | None = None, *,
                                   extra: Mapping[str, str] | None = None) -> tuple[dict[str, str], bytes]:
        """The buyer pays `amount` fen: trade_status_sync TRADE_SUCCESS as Alipay posts it; `extra` adds fields."""
        if not ids.is_out_trade_no(out_trade_no) or not positive_fen(amount):
            raise ValueError("a sandbox payment needs a valid out_trade_no and a positive amount in fen")

        def pay(trade: dict[str, Any] | None) -> dict[str, Any]:
            if trade and trade["trade_status"] == "TRADE_CLOSED" and not trade["refunds"]:
                raise ValueError(f"the sandbox closed trade {out_trade_no}: the buyer cannot pay it")
            if trade and trade["trade_status"] != "WAIT_BUYER_PAY":
                return trade  # paid already: Alipay would deliver the same notification again
            return {"out_trade_no": out_trade_no, "amount": amount, "trade_no": "2026" + digits(24),
                    "buyer_id": buyer_id or "2088" + digits(12), "trade_status": "TRADE_SUCCESS",
                    "gmt_payment": beijing_time(clock.now()), "notify_id": alnum(34), "refunds": {}}

        trade = self.book.update("alipay", out_trade_no, pay)
        fields = {**self._trade_fields(trade), "notify_id": trade["notify_id"], "trade_status": "TRADE_SUCCESS",
                  **(extra or {})}
        return self._notification(fields)

    def build_refund_notification(self, out_trade_no: str, out_request_no: str) -> tuple[dict[str, str], bytes]:
        """Alipay's notification of a refund this twin made (refund_fee: the trade's total refunded)."""
        trade = self.book.read("alipay", out_trade_no)
        refund = (trade or {}).get("refunds", {}).get(out_request_no)
        if trade is None or refund is None:
            raise ValueError(f"the sandbox made no refund {out_request_no!r} of {out_trade_no!r}")
        fields = {**self._trade_fields(trade), "notify_id": refund["notify_id"],
                  "trade_status": trade["trade_status"], "out_biz_no": out_request_no,
                  "refund_fee": fen_to_yuan(_refunded(trade)), "gmt_refund": refund["gmt_refund"]}
        return self._notification(fields)

    def _trade_fields(self, trade: dict[str, Any]) -> dict[str, str]:
        total = fen_to_yuan(trade["amount"])
        return {"notify_time": beijing_time(clock.now()), "notify_type": "trade_status_sync",
                "app_id": self.keys.app_id, "charset": "utf-8", "version": "1.0", "trade_no": trade["trade_no"],
                "out_trade_no": trade["out_trade_no"], "buyer_id": trade["buyer_id"],
                "seller_id": self.keys.seller_id, "total_amount": total, "receipt_amount": total,
                "buyer_pay_amount": total, "invoice_amount": total, "point_amount": "0.00",
                "subject": "micromall sandbox", "gmt_create": trade["gmt_payment"],
                "gmt_payment": trade["gmt_payment"]}

    def _notification(self, fields: dict[str, str]) -> tuple[dict[str, str], bytes]:
        alipay_key = load_private_key(self.keys.alipay_private_key_pem)
        signed = {**fields, "sign_type": "RSA2",
                  "sign": rsa_sign(alipay_key, notification_content(fields).encode("utf-8"))}
        return ({"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                urlencode(signed).encode("ascii"))


def _alipay_refund(trade: dict[str, Any] | None, out_request_no: str, amount: int,
                   fresh: list[bool]) -> dict[str, Any]:
    """Refund on `trade` as Alipay does, synchronously; `fresh` gets True when money moved."""
    if trade is None:
        raise Refused(40004, "ACQ.TRADE_NOT_EXIST", "the trade does not exist")
    existing = trade["refunds"].get(out_request_no)
    if existing is not None:
        if existing["amount"] != amount:
            raise Refused(40004, "ACQ.INVALID_PARAMETER", "out_request_no was used with another amount")
        return trade
    if trade["trade_status"] != "TRADE_SUCCESS" or amount == 0:
        raise Refused(40004, "ACQ.TRADE_STATUS_ERROR", "the trade cannot be refunded")
    if _refunded(trade) + amount > trade["amount"]:
        raise Refused(40004, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "the refund exceeds what is left to refund")
    now = clock.now()
    trade["refunds"][out_request_no] = {"amount": amount, "notify_id": alnum(34),
                                        "gmt_refund": f"{beijing_time(now)}.{now.microsecond // 1000:03d}"}
    if _refunded(trade) == trade["amount"]:
        trade["trade_status"] = "TRADE_CLOSED"  # Alipay closes a fully refunded trade
    fresh.append(True)
    return trade


def _refunded(trade: dict[str, Any]) -> int:
    return sum(refund["amount"] for refund in trade["refunds"].values())
