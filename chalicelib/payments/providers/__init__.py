"""The payment providers (WeChat Pay v3, Alipay) behind one small interface, each with a sandbox twin.

`provider(name)` returns a `PaymentProvider`: it asks the provider for a payment
(`prepay`), verifies and parses what the provider posts to the mall's webhook
(`parse_notification`), refunds (`refund`), asks for a trade's or a refund's state
(`query`, `query_refund`), closes an unpaid trade (`close`) and
shapes the webhook's reply the way the provider expects (`accept_reply`,
`reject_reply`). Inside the mall, money is int fen; only the Alipay module sees yuan.

With `MALL_PROVIDERS=sandbox` the same verifying and signing classes are wired to
local twins (`providers/sandbox/`) instead of HTTP, with keys generated once into
`MALL_SANDBOX_KEYS_DIR/sandbox.json`.

Configuration (live mode). Secrets are read with `core.config.secret(name)`: env
`MALL_<NAME>` first, else the SSM parameter `<MALL_SSM_PREFIX>/<name>` (name lower-case).

| setting | kind | default | meaning |
| --- | --- | --- | --- |
| `MALL_WECHAT_APPID` | env | | the mini-program's appid (also used by login) |
| `MALL_WECHAT_OA_APPID` | env | | the official account's appid (members' web login): WeChat Pay in WeChat's browser |
| `MALL_WECHATPAY_MCHID` | env | | WeChat Pay merchant id |
| `MALL_WECHATPAY_MERCHANT_SERIAL` | env | | serial of the merchant API certificate |
| `MALL_WECHATPAY_MERCHANT_PRIVATE_KEY` | secret | | merchant API private key, PEM (`apiclient_key.pem`) |
| `MALL_WECHATPAY_APIV3_KEY` | secret | | the 32-character APIv3 key (decrypts notifications) |
| `MALL_WECHATPAY_PLATFORM_KEYS` | secret | | JSON `{"<serial or PUB_KEY_ID_...>": "<PEM key or certificate>"}` |
| `MALL_WECHATPAY_NOTIFY_URL` | env | | https URL of `POST /payments/wechat/notify` |
| `MALL_WECHATPAY_API_BASE` | env | `https://api.mch.weixin.qq.com` | WeChat Pay API |
| `MALL_ALIPAY_APP_ID` | env | | Alipay app id |
| `MALL_ALIPAY_SELLER_ID` | env | | the merchant's Alipay user id (`2088...`) |
| `MALL_ALIPAY_APP_PRIVATE_KEY` | secret | | the app's RSA2 private key, PEM or bare base64 |
| `MALL_ALIPAY_PUBLIC_KEY` | secret | | Alipay's RSA2 public key, PEM or bare base64 |
| `MALL_ALIPAY_GATEWAY` | env | `https://openapi.alipay.com/gateway.do` | Alipay gateway |
| `MALL_ALIPAY_NOTIFY_URL` | env | | URL of `POST /payments/alipay/notify` |
| `MALL_SANDBOX_KEYS_DIR` | env | `.local/keys` | sandbox only: `sandbox.json` and the twins' trades |

The two private keys enter through `python -m infra merchant-keys` (infra/merchant_keys.py), which
checks each in full before storing it: run time loads them without that check (`load_private_key`).

Secret SSM names: `wechatpay_merchant_private_key`, `wechatpay_apiv3_key`,
`wechatpay_platform_keys`, `alipay_app_private_key`, `alipay_public_key`. Hold several
WeChat platform keys at once while WeChat rotates them or moves the account from
certificates to a public key.
"""
from __future__ import annotations

import base64
import datetime as _dt
import functools
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Any, Protocol

from chalicelib.core import config
from chalicelib.core.errors import UpstreamError
from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)

PROVIDER_NAMES = ("wechat", "alipay")
# Where a buyer pays with WeChat Pay from; each pays under its own appid, by the buyer's openid under that appid.
WECHAT_SCENES = ("mini_program", "wechat_browser")
PAYMENT_STATUSES = ("PAID", "NOT_PAID", "CLOSED", "REFUNDED_ELSEWHERE")
REFUND_STATUSES = ("SUCCESS", "CLOSED", "ABNORMAL", "PROCESSING")
REJECTION_REASONS = ("BAD_SIGNATURE", "UNKNOWN_SERIAL", "STALE_TIMESTAMP", "MISSING_HEADERS", "BAD_CIPHERTEXT",
                     "MALFORMED")

