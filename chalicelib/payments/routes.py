"""payments routes: prepay for the buyer, the providers' webhooks, the sandbox's pay button, reconciliation.

The webhooks carry no token: what authenticates them is the provider's
signature over the raw body, checked before anything is read from it.
"""
from __future__ import annotations

import logging

from chalice import Rate, Response

from chalicelib.core.auth import BUYER
from chalicelib.core.http import Api, Context, Header

api = Api(__name__, tag="payments")
log = logging.getLogger("micromall.payments")
RECONCILE_SAFETY_MILLIS = 10_000


INPUTS = "chalicelib.payments.inputs:"  # models by name: a cold start loads what its first request uses


@api.route("/payments/prepay", "POST", body=INPUTS + "PrepayBody", response=INPUTS + "PrepayParams",
           auth=BUYER, errors=(404, 409, 422, 502, 503),
           summary="start paying an unpaid order: for WeChat Pay the parameters wx.requestPayment (scene "
                   "mini_program, the default) or WeixinJSBridge getBrandWCPayRequest (scene wechat_browser) take, "
                   "signed for that scene's appid; for Alipay its wap pay URL. 422 WECHAT_PAY_UNAVAILABLE: the "
                   "buyer has no openid for that scene; 409 WECHAT_PAY_STARTED_ELSEWHERE: the order's WeChat Pay "
                   "was started in the other scene")
def prepay(ctx: Context):
    from chalicelib.members.service import payer_openid
    from chalicelib.payments import service

    body = ctx.body
    # WeChat Pay names its payer by the openid under the scene's appid: the mini-program's, or the official
    # account's in WeChat's browser; a buyer who never logged in there lacks it (422)
    payer = payer_openid(ctx.user_id, required=body.provider == "wechat", scene=body.scene)
    return service.prepay(ctx.user_id, body.order_id, body.provider, payer, body.scene)


WECHATPAY_HEADERS = (
    Header("Wechatpay-Timestamp", "Unix seconds; refused when more than 300 s from the mall's clock", required=True),
    Header("Wechatpay-Nonce", "the signature's nonce", required=True),
    Header("Wechatpay-Signature", "base64 RSA-SHA256 over timestamp, nonce and the raw body", required=True),
    Header("Wechatpay-Serial", "the platform key that signed (certificate serial or PUB_KEY_ID_...)", required=True),
    Header("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048 when sent"),
)


# What each webhook answers, in its provider's shapes (a mall error body would mean nothing to the provider).
WECHAT_REPLY_MODEL = "chalicelib.payments.notification_shapes:WeChatPayFailure"
WECHAT_REPLIES = {204: ("application/json", None),
                  **{status: ("application/json", WECHAT_REPLY_MODEL) for status in (400, 401, 404, 500)}}
ALIPAY_REPLIES = {200: ("text/plain", {"type": "string", "enum": ["success", "fail"],
                                       "description": "`success` takes the notification; `fail` makes Alipay retry"})}


@api.route("/payments/wechat/notify", "POST", status=204, headers=WECHATPAY_HEADERS,
           documented_body="chalicelib.payments.notification_shapes:WeChatPayNotification", replies=WECHAT_REPLIES,
           summary="WeChat Pay v3 payment and refund notifications (204 when applied; a 4xx or 5xx makes WeChat retry)")
def wechat_notify(ctx: Context) -> Response:
    return _reply("wechat", ctx)


@api.route("/payments/alipay/notify", "POST", content_types=("application/x-www-form-urlencoded",),
           documented_body="chalicelib.payments.notification_shapes:AlipayNotification", replies=ALIPAY_REPLIES,
           summary="Alipay asynchronous notifications (form-encoded; the reply is `success`)")
def alipay_notify(ctx: Context) -> Response:
    return _reply("alipay", ctx)


def _reply(provider: str, ctx: Context) -> Response:
    from chalicelib.payments import service

    status, body, content_type = service.handle_webhook(provider, ctx.headers, ctx.raw_body)
    return Response(body=body, status_code=status, headers={"Content-Type": content_type})


@api.route("/payments/sandbox/pay", "POST", body=INPUTS + "SandboxPayBody", response="chalicelib.checkout.views:OrderView",
           auth=BUYER, errors=(400, 404, 409), summary="sandbox mode only: pay the order as WeChat Pay would notify "
                                                       "it; with wechat_jsapi, as WeChat's browser pays that prepay")
def sandbox_pay(ctx: Context):
    from chalicelib.payments import service

    jsapi = ctx.body.wechat_jsapi
    return service.sandbox_pay(ctx.user_id, ctx.body.order_id, jsapi.model_dump() if jsapi is not None else None)


@api.blueprint.schedule(Rate(2, unit=Rate.MINUTES), name="payments_reconciler")
def payments_reconciler(event) -> None:
    """Ask providers about payments whose notification never came, and about every refund not final yet."""
    from chalicelib.payments import service

    context = getattr(event, "context", None)

    def out_of_time() -> bool:
        return context is not None and context.get_remaining_time_in_millis() < RECONCILE_SAFETY_MILLIS

    report = service.reconcile(out_of_time=out_of_time)
    log.info("reconcile: %d checked, %d paid without notification, %d refunds retried, %d refunds settled, "
             "%d failed, %d given up", report.checked, report.applied, report.refunds_resubmitted,
             report.refunds_settled, report.failed, report.gave_up)
