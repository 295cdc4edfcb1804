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

from chalicelib.core import config
from chalicelib.payments.providers import Deliver
from chalicelib.payments.providers.alipay import Alipay
from chalicelib.payments.providers.sandbox.alipay import SandboxAlipay
from chalicelib.payments.providers.sandbox.book import Refused, TradeBook
from chalicelib.payments.providers.sandbox.keys import (
    DEFAULT_KEYS_DIR,
    KEYS_FILE,
    TRADES_FILE,
    AlipayKeys,
    SandboxKeys,
    WeChatPayKeys,
    ensure_sandbox_keys,
    keys_directory,
    load_sandbox_keys,
    new_private_key_pem,
    public_pem,
)
from chalicelib.payments.providers.sandbox.wechat import SandboxWeChatPay
from chalicelib.payments.providers.wechatpay import WeChatPay

__all__ = ["DEFAULT_KEYS_DIR", "KEYS_FILE", "TRADES_FILE", "AlipayKeys", "Refused", "SandboxAlipay", "SandboxKeys",
           "SandboxWeChatPay", "TradeBook", "WeChatPayKeys", "alipay_provider", "alipay_twin", "ensure_sandbox_keys",
           "keys_directory", "load_sandbox_keys", "new_private_key_pem", "public_pem", "sandbox_provider", "twin",
           "wechat_provider", "wechat_twin"]

SANDBOX_WECHAT_NOTIFY_URL = "https://micromall.sandbox.invalid/payments/wechat/notify"
SANDBOX_ALIPAY_NOTIFY_URL = "https://micromall.sandbox.invalid/payments/alipay/notify"
SANDBOX_ALIPAY_GATEWAY = "https://alipay.sandbox.invalid/gateway.do"  # prepay URLs in sandbox lead nowhere



def wechat_twin(keys: SandboxKeys, deliver: Deliver | None = None) -> SandboxWeChatPay:
    return SandboxWeChatPay(keys.wechatpay, TradeBook(keys.trades_path), deliver, web_app_id=_official_account())


def alipay_twin(keys: SandboxKeys, deliver: Deliver | None = None) -> SandboxAlipay:
    return SandboxAlipay(keys.alipay, TradeBook(keys.trades_path), deliver)


def wechat_provider(keys: SandboxKeys, deliver: Deliver | None = None) -> WeChatPay:
    """The real WeChatPay, holding the sandbox keys, talking to the twin."""
    wechat = keys.wechatpay
    return WeChatPay(app_id=wechat.appid, merchant_id=wechat.mchid, merchant_serial=wechat.merchant_serial,
                     merchant_private_key=wechat.merchant_private_key_pem, apiv3_key=wechat.apiv3_key,
                     platform_keys={wechat.platform_serial: wechat.platform_public_key_pem()},
                     notify_url=config.env("MALL_WECHATPAY_NOTIFY_URL", SANDBOX_WECHAT_NOTIFY_URL),
                     transport=wechat_twin(keys, deliver), web_app_id=_official_account())


def _official_account() -> str | None:
    """The sandbox official account the web login authorizes with: WeChat Pay prepays under it beside the mini-program."""
    from chalicelib.members import official_account

    return official_account.appid()


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