BEIJING = _dt.timezone(_dt.timedelta(hours=8), "Asia/Shanghai")  # both providers speak Beijing time; no DST
HTTP_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class PaymentNotification:
    """A verified, parsed notification (or a query's answer, with `event_id` "query:<id>").

    `kind` PAYMENT: `status` is PAID, NOT_PAID, CLOSED or REFUNDED_ELSEWHERE (WeChat's
    trade_state REFUND: the trade has refunds, whoever made them); `amount_total` is
    always set when PAID, may be None otherwise (WeChat omits it on unpaid queries).
    `kind` REFUND: `status` is SUCCESS, CLOSED, ABNORMAL or PROCESSING; `paid_at` is
    when the refund succeeded. Alipay's `refund_amount` is the trade's cumulative
    refunded amount (its `refund_fee`), WeChat's is this refund's.
    """
    provider: str
    event_id: str
    kind: str
    out_trade_no: str
    status: str
    amount_total: int | None
    transaction_id: str | None = None
    paid_at: _dt.datetime | None = None
    app_id: str | None = None
    merchant_id: str | None = None
    payer_id: str | None = None
    out_refund_no: str | None = None
    refund_id: str | None = None
    refund_amount: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # may hold buyer data


class NotificationRejected(Exception):
    """The webhook request is not a genuine, well-formed notification; `reason` is one of REJECTION_REASONS."""

    def __init__(self, reason: str, message: str):
        if reason not in REJECTION_REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}")
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class ProviderError(UpstreamError):
    """An outbound call failed. `retryable`: the same call (same out_trade_no / out_refund_no) may succeed later.

    A MallError (502) so that one escaping a service still answers in the mall's error shape;
    `provider_code` is the provider's own code (e.g. WeChat `NOT_ENOUGH`, Alipay `ACQ.TRADE_NOT_EXIST`).
    """
    code = "PAYMENT_PROVIDER_ERROR"

    def __init__(self, message: str, *, provider: str, retryable: bool, provider_code: str | None = None,
                 http_status: int | None = None):
        super().__init__(message)
        self.provider = provider
        self.retryable = retryable
        self.provider_code = provider_code
        self.http_status = http_status


@dataclass(frozen=True)
class PrepayRequest:
    out_trade_no: str
    description: str
    amount: int  # fen
    payer_id: str  # the buyer's openid (WeChat); unused by Alipay
    expires_at: _dt.datetime  # timezone-aware
    app_id: str | None = None  # WeChat: the appid `payer_id` belongs to, one of the provider's; None: its own


@dataclass(frozen=True)
class RefundRequest:
    out_trade_no: str
    out_refund_no: str  # reuse the same one when retrying: providers refund it once
    refund_amount: int  # fen
    total_amount: int  # fen, the trade's total
    reason: str = ""


@dataclass(frozen=True)
class RefundAccepted:
    out_refund_no: str
    refund_id: str | None  # None for Alipay, which has no refund id
    status: str  # one of REFUND_STATUSES


Deliver = Callable[[dict[str, str], bytes], Any]
"""Sandbox only: how a twin posts a notification to the mall (`deliver(headers, raw_body)`), in process."""


class PaymentProvider(Protocol):
    name: str
    app_id: str
    app_ids: tuple[str, ...]  # every app of the shop's a notification may name (WeChat: mini-program, official account)
    merchant_id: str

    def prepay(self, req: PrepayRequest) -> dict[str, str]: ...

    def parse_notification(self, headers: Mapping[str, str], raw_body: bytes) -> PaymentNotification: ...

    def refund(self, req: RefundRequest) -> RefundAccepted: ...

    def query(self, out_trade_no: str) -> PaymentNotification | None: ...

    def query_refund(self, out_trade_no: str, out_refund_no: str) -> PaymentNotification | None:
        """The refund as the provider knows it (kind REFUND), or None when it never received it."""
        ...

    def close(self, out_trade_no: str) -> str:
        """Close the unpaid trade so it cannot be paid: "CLOSED", or "PAID" when the buyer paid first."""
        ...

    def accept_reply(self) -> tuple[int, str, str]: ...

    def reject_reply(self, reason: str, message: str) -> tuple[int, str, str]: ...


def provider(name: str, *, deliver: Deliver | None = None) -> PaymentProvider:
    """The provider `name` ("wechat" or "alipay") as this deployment is configured.

    In sandbox mode it is the real class wired to the local twin; `deliver` is where the
    twin posts the notifications it sends on its own (refund results). Live mode ignores it.
    """
    if name not in PROVIDER_NAMES:
        raise ValueError(f"unknown payment provider {name!r}")
    if config.is_sandbox():
        from chalicelib.payments.providers import sandbox

        return sandbox.sandbox_provider(name, deliver=deliver)
    if name == "wechat":
        from chalicelib.payments.providers.wechatpay import WeChatPay

        return WeChatPay.from_config()
    from chalicelib.payments.providers.alipay import Alipay

    return Alipay.from_config()


