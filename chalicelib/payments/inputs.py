"""What the payments routes accept and answer (prepay, the sandbox's pay button), named lazily by
chalicelib/payments/routes.py: a webhook's cold start imports none of it."""
from __future__ import annotations

from pydantic import ConfigDict, Field, StrictStr

from chalicelib.core.schema import Schema


class PrepayBody(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    order_id: StrictStr = Field(min_length=1, max_length=64)
    provider: str = Field(default="wechat", pattern="^(wechat|alipay)$")


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


class SandboxPayBody(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    order_id: StrictStr = Field(min_length=1, max_length=64)
