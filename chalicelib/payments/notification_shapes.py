"""What WeChat Pay and Alipay post to the notify routes, for the API document only.

The webhooks verify a signature over the raw body, so these models never parse a request
(`documented_body` on the route); they let a client generated from /openapi.json send a
notification (tests, a provider simulator), in the order and shape the providers send.
"""
from __future__ import annotations

from pydantic import ConfigDict

from chalicelib.core.schema import Schema


class WeChatPayResource(Schema):
    """The encrypted resource: AEAD_AES_256_GCM with the APIv3 key."""
    original_type: str
    algorithm: str
    ciphertext: str
    associated_data: str
    nonce: str


class WeChatPayNotification(Schema):
    """WeChat Pay v3's envelope (TRANSACTION.SUCCESS, REFUND.SUCCESS, ...), fields in the order WeChat sends them:
    the signature (Wechatpay-Signature) covers the body's bytes."""
    id: str
    create_time: str
    resource_type: str
    event_type: str
    summary: str
    resource: WeChatPayResource


class AlipayNotification(Schema):
    """Alipay's asynchronous notification (form fields, RSA2-signed over the sorted fields); other fields allowed."""
    model_config = ConfigDict(defer_build=True, extra="allow")
    notify_id: str
    notify_type: str
    notify_time: str
    app_id: str
    out_trade_no: str
    trade_no: str
    trade_status: str
    sign_type: str
    sign: str


class WeChatPayFailure(Schema):
    """What the mall answers WeChat Pay when it does not take a notification (WeChat retries it later)."""
    code: str
    message: str