def required_env(name: str) -> str:
    value = config.env(name)
    if value is None:
        raise config.ConfigError(f"{name} is required when MALL_PROVIDERS=live")
    return value


# --- plumbing shared by the providers and their twins ------------------------------

@dataclass(frozen=True)
class Reply:
    """An HTTP answer; header names lower-cased."""
    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    """Carries one request to the provider: HTTP in live mode, the twin in sandbox mode."""

    def send(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Reply: ...


class HttpTransport:
    """urllib, so the Lambda bundle needs no HTTP library. Any HTTP status is a Reply; no answer is a ProviderError."""

    def __init__(self, base_url: str, provider_name: str, timeout: float = HTTP_TIMEOUT_SECONDS):
        self.base_url = base_url.rstrip("/")
        self.provider_name = provider_name
        self.timeout = timeout

    def send(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        request = urllib.request.Request(self.base_url + path, data=body if method != "GET" else None,
                                         method=method, headers=dict(headers))
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return Reply(response.status, lower_keys(response.headers.items()), response.read())
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, lower_keys(exc.headers.items()), _read_quietly(exc))
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ProviderError(f"{self.provider_name} unreachable: {type(reason).__name__}",
                                provider=self.provider_name, retryable=True) from None


def _read_quietly(exc: urllib.error.HTTPError) -> bytes:
    # An error answer whose body cannot be read is still an error answer: its status says enough.
    try:
        return exc.read()
    except OSError:
        return b""


def lower_keys(items: Any) -> dict[str, str]:
    """Header names are case-insensitive (API Gateway lower-cases them, WeChat capitalizes them)."""
    pairs = items.items() if isinstance(items, Mapping) else items
    return {str(key).lower(): value for key, value in pairs}


@functools.lru_cache(maxsize=32)
def load_private_key(text: str) -> Any:
    """An RSA private key from PEM (PKCS#8 or PKCS#1) or bare base64 DER, as providers' consoles hand them out."""
    # Without OpenSSL's RSA consistency check: it cost about 25 ms of every payments cold start per key. Safe
    # because these are the merchant's own keys from its configuration, never a caller's, and each was checked in
    # full where it entered: `python -m infra merchant-keys` (infra/merchant_keys.py, with `checked_private_key`
    # below) refuses a key that fails the check, or whose public half is not its certificate's, before storing it
    # in SSM; the sandbox's keys are generated by `cryptography` itself (sandbox/keys.py). README: "Merchant keys".
    return _private_key(text, skip_validation=True)


class KeyRefused(ValueError):
    """A merchant key that must not enter the mall, and why (what `infra merchant-keys` prints)."""


def checked_private_key(text: str, *, public: str | None = None) -> Any:
    """The RSA private key in `text` after the full check `load_private_key` skips at run time; with `public` (a
    PEM certificate or public key, e.g. WeChat Pay's `apiclient_cert.pem`), also that it is that key's pair.
    KeyRefused says what is wrong."""
    try:
        key = _private_key(text, skip_validation=False)
    except (ValueError, TypeError) as exc:  # malformed, not RSA, or its numbers inconsistent (OpenSSL's check)
        raise KeyRefused(f"not a valid RSA private key (PEM, or bare base64 DER, without a password): {exc}") from exc
    if public is not None:
        try:
            expected = load_public_key(public)
        except (ValueError, TypeError) as exc:
            raise KeyRefused(f"the certificate or public key given beside the private key cannot be read: {exc}") \
                from exc
        if key.public_key().public_numbers() != expected.public_numbers():
            raise KeyRefused("the private key does not belong to the certificate or public key given beside it "
                             "(another key pair: the provider would refuse every request signed with it)")
    return key


def _private_key(text: str, *, skip_validation: bool) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    data = text.strip()
    if data.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(data.encode(), password=None,
                                                 unsafe_skip_rsa_key_validation=skip_validation)
    else:
        key = serialization.load_der_private_key(base64.b64decode(data, validate=True), password=None,
                                                 unsafe_skip_rsa_key_validation=skip_validation)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


@functools.lru_cache(maxsize=32)
def load_public_key(text: str) -> Any:
    """An RSA public key from a PEM public key, a PEM certificate, or bare base64 DER."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    data = text.strip()
    if data.startswith("-----BEGIN CERTIFICATE"):
        key = x509.load_pem_x509_certificate(data.encode()).public_key()
    elif data.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(data.encode())
    else:
        key = serialization.load_der_public_key(base64.b64decode(data, validate=True))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def rsa_sign(private_key: Any, message: bytes) -> str:
    """Base64 SHA256withRSA, PKCS#1 v1.5: WeChat Pay's and Alipay's RSA2."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def rsa_verify(public_key: Any, message: bytes, signature: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except (ValueError, InvalidSignature):
        return False
    return True
