"""Payments: starting a payment, and the one entry point routes and handlers call.

The work is split along its seams: `webhooks` applies what providers tell us
exactly once, `refunds` decides, submits and settles refunds, `reconciler` asks
providers about what never told us its outcome, `ledger` writes the payments
table. Payments changes an order only through checkout's move functions (lifecycle,
order_refunds), in the same transaction as its own ledger entries.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import PutError

from chalicelib.checkout import statuses
from chalicelib.checkout.orders import load_order
from chalicelib.checkout.views import OrderView, order_view
from chalicelib.core import clock, config
from chalicelib.core.db import condition_failed, get_or_none
from chalicelib.core.errors import BadRequest, Conflict, NotFound, ServiceUnavailable
from chalicelib.payments import providers
from chalicelib.payments.ledger import RECONCILE_AFTER, anomalies, prepay_key, reconcile_shard
from chalicelib.payments.models import LedgerEntry
from chalicelib.payments.outcomes import Applied, Refused
from chalicelib.payments.wiring import provider_for

if TYPE_CHECKING:
    from chalicelib.payments.reconciler import ReconcileReport, reconcile
    from chalicelib.payments.refunds import approve_refund, buyer_refund_no, retry_refund
    from chalicelib.payments.webhooks import apply, handle_webhook

__all__ = ["Applied", "ReconcileReport", "Refused", "anomalies", "apply", "approve_refund", "buyer_refund_no",
           "close_trade", "handle_webhook", "prepay", "reconcile", "reject_refund", "retry_refund", "sandbox_pay"]

# The rest of the entry point, imported when first used: a prepay (a cold start's usual first request)
# needs neither the webhook's path through checkout's lifecycle, nor refunds, nor the reconciler.
_ELSEWHERE = {"ReconcileReport": "reconciler", "reconcile": "reconciler", "approve_refund": "refunds",
              "buyer_refund_no": "refunds", "retry_refund": "refunds", "apply": "webhooks",
              "handle_webhook": "webhooks"}


def __getattr__(name: str) -> Any:
    if name not in _ELSEWHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"chalicelib.payments.{_ELSEWHERE[name]}"), name)
    globals()[name] = value
    return value


def prepay(user_id: str, order_id: str, provider_name: str, payer_id: str,
           scene: str = "mini_program") -> dict[str, str]:
    """What the buyer's client needs to pay the buyer's unpaid order with `provider_name`; for WeChat Pay, from
    `scene` (providers.WECHAT_SCENES), whose appid `payer_id` is an openid of."""
    order = load_order(order_id, user_id=user_id)
    now = clock.now()
    if order.status != statuses.PENDING_PAYMENT or order.expires_at <= now:
        raise Conflict(f"order {order_id} is {order.status} and cannot be paid", code="ORDER_NOT_PAYABLE",
                       details={"status": order.status})
    provider = provider_for(provider_name)
    app_id = _app_id_for(provider, scene) if provider_name == "wechat" else None
    # The entry first: a trade the provider opened must never be one the reconciler and the cancel cannot see
    # (an entry for a prepay that then failed costs one query that finds nothing).
    _note_prepay(order_id, provider_name, int(order.payable), scene if app_id else None, now)
    title = order.lines[0].title + (f" 等{len(order.lines)}件" if len(order.lines) > 1 else "")
    try:
        params = provider.prepay(providers.PrepayRequest(out_trade_no=order_id, description=title[:127],
                                                         amount=int(order.payable), payer_id=payer_id,
                                                         expires_at=order.expires_at, app_id=app_id))
    except providers.ProviderError as exc:
        if exc.provider_code not in ALREADY_PAID_CODES:
            raise
        # The buyer paid and the notification has not reached the mall (or was lost): the trade is under
        # reconciliation (its ledger entry above), which applies the payment; asking to pay again is a conflict.
        raise Conflict(f"order {order_id} is already paid at {provider_name}; it shows as paid once the payment "
                       "is confirmed", code="ORDER_ALREADY_PAID") from None
    return params


SCENE_WORDS = {"mini_program": "the mini-program", "wechat_browser": "WeChat's browser"}


def _app_id_for(provider: providers.PaymentProvider, scene: str) -> str:
    app_id = provider.app_id_for(scene)  # type: ignore[attr-defined] - WeChat Pay's
    if app_id is None:
        raise ServiceUnavailable("WeChat Pay in WeChat's browser is not configured on this shop (its official "
                                 "account, MALL_WECHAT_OA_APPID): pay with Alipay", code="NOT_CONFIGURED",
                                 retry_after_seconds=3600)
    return app_id


def _note_prepay(order_id: str, provider_name: str, amount: int, scene: str | None, now) -> None:
    """The PREPAY entry. WeChat Pay binds a trade (our out_trade_no, the order id) to the appid and payer of its
    first prepay: one started from another scene is refused here (409), never sent to WeChat under the other
    scene's trade. Entries from before scenes existed (no `scene`) were all the mini-program's."""
    entry = LedgerEntry(prepay_key(order_id, provider_name), kind="PREPAY", order_id=order_id,
                        provider=provider_name, amount=amount, checks=0, created_at=now, updated_at=now,
                        reconcile_shard=reconcile_shard(order_id), check_after=now + RECONCILE_AFTER, scene=scene)
    if scene is None:
        entry.save()
        return
    same_scene = LedgerEntry.entry_key.does_not_exist() | (LedgerEntry.scene == scene)
    if scene == "mini_program":
        same_scene = same_scene | LedgerEntry.scene.does_not_exist()
    try:
        entry.save(condition=same_scene)
    except PutError as exc:
        if not condition_failed(exc):
            raise
        started = get_or_none(LedgerEntry, prepay_key(order_id, provider_name))
        where = SCENE_WORDS.get((started.scene if started else None) or "mini_program", "another app")
        raise Conflict(f"WeChat Pay for order {order_id} was started in {where}, and WeChat keeps a payment in the "
                       f"app it was started in: finish paying there, or pay with Alipay",
                       code="WECHAT_PAY_STARTED_ELSEWHERE", details={"scene": started.scene if started else None}) \
            from None


ALREADY_PAID_CODES = frozenset({"ORDERPAID", "ACQ.TRADE_HAS_SUCCESS"})


def close_trade(order) -> bool:
    """Close the order's trade at every provider it was sent to pay with, before checkout cancels it.

    True: nothing can be paid any more (closed, or never prepaid). False: a provider says
    the buyer paid first; that payment is applied now, through the webhook's path, so the
    order is PAID and the cancel is refused. A provider that cannot answer raises: the
    order is not cancelled while it might still be paid.
    """
    opened = [name for name in providers.PROVIDER_NAMES
              if get_or_none(LedgerEntry, prepay_key(order.order_id, name)) is not None]
    for name in opened:  # the buyer may have opened both cashiers
        provider = provider_for(name)
        if provider.close(order.order_id) == "PAID":
            from chalicelib.payments.webhooks import apply

            answer = provider.query(order.order_id)
            if answer is not None and answer.status == "PAID":
                apply(answer, provider)
            return False
    return True


def reject_refund(order_id: str, *, reason: str, actor: str) -> OrderView:
    from chalicelib.checkout import order_refunds

    return order_refunds.reject_refund(order_id, reason=reason, actor=actor)


def sandbox_pay(user_id: str, order_id: str, jsapi: dict[str, str] | None = None) -> OrderView:
    """Pay the buyer's order as WeChat Pay would: a signed, encrypted notification to our own webhook.

    With `jsapi` (the prepay's `getBrandWCPayRequest` parameters, what the storefront in WeChat's browser hands
    WeixinJSBridge), the twin plays WeChat's client: it checks them as WeChat does and pays the trade they name,
    under that trade's appid and payer; a refusal is 400 SANDBOX_PAYMENT_REFUSED."""
    if not config.is_sandbox():
        raise NotFound("no such route", code="NOT_FOUND")
    order = load_order(order_id, user_id=user_id)
    if order.status != statuses.PENDING_PAYMENT:
        raise Conflict(f"order {order_id} is {order.status} and cannot be paid", code="ORDER_NOT_PAYABLE",
                       details={"status": order.status})
    from chalicelib.payments.providers import sandbox
    from chalicelib.payments.webhooks import handle_webhook

    twin = sandbox.twin("wechat")
    if jsapi is None:
        headers, body = twin.build_payment_notification(order_id, int(order.payable),
                                                        payer_openid=f"sandbox-{user_id}")
    else:
        headers, body = _pay_jsapi(twin, order_id, jsapi)
    status, reply, _ = handle_webhook("wechat", headers, body)
    if status >= 300:
        raise ServiceUnavailable(f"the sandbox payment was not accepted: {reply}", code="SANDBOX_PAYMENT_FAILED")
    return order_view(load_order(order_id))


def _pay_jsapi(twin: Any, order_id: str, jsapi: dict[str, str]) -> tuple[dict[str, str], bytes]:
    from chalicelib.payments.providers.sandbox import Refused

    try:
        return twin.pay_jsapi(jsapi, order_id)
    except Refused as refused:
        raise BadRequest(f"the sandbox's WeChat refused the payment: {refused.message}",
                         code="SANDBOX_PAYMENT_REFUSED") from None
