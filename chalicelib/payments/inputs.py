"""What the payments routes accept and answer (prepay, the sandbox's pay button), named lazily by
chalicelib/payments/routes.py: a webhook's cold start imports none of it."""
from __future__ import annotations

from pydantic import ConfigDict, Field, StrictStr

from chalicelib.core.schema import Schema


class PrepayBody(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    order_id: StrictStr = Field(min_length=1, max_length=64)
    provider: str = Field(default="wechat", pattern="^(wechat|alipay)$")
    scene: str = Field(default="mini_program", pattern="^(mini_program|wechat_browser)$",
                       description="where the buyer pays with WeChat Pay from: `mini_program` (the default; "
                                   "`wx.requestPayment`, the mini-program's appid and openid) or `wechat_browser` "
                                   "(the storefront inside WeChat's browser; `WeixinJSBridge`'s "
                                   "`getBrandWCPayRequest`, the official account's appid and openid). Ignored "
                                   "for Alipay")


class PrepayParams(Schema):
    """wechat: what the mini-program passes to `wx.requestPayment`; alipay: `pay_url`, the signed
    `alipay.trade.wap.pay` address the H5 page opens. Only the chosen provider's fields are present."""
    model_config = ConfigDict(populate_by_name=True, defer_build=True)
    appId: str | None = None  # noqa: N815 - the names wx.requestPayment takes
    timeStamp: str | None = None  # noqa: N815
    nonceStr: str | None = None  # noqa: N815
    package: str | None = None
    signType: str | None = None  # noqa: N815
    paySign: str | None = None  # noqa: N815
    pay_url: str | None = None


class JsapiPayment(Schema):
    """What the storefront would hand `WeixinJSBridge.invoke('getBrandWCPayRequest', ...)`: the prepay's answer."""
    model_config = ConfigDict(extra="forbid", defer_build=True)
    appId: StrictStr = Field(max_length=64)  # noqa: N815 - the names getBrandWCPayRequest takes
    timeStamp: StrictStr = Field(max_length=16)  # noqa: N815
    nonceStr: StrictStr = Field(max_length=32)  # noqa: N815
    package: StrictStr = Field(max_length=128)
    signType: StrictStr = Field(max_length=16)  # noqa: N815
    paySign: StrictStr = Field(max_length=1024)  # noqa: N815


class SandboxPayBody(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    order_id: StrictStr = Field(min_length=1, max_length=64)
    wechat_jsapi: JsapiPayment | None = Field(
        default=None, description="the sandbox's stand-in for WeChat's browser: the prepay parameters, checked as "
                                  "WeChat's client checks them (paySign, appId), paid as that prepay's trade")
