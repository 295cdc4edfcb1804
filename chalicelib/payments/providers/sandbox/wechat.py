"""api.mch.weixin.qq.com, played locally: the Transport the real `WeChatPay` talks to, and its notifications.

It checks the mall's request signatures, answers signed, and builds notifications
signed and encrypted exactly as WeChat Pay does, so the mall's verifier accepts them
with nothing special-cased. A refund is accepted (PROCESSING), then takes its outcome
and, unless the outcome is a lost notification, posts REFUND.<status> to
`deliver(headers, raw_body)` before its answer returns, as the real one may (its
notification can overtake its answer). Without `deliver` the notification is lost, as
a real one can be; the refund still happened.

It takes prepays under either of the shop's apps (the mini-program's appid, the official
account's for WeChat's browser); a trade stays bound to the appid and payer openid of its first
prepay, as WeChat's is (a second prepay naming another is refused, never given the first's
prepay_id). `pay_jsapi` plays WeChat's client in the browser: it checks the page's
`getBrandWCPayRequest` parameters and pays the trade they name.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

from chalicelib.core import clock, ids
from chalicelib.payments.providers import Deliver, Reply, load_private_key, lower_keys, rsa_sign, rsa_verify
from chalicelib.payments.providers.sandbox.book import (
    Refused,
    TradeBook,
    field,
    json_bytes,
    json_request,
    positive_fen,
)
from chalicelib.payments.providers.sandbox.keys import WeChatPayKeys, alnum, digits
from chalicelib.payments.providers.wechatpay_protocol import (
    SIGNATURE_TYPE,
    aes_gcm_encrypt,
    new_nonce,
    parse_authorization,
    rfc3339,
    signed_message,
)
from chalicelib.payments.providers.wechatpay_verification import REPLAY_WINDOW_SECONDS

WECHAT_PAID_STATES = ("SUCCESS", "REFUND")
WECHAT_REFUND_EVENTS = ("SUCCESS", "ABNORMAL", "CLOSED")
WECHAT_FAILED_REFUNDS = ("ABNORMAL", "CLOSED")
# What a scripted refund call does: end as one of the events (notified), succeed with its notification LOST,
# stay PENDING (PROCESSING, nothing notified), or find WeChat DOWN (HTTP 500, nothing recorded).
WECHAT_REFUND_OUTCOMES = (*WECHAT_REFUND_EVENTS, "LOST", "PENDING", "DOWN")


class SandboxWeChatPay:
    """api.mch.weixin.qq.com, played locally: a Transport for `WeChatPay`, and the notifications it sends."""

    QUERY_PREFIX = "/v3/pay/transactions/out-trade-no/"
    REFUND_QUERY_PREFIX = "/v3/refund/domestic/refunds/"

    def __init__(self, keys: WeChatPayKeys, book: TradeBook, deliver: Deliver | None = None, *,
                 web_app_id: str | None = None):
        self.keys = keys
        self.book = book
        self.deliver = deliver
        self.app_ids = (keys.appid, web_app_id) if web_app_id else (keys.appid,)

    # --- as WeChat Pay's API ---

    def send(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        try:
            self._check_authorization(method, path, body, lower_keys(headers).get("authorization", ""))
            return self._route(method, path, body)
        except Refused as refused:
            return self._answer(refused.status, {"code": refused.code, "message": refused.message})

    def _route(self, method: str, path: str, body: bytes) -> Reply:
        route, _, query = path.partition("?")
        if (method, route) == ("POST", "/v3/pay/transactions/jsapi"):
            return self._answer(200, self._prepay(json_request(body)))
        if (method, route) == ("POST", "/v3/refund/domestic/refunds"):
            return self._refund(json_request(body))
        if method == "GET" and route.startswith(self.QUERY_PREFIX):
            return self._query(unquote(route[len(self.QUERY_PREFIX):]), dict(parse_qsl(query)))
        if method == "GET" and route.startswith(self.REFUND_QUERY_PREFIX):
            return self._query_refund(unquote(route[len(self.REFUND_QUERY_PREFIX):]))
        if method == "POST" and route.startswith(self.QUERY_PREFIX) and route.endswith("/close"):
            return self._close(unquote(route[len(self.QUERY_PREFIX):-len("/close")]), json_request(body))
        raise Refused(404, "NOT_FOUND", f"no such API {method} {route}")

    def _check_authorization(self, method: str, path: str, body: bytes, header: str) -> None:
        signed = parse_authorization(header)
        if not signed or signed.get("mchid") != self.keys.mchid or signed.get("serial_no") != self.keys.merchant_serial:
            raise Refused(401, "SIGN_ERROR", "Authorization is missing or names another merchant or certificate")
        if not signed.get("timestamp", "").isdigit() or \
                abs(clock.timestamp() - int(signed["timestamp"])) > REPLAY_WINDOW_SECONDS:
            raise Refused(401, "SIGN_ERROR", "the request timestamp is too far from now")
        message = signed_message(method, path, signed["timestamp"], signed.get("nonce_str", ""), body)
        merchant_key = load_private_key(self.keys.merchant_private_key_pem).public_key()
        if not rsa_verify(merchant_key, message, signed.get("signature", "")):
            raise Refused(401, "SIGN_ERROR", "the signature does not match")

    def _answer(self, status: int, payload: dict[str, Any]) -> Reply:
        body = json_bytes(payload)
        headers = {**self._signed_headers(body), "Content-Type": "application/json"}
        return Reply(status, lower_keys(headers), body)

    def _signed_headers(self, body: bytes) -> dict[str, str]:
        timestamp, nonce = str(int(clock.timestamp())), new_nonce()
        platform_key = load_private_key(self.keys.platform_private_key_pem)
        return {"Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": nonce,
                "Wechatpay-Serial": self.keys.platform_serial, "Wechatpay-Signature-Type": SIGNATURE_TYPE,
                "Wechatpay-Signature": rsa_sign(platform_key, signed_message(timestamp, nonce, body))}

    def _prepay(self, request: dict[str, Any]) -> dict[str, str]:
        appid = request.get("appid")
        if appid not in self.app_ids or request.get("mchid") != self.keys.mchid:
            raise Refused(400, "APPID_MCHID_NOT_MATCH", "appid and mchid do not match")
        out_trade_no, total = request.get("out_trade_no"), field(request, "amount", "total")
        openid = field(request, "payer", "openid")
        if not (isinstance(out_trade_no, str) and ids.is_out_trade_no(out_trade_no) and positive_fen(total)
                and isinstance(openid, str) and openid and request.get("description") and request.get("notify_url")):
            raise Refused(400, "PARAM_ERROR", "out_trade_no, description, notify_url, amount.total or payer.openid")

        def record(trade: dict[str, Any] | None) -> dict[str, Any]:
            if trade and trade["trade_state"] in WECHAT_PAID_STATES:
                raise Refused(400, "ORDERPAID", "the order is already paid")
            if trade and (trade["amount"], trade.get("appid", self.keys.appid), trade["payer_openid"]) != \
                    (total, appid, openid):  # a prepay_id is the first request's appid and payer's, never another's
                raise Refused(400, "INVALID_REQUEST", "the parameters differ from the first request")
            return trade or {"out_trade_no": out_trade_no, "amount": total, "appid": appid, "payer_openid": openid,
                             "prepay_id": "wx" + ids.new_id(), "trade_state": "NOTPAY", "refunds": {}}

        return {"prepay_id": self.book.update("wechatpay", out_trade_no, record)["prepay_id"]}

    def _query(self, out_trade_no: str, query: dict[str, str]) -> Reply:
        if query.get("mchid") != self.keys.mchid:
            raise Refused(400, "PARAM_ERROR", "mchid is missing or not this merchant")
        trade = self.book.read("wechatpay", out_trade_no)
        if trade is None:
            raise Refused(404, "ORDER_NOT_EXIST", "the order does not exist")
        return self._answer(200, self._transaction(trade))

    def _transaction(self, trade: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = {"appid": trade.get("appid", self.keys.appid), "mchid": self.keys.mchid,
                                  "out_trade_no": trade["out_trade_no"], "trade_type": "JSAPI",
                                  "trade_state": trade["trade_state"], "attach": "",
                                  "payer": {"openid": trade["payer_openid"]}}
        if trade["trade_state"] in WECHAT_PAID_STATES:  # WeChat tells amounts and times of paid trades only
            answer.update(transaction_id=trade["transaction_id"], success_time=trade["success_time"],
                          bank_type="OTHERS", trade_state_desc="支付成功",
                          amount={"total": trade["amount"], "payer_total": trade["amount"], "currency": "CNY",
                                  "payer_currency": "CNY"})
        return answer

    def _refund(self, request: dict[str, Any]) -> Reply:
        out_trade_no, out_refund_no = request.get("out_trade_no"), request.get("out_refund_no")
        refund, total = field(request, "amount", "refund"), field(request, "amount", "total")
        if not (isinstance(out_trade_no, str) and isinstance(out_refund_no, str) and out_refund_no
                and positive_fen(refund) and positive_fen(total)):
            raise Refused(400, "PARAM_ERROR", "out_trade_no, out_refund_no, amount.refund or amount.total")
        if self.book.read("wechatpay", out_trade_no) is None:
            raise Refused(404, "RESOURCE_NOT_EXISTS", "the order does not exist")
        outcome = self.book.next_outcome("wechatpay", out_trade_no, "SUCCESS")
        if outcome == "DOWN":
            raise Refused(500, "SYSTEM_ERROR", "sandbox: WeChat Pay is scripted to be down for this call")
        fresh: list[bool] = []
        trade = self.book.update("wechatpay", out_trade_no,
                                 lambda current: _wechat_refund(current, out_refund_no, refund, total, fresh))
        reply = self._answer(200, self._refund_answer(trade, trade["refunds"][out_refund_no]))
        if fresh and outcome != "PENDING":
            headers, raw_body = self.build_refund_notification(out_trade_no, out_refund_no,
                                                               status="SUCCESS" if outcome == "LOST" else outcome)
            if self.deliver is not None and outcome != "LOST":
                self.deliver(headers, raw_body)
        return reply

    def script_refunds(self, out_trade_no: str, *outcomes: str) -> None:
        """The next refund calls for this trade end as `outcomes` (WECHAT_REFUND_OUTCOMES), in order."""
        unknown = [outcome for outcome in outcomes if outcome not in WECHAT_REFUND_OUTCOMES]
        if unknown:
            raise ValueError(f"sandbox WeChat refund outcomes are {', '.join(WECHAT_REFUND_OUTCOMES)}, not {unknown}")
        self.book.script("wechatpay", out_trade_no, outcomes)

    def _query_refund(self, out_refund_no: str) -> Reply:
        for trade in self.book.all("wechatpay").values():
            refund = trade.get("refunds", {}).get(out_refund_no)
            if refund is not None:
                return self._answer(200, self._refund_answer(trade, refund))
        raise Refused(404, "RESOURCE_NOT_EXISTS", "the refund does not exist")

    def _close(self, out_trade_no: str, request: dict[str, Any]) -> Reply:
        if request.get("mchid") != self.keys.mchid:
            raise Refused(400, "PARAM_ERROR", "mchid is missing or not this merchant")

        def close(trade: dict[str, Any] | None) -> dict[str, Any]:
            if trade is None:
                raise Refused(404, "ORDER_NOT_EXIST", "the order does not exist")
            if trade["trade_state"] in WECHAT_PAID_STATES:
                raise Refused(400, "ORDERPAID", "the order is already paid")
            trade["trade_state"] = "CLOSED"
            return trade

        self.book.update("wechatpay", out_trade_no, close)
        return Reply(204, lower_keys(self._signed_headers(b"")), b"")

    def _refund_answer(self, trade: dict[str, Any], refund: dict[str, Any]) -> dict[str, Any]:
        return {"refund_id": refund["refund_id"], "out_refund_no": refund["out_refund_no"],
                "transaction_id": trade["transaction_id"], "out_trade_no": trade["out_trade_no"],
                "channel": "ORIGINAL", "user_received_account": "支付用户零钱", "create_time": refund["create_time"],
                "status": refund["status"], "funds_account": "AVAILABLE",
                "amount": _refund_amounts(trade, refund)}

    # --- as WeChat's client in the browser ---

    def pay_jsapi(self, params: Mapping[str, str], out_trade_no: str) -> tuple[dict[str, str], bytes]:
        """The buyer of `out_trade_no` confirms `getBrandWCPayRequest(params)` in WeChat's browser: WeChat checks
        the page's paySign and appId against the prepay (and that it is this buyer's: here, this trade's), and pays
        it. The notification's headers and body; Refused as WeChat's client refuses a payment it cannot start."""
        package, app_id = params.get("package", ""), params.get("appId")
        signed = "".join(f"{params.get(name, '')}\n" for name in ("appId", "timeStamp", "nonceStr", "package"))
        merchant_key = load_private_key(self.keys.merchant_private_key_pem).public_key()
        if params.get("signType") != "RSA" or not rsa_verify(merchant_key, signed.encode(), params.get("paySign", "")):
            raise Refused(400, "SIGN_ERROR", "paySign does not match (getBrandWCPayRequest:fail)")
        prepay_id = package[len("prepay_id="):] if package.startswith("prepay_id=") else ""
        trade = next((trade for trade in self.book.all("wechatpay").values()
                      if prepay_id and trade.get("prepay_id") == prepay_id), None)
        if trade is None or trade.get("appid", self.keys.appid) != app_id or trade["out_trade_no"] != out_trade_no:
            raise Refused(400, "INVALID_REQUEST", "no prepay of this order under this appId has that package "
                                                  "(getBrandWCPayRequest:fail)")
        if trade["trade_state"] not in ("NOTPAY", *WECHAT_PAID_STATES):
            raise Refused(400, "ORDER_CLOSED", f"the trade is {trade['trade_state']} (getBrandWCPayRequest:fail)")
        return self.build_payment_notification(out_trade_no, trade["amount"], payer_openid=trade["payer_openid"])

    # --- as WeChat Pay's notifications ---

    def build_payment_notification(self, out_trade_no: str, amount: int, payer_openid: str) -> tuple[dict[str, str],
                                                                                                     bytes]:
        """The buyer pays `amount` fen: TRANSACTION.SUCCESS as WeChat Pay posts it (the same event when repeated)."""
        if not ids.is_out_trade_no(out_trade_no) or not positive_fen(amount):
            raise ValueError("a sandbox payment needs a valid out_trade_no and a positive amount in fen")

        def pay(trade: dict[str, Any] | None) -> dict[str, Any]:
            if trade and trade["trade_state"] in WECHAT_PAID_STATES:
                return trade  # paid already: WeChat would deliver the same notification again
            if trade and trade["trade_state"] == "CLOSED":
                raise ValueError(f"the sandbox closed trade {out_trade_no}: the buyer cannot pay it")
            return {"refunds": {}, **(trade or {}), "out_trade_no": out_trade_no, "amount": amount,
                    "payer_openid": payer_openid, "trade_state": "SUCCESS", "event_id": str(uuid.uuid4()),
                    "transaction_id": "4200" + digits(24), "success_time": rfc3339(clock.now())}

        trade = self.book.update("wechatpay", out_trade_no, pay)
        return self._notification(trade["event_id"], "TRANSACTION.SUCCESS", "支付成功", "transaction",
                                  self._transaction(trade))

    def build_refund_notification(self, out_trade_no: str, out_refund_no: str, *,
                                  status: str = "SUCCESS") -> tuple[dict[str, str], bytes]:
        """REFUND.<status> for a refund this twin accepted; the refund takes that status."""
        if status not in WECHAT_REFUND_EVENTS:
            raise ValueError(f"WeChat Pay notifies refunds as {', '.join(WECHAT_REFUND_EVENTS)}, not {status!r}")

        def settle(trade: dict[str, Any] | None) -> dict[str, Any]:
            refund = (trade or {}).get("refunds", {}).get(out_refund_no)
            if refund is None:
                raise ValueError(f"the sandbox accepted no refund {out_refund_no!r} of {out_trade_no!r}")
            if status == "SUCCESS" and refund["status"] in WECHAT_FAILED_REFUNDS and \
                    _committed(trade) + refund["amount"] > trade["amount"]:
                raise ValueError(f"refund {out_refund_no!r} would exceed what is left of {out_trade_no!r}")
            if refund["status"] != status or "event_id" not in refund:
                refund.update(status=status, event_id=str(uuid.uuid4()), success_time=rfc3339(clock.now()))
            return trade

        trade = self.book.update("wechatpay", out_trade_no, settle)
        refund = trade["refunds"][out_refund_no]
        return self._notification(refund["event_id"], f"REFUND.{status}", "退款状态变更", "refund",
                                  self._refund_resource(trade, refund))

    def _refund_resource(self, trade: dict[str, Any], refund: dict[str, Any]) -> dict[str, Any]:
        resource = {"mchid": self.keys.mchid, "transaction_id": trade["transaction_id"],
                    "out_trade_no": trade["out_trade_no"], "refund_id": refund["refund_id"],
                    "out_refund_no": refund["out_refund_no"], "refund_status": refund["status"],
                    "user_received_account": "支付用户零钱", "amount": _refund_amounts(trade, refund)}
        if refund["status"] == "SUCCESS":
            resource["success_time"] = refund["success_time"]
        return resource

    def _notification(self, event_id: str, event_type: str, summary: str, original_type: str,
                      resource: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        nonce = alnum(12)
        envelope = {"id": event_id, "create_time": rfc3339(clock.now()), "resource_type": "encrypt-resource",
                    "event_type": event_type, "summary": summary,
                    "resource": {"original_type": original_type, "algorithm": "AEAD_AES_256_GCM",
                                 "ciphertext": aes_gcm_encrypt(self.keys.apiv3_key, nonce, original_type,
                                                               json_bytes(resource)),
                                 "associated_data": original_type, "nonce": nonce}}
        body = json_bytes(envelope)
        return {**self._signed_headers(body), "Content-Type": "application/json"}, body


def _wechat_refund(trade: dict[str, Any] | None, out_refund_no: str, refund: int, total: int,
                   fresh: list[bool]) -> dict[str, Any]:
    """Record a refund on `trade` as WeChat Pay accepts one; `fresh` gets True when it is new."""
    if trade is None or trade["trade_state"] not in WECHAT_PAID_STATES:
        raise Refused(400, "INVALID_REQUEST", "the order is not paid")
    if total != trade["amount"]:
        raise Refused(400, "PARAM_ERROR", "amount.total is not the order's total")
    existing = trade["refunds"].get(out_refund_no)
    if existing is not None:
        if existing["amount"] != refund:
            raise Refused(400, "INVALID_REQUEST", "out_refund_no was used with another amount")
        return trade  # a retry: same refund, no second notification
    if _committed(trade) + refund > trade["amount"]:
        raise Refused(400, "INVALID_REQUEST", "the refund exceeds what is left to refund")
    trade["refunds"][out_refund_no] = {"out_refund_no": out_refund_no, "refund_id": "5030" + digits(25),
                                       "amount": refund, "status": "PROCESSING",
                                       "create_time": rfc3339(clock.now())}
    trade["trade_state"] = "REFUND"  # what WeChat's query says once a trade has refunds
    fresh.append(True)
    return trade


def _committed(trade: dict[str, Any]) -> int:
    """What the trade's refunds take: a CLOSED or ABNORMAL refund gave nothing back, so its amount is free again."""
    return sum(item["amount"] for item in trade["refunds"].values() if item["status"] not in WECHAT_FAILED_REFUNDS)


def _refund_amounts(trade: dict[str, Any], refund: dict[str, Any]) -> dict[str, Any]:
    return {"total": trade["amount"], "refund": refund["amount"], "payer_total": trade["amount"],
            "payer_refund": refund["amount"], "settlement_total": trade["amount"],
            "settlement_refund": refund["amount"], "discount_refund": 0, "currency": "CNY"}
