"""The sandbox twins of WeChat Pay and Alipay, and the keys they sign with.

Sandbox mode (`MALL_PROVIDERS=sandbox`: the local stack and tests) runs the real
`WeChatPay` and `Alipay` classes, configured with generated keys, whose transport is a
twin instead of HTTP. A twin plays the provider's side of the protocol: it checks the
mall's request signatures, answers signed, and builds notifications signed (and, for
WeChat, encrypted) exactly as the provider does, so the mall's verifiers accept them with
nothing special-cased.

Keys are generated once into `<MALL_SANDBOX_KEYS_DIR>/sandbox.json` (default
`.local/keys`, mode 0600) in the layout of specs/api.md "Local stack configuration":
`{"wechatpay": {"appid", "mchid", "apiv3_key", "platform_serial",
"platform_private_key_pem", "merchant_serial", "merchant_private_key_pem"},
"alipay": {"app_id", "seller_id", "alipay_private_key_pem", "app_private_key_pem"}}`.
The provider-side private keys are there so a tester can sign notifications too.

The twins keep their trades in `sandbox-trades.json` beside the keys, rather than
deriving a query's answer from the notification they built: a query must answer after
a restart, for a trade prepaid but never paid (NOTPAY), and after refunds changed the
trade, and the local server and a tester's script must see the same trades. Each write
replaces the file atomically under a per-file lock; two processes writing in the same
instant may lose one update, which a local stack can live with.

Refunds: the WeChat twin accepts a refund (PROCESSING), marks it SUCCESS and posts the
REFUND.SUCCESS notification to `deliver(headers, raw_body)` before its answer returns,
as the real one may (its notification can overtake its answer). The Alipay twin refunds
synchronously and posts Alipay's refund notification the same way. Without `deliver`
the notification is lost, as a real one can be; the refund still happened.
"""
from __future__ import annotations

import json
import os
import secrets
import string
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from chalicelib.core import clock, config, ids
from chalicelib.core.money import check_fen, fen_to_yuan, yuan_to_fen
from chalicelib.payments.providers import (
    Deliver,
    Reply,
    load_private_key,
    lower_keys,
    rsa_sign,
    rsa_verify,
)
from chalicelib.payments.providers.alipay import (
    Alipay,
    beijing_time,
    notification_content,
    request_content,
)
from chalicelib.payments.providers.wechatpay import (
    REPLAY_WINDOW_SECONDS,
    SIGNATURE_TYPE,
    WeChatPay,
    aes_gcm_encrypt,
    new_nonce,
    parse_authorization,
    rfc3339,
    signed_message,
)

KEYS_FILE = "sandbox.json"
TRADES_FILE = "sandbox-trades.json"
DEFAULT_KEYS_DIR = ".local/keys"
RSA_BITS = 2048
SANDBOX_WECHAT_NOTIFY_URL = "https://micromall.sandbox.invalid/payments/wechat/notify"
SANDBOX_ALIPAY_NOTIFY_URL = "https://micromall.sandbox.invalid/payments/alipay/notify"
SANDBOX_ALIPAY_GATEWAY = "https://alipay.sandbox.invalid/gateway.do"  # prepay URLs in sandbox lead nowhere
WECHAT_PAID_STATES = ("SUCCESS", "REFUND")
WECHAT_REFUND_EVENTS = ("SUCCESS", "ABNORMAL", "CLOSED")
_ALNUM = string.ascii_letters + string.digits


# --- keys ----------------------------------------------------------------------------

@dataclass(frozen=True)
class WeChatPayKeys:
    appid: str
    mchid: str
    apiv3_key: str
    platform_serial: str
    platform_private_key_pem: str
    merchant_serial: str
    merchant_private_key_pem: str

    def platform_public_key_pem(self) -> str:
        return public_pem(self.platform_private_key_pem)


@dataclass(frozen=True)
class AlipayKeys:
    app_id: str
    seller_id: str
    alipay_private_key_pem: str
    app_private_key_pem: str

    def alipay_public_key_pem(self) -> str:
        return public_pem(self.alipay_private_key_pem)


@dataclass(frozen=True)
class SandboxKeys:
    directory: Path
    wechatpay: WeChatPayKeys
    alipay: AlipayKeys

    @property
    def trades_path(self) -> Path:
        return self.directory / TRADES_FILE


def keys_directory() -> Path:
    return Path(config.env("MALL_SANDBOX_KEYS_DIR", DEFAULT_KEYS_DIR))


def load_sandbox_keys() -> SandboxKeys:
    """The sandbox keys of this checkout (`MALL_SANDBOX_KEYS_DIR`), generated on first use."""
    return ensure_sandbox_keys(keys_directory())


def ensure_sandbox_keys(directory: Path) -> SandboxKeys:
    """The keys in `<directory>/sandbox.json`, generating them if the file does not exist yet."""
    path = directory / KEYS_FILE
    if not path.exists():
        _write_once(path, json.dumps(_generate_keys(), indent=2) + "\n")
    return _read_keys(directory)


def _generate_keys() -> dict[str, dict[str, str]]:
    wechatpay = WeChatPayKeys(
        appid="wx" + secrets.token_hex(8), mchid="19" + _digits(8), apiv3_key=_alnum(32),
        platform_serial="PUB_KEY_ID_01" + _digits(26), platform_private_key_pem=new_private_key_pem(),
        merchant_serial=secrets.token_hex(20).upper(), merchant_private_key_pem=new_private_key_pem())
    alipay = AlipayKeys(app_id="2021" + _digits(12), seller_id="2088" + _digits(12),
                        alipay_private_key_pem=new_private_key_pem(), app_private_key_pem=new_private_key_pem())
    return {"wechatpay": asdict(wechatpay), "alipay": asdict(alipay)}


def _write_once(path: Path, text: str) -> None:
    """Create `path` readable by its owner only, complete or not at all; if another process won, keep theirs."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o600)  # whatever the umask
        os.link(temporary, path)  # fails if the file exists: the first writer's keys stay
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def _read_keys(directory: Path) -> SandboxKeys:
    path = directory / KEYS_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return SandboxKeys(directory=directory, wechatpay=_section(WeChatPayKeys, document["wechatpay"]),
                           alipay=_section(AlipayKeys, document["alipay"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise config.ConfigError(f"{path} is not a sandbox key file ({exc}); delete it to generate new keys") from None


def _section(kind: type, values: dict[str, Any]) -> Any:
    names = [item.name for item in dataclass_fields(kind)]
    if not all(isinstance(values.get(name), str) and values[name] for name in names):
        raise ValueError(f"{kind.__name__} needs {', '.join(names)}")
    return kind(**{name: values[name] for name in names})


def new_private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def public_pem(private_key_pem: str) -> str:
    from cryptography.hazmat.primitives import serialization

    public = load_private_key(private_key_pem).public_key()
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def _digits(count: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(count))


def _alnum(count: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(count))


# --- the twins' trades -------------------------------------------------------------

_book_locks: dict[Path, threading.Lock] = {}
_book_locks_guard = threading.Lock()


class TradeBook:
    """The twins' trades by provider section and out_trade_no, in one JSON file."""

    def __init__(self, path: Path):
        self.path = path
        with _book_locks_guard:
            self._lock = _book_locks.setdefault(path.resolve(), threading.Lock())

    def read(self, section: str, out_trade_no: str) -> dict[str, Any] | None:
        return self._load().get(section, {}).get(out_trade_no)

    def update(self, section: str, out_trade_no: str,
               change: Callable[[dict[str, Any] | None], dict[str, Any]]) -> dict[str, Any]:
        """Store `change(current trade or None)`; an exception from `change` stores nothing."""
        with self._lock:
            document = self._load()
            trade = change(document.get(section, {}).get(out_trade_no))
            document.setdefault(section, {})[out_trade_no] = trade
            self._save(document)
            return trade

    def _load(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def _save(self, document: dict[str, Any]) -> None:
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
        temporary.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(temporary, self.path)  # readers see the old file or the new one, never half


class Refused(Exception):
    """A twin refusing a request, as the provider would: `status` is WeChat's HTTP status or Alipay's gateway code."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


# --- WeChat Pay ------------------------------------------------------------------------

class SandboxWeChatPay:
    """api.mch.weixin.qq.com, played locally: a Transport for `WeChatPay`, and the notifications it sends."""

    QUERY_PREFIX = "/v3/pay/transactions/out-trade-no/"

    def __init__(self, keys: WeChatPayKeys, book: TradeBook, deliver: Deliver | None = None):
        self.keys = keys
        self.book = book
        self.deliver = deliver

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
            return self._answer(200, self._prepay(_json_request(body)))
        if (method, route) == ("POST", "/v3/refund/domestic/refunds"):
            return self._refund(_json_request(body))
        if method == "GET" and route.startswith(self.QUERY_PREFIX):
            return self._query(unquote(route[len(self.QUERY_PREFIX):]), dict(parse_qsl(query)))
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
        body = _json_bytes(payload)
        headers = {**self._signed_headers(body), "Content-Type": "application/json"}
        return Reply(status, lower_keys(headers), body)

    def _signed_headers(self, body: bytes) -> dict[str, str]:
        timestamp, nonce = str(int(clock.timestamp())), new_nonce()
        platform_key = load_private_key(self.keys.platform_private_key_pem)
        return {"Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": nonce,
                "Wechatpay-Serial": self.keys.platform_serial, "Wechatpay-Signature-Type": SIGNATURE_TYPE,
                "Wechatpay-Signature": rsa_sign(platform_key, signed_message(timestamp, nonce, body))}

    def _prepay(self, request: dict[str, Any]) -> dict[str, str]:
        if (request.get("appid"), request.get("mchid")) != (self.keys.appid, self.keys.mchid):
            raise Refused(400, "APPID_MCHID_NOT_MATCH", "appid and mchid do not match")
        out_trade_no, total = request.get("out_trade_no"), _field(request, "amount", "total")
        openid = _field(request, "payer", "openid")
        if not (isinstance(out_trade_no, str) and ids.is_out_trade_no(out_trade_no) and _positive_fen(total)
                and isinstance(openid, str) and openid and request.get("description") and request.get("notify_url")):
            raise Refused(400, "PARAM_ERROR", "out_trade_no, description, notify_url, amount.total or payer.openid")

        def record(trade: dict[str, Any] | None) -> dict[str, Any]:
            if trade and trade["trade_state"] in WECHAT_PAID_STATES:
                raise Refused(400, "ORDERPAID", "the order is already paid")
            if trade and trade["amount"] != total:
                raise Refused(400, "INVALID_REQUEST", "the parameters differ from the first request")
            return trade or {"out_trade_no": out_trade_no, "amount": total, "payer_openid": openid,
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
        answer: dict[str, Any] = {"appid": self.keys.appid, "mchid": self.keys.mchid,
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
        refund, total = _field(request, "amount", "refund"), _field(request, "amount", "total")
        if not (isinstance(out_trade_no, str) and isinstance(out_refund_no, str) and out_refund_no
                and _positive_fen(refund) and _positive_fen(total)):
            raise Refused(400, "PARAM_ERROR", "out_trade_no, out_refund_no, amount.refund or amount.total")
        if self.book.read("wechatpay", out_trade_no) is None:
            raise Refused(404, "RESOURCE_NOT_EXISTS", "the order does not exist")
        fresh: list[bool] = []
        trade = self.book.update("wechatpay", out_trade_no,
                                 lambda current: _wechat_refund(current, out_refund_no, refund, total, fresh))
        reply = self._answer(200, self._refund_answer(trade, trade["refunds"][out_refund_no]))
        if fresh:
            headers, raw_body = self.build_refund_notification(out_trade_no, out_refund_no)
            if self.deliver is not None:
                self.deliver(headers, raw_body)
        return reply

    def _refund_answer(self, trade: dict[str, Any], refund: dict[str, Any]) -> dict[str, Any]:
        return {"refund_id": refund["refund_id"], "out_refund_no": refund["out_refund_no"],
                "transaction_id": trade["transaction_id"], "out_trade_no": trade["out_trade_no"],
                "channel": "ORIGINAL", "user_received_account": "支付用户零钱", "create_time": refund["create_time"],
                "status": refund["status"], "funds_account": "AVAILABLE",
                "amount": _refund_amounts(trade, refund)}

    # --- as WeChat Pay's notifications ---

    def build_payment_notification(self, out_trade_no: str, amount: int, payer_openid: str) -> tuple[dict[str, str],
                                                                                                     bytes]:
        """The buyer pays `amount` fen: TRANSACTION.SUCCESS as WeChat Pay posts it (the same event when repeated)."""
        if not ids.is_out_trade_no(out_trade_no) or not _positive_fen(amount):
            raise ValueError("a sandbox payment needs a valid out_trade_no and a positive amount in fen")

        def pay(trade: dict[str, Any] | None) -> dict[str, Any]:
            if trade and trade["trade_state"] in WECHAT_PAID_STATES:
                return trade  # paid already: WeChat would deliver the same notification again
            return {"refunds": {}, **(trade or {}), "out_trade_no": out_trade_no, "amount": amount,
                    "payer_openid": payer_openid, "trade_state": "SUCCESS", "event_id": str(uuid.uuid4()),
                    "transaction_id": "4200" + _digits(24), "success_time": rfc3339(clock.now())}

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
        nonce = _alnum(12)
        envelope = {"id": event_id, "create_time": rfc3339(clock.now()), "resource_type": "encrypt-resource",
                    "event_type": event_type, "summary": summary,
                    "resource": {"original_type": original_type, "algorithm": "AEAD_AES_256_GCM",
                                 "ciphertext": aes_gcm_encrypt(self.keys.apiv3_key, nonce, original_type,
                                                               _json_bytes(resource)),
                                 "associated_data": original_type, "nonce": nonce}}
        body = _json_bytes(envelope)
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
    refunded = sum(item["amount"] for item in trade["refunds"].values())
    if refunded + refund > trade["amount"]:
        raise Refused(400, "INVALID_REQUEST", "the refund exceeds what is left to refund")
    trade["refunds"][out_refund_no] = {"out_refund_no": out_refund_no, "refund_id": "5030" + _digits(25),
                                       "amount": refund, "status": "PROCESSING",
                                       "create_time": rfc3339(clock.now())}
    trade["trade_state"] = "REFUND"  # what WeChat's query says once a trade has refunds
    fresh.append(True)
    return trade


def _refund_amounts(trade: dict[str, Any], refund: dict[str, Any]) -> dict[str, Any]:
    return {"total": trade["amount"], "refund": refund["amount"], "payer_total": trade["amount"],
            "payer_refund": refund["amount"], "settlement_total": trade["amount"],
            "settlement_refund": refund["amount"], "discount_refund": 0, "currency": "CNY"}


# --- Alipay ------------------------------------------------------------------------------

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
            return self._answer(api, self._route(api, _biz_content(params)))
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
        raise Refused(40002, "isv.invalid-method", f"no such method {api!r}")

    def _answer(self, api: str, payload: dict[str, Any]) -> Reply:
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
        fresh: list[bool] = []
        trade = self.book.update("alipay", out_trade_no,
                                 lambda current: _alipay_refund(current, out_request_no, amount, fresh))
        if fresh:
            headers, raw_body = self.build_refund_notification(out_trade_no, out_request_no)
            if self.deliver is not None:
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

    # --- as Alipay's notifications ---

    def build_payment_notification(self, out_trade_no: str, amount: int, buyer_id: str | None = None, *,
                                   extra: Mapping[str, str] | None = None) -> tuple[dict[str, str], bytes]:
        """The buyer pays `amount` fen: trade_status_sync TRADE_SUCCESS as Alipay posts it; `extra` adds fields."""
        if not ids.is_out_trade_no(out_trade_no) or not _positive_fen(amount):
            raise ValueError("a sandbox payment needs a valid out_trade_no and a positive amount in fen")

        def pay(trade: dict[str, Any] | None) -> dict[str, Any]:
            if trade:
                return trade  # paid already: Alipay would deliver the same notification again
            return {"out_trade_no": out_trade_no, "amount": amount, "trade_no": "2026" + _digits(24),
                    "buyer_id": buyer_id or "2088" + _digits(12), "trade_status": "TRADE_SUCCESS",
                    "gmt_payment": beijing_time(clock.now()), "notify_id": _alnum(34), "refunds": {}}

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
    trade["refunds"][out_request_no] = {"amount": amount, "notify_id": _alnum(34),
                                        "gmt_refund": f"{beijing_time(now)}.{now.microsecond // 1000:03d}"}
    if _refunded(trade) == trade["amount"]:
        trade["trade_status"] = "TRADE_CLOSED"  # Alipay closes a fully refunded trade
    fresh.append(True)
    return trade


def _refunded(trade: dict[str, Any]) -> int:
    return sum(refund["amount"] for refund in trade["refunds"].values())


# --- helpers and wiring --------------------------------------------------------------

def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_request(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        raise Refused(400, "PARAM_ERROR", "the body is not JSON") from None
    if not isinstance(value, dict):
        raise Refused(400, "PARAM_ERROR", "the body is not a JSON object")
    return value


def _biz_content(params: dict[str, str]) -> dict[str, Any]:
    try:
        biz = json.loads(params.get("biz_content") or "{}")
    except ValueError:
        biz = None
    if not isinstance(biz, dict):
        raise Refused(40002, "isv.invalid-parameter", "biz_content is not a JSON object")
    return biz


def _field(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _positive_fen(value: Any) -> bool:
    try:
        return check_fen(value) > 0
    except ValueError:
        return False


def wechat_twin(keys: SandboxKeys, deliver: Deliver | None = None) -> SandboxWeChatPay:
    return SandboxWeChatPay(keys.wechatpay, TradeBook(keys.trades_path), deliver)


def alipay_twin(keys: SandboxKeys, deliver: Deliver | None = None) -> SandboxAlipay:
    return SandboxAlipay(keys.alipay, TradeBook(keys.trades_path), deliver)


def wechat_provider(keys: SandboxKeys, deliver: Deliver | None = None) -> WeChatPay:
    """The real WeChatPay, holding the sandbox keys, talking to the twin."""
    wechat = keys.wechatpay
    return WeChatPay(app_id=wechat.appid, merchant_id=wechat.mchid, merchant_serial=wechat.merchant_serial,
                     merchant_private_key=wechat.merchant_private_key_pem, apiv3_key=wechat.apiv3_key,
                     platform_keys={wechat.platform_serial: wechat.platform_public_key_pem()},
                     notify_url=config.env("MALL_WECHATPAY_NOTIFY_URL", SANDBOX_WECHAT_NOTIFY_URL),
                     transport=wechat_twin(keys, deliver))


def alipay_provider(keys: SandboxKeys, deliver: Deliver | None = None) -> Alipay:
    """The real Alipay, holding the sandbox keys, talking to the twin."""
    alipay = keys.alipay
    return Alipay(app_id=alipay.app_id, seller_id=alipay.seller_id, app_private_key=alipay.app_private_key_pem,
                  alipay_public_key=alipay.alipay_public_key_pem(),
                  notify_url=config.env("MALL_ALIPAY_NOTIFY_URL", SANDBOX_ALIPAY_NOTIFY_URL),
                  transport=alipay_twin(keys, deliver), gateway_url=SANDBOX_ALIPAY_GATEWAY)


def sandbox_provider(name: str, *, deliver: Deliver | None = None) -> WeChatPay | Alipay:
    keys = load_sandbox_keys()
    return wechat_provider(keys, deliver) if name == "wechat" else alipay_provider(keys, deliver)


def twin(name: str, *, deliver: Deliver | None = None) -> SandboxWeChatPay | SandboxAlipay:
    """The twin of provider `name` with this checkout's keys: what `POST /payments/sandbox/pay` pays with."""
    keys = load_sandbox_keys()
    return wechat_twin(keys, deliver) if name == "wechat" else alipay_twin(keys, deliver)
