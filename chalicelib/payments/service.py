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

from chalicelib.checkout import statuses
from chalicelib.checkout.orders import load_order
from chalicelib.checkout.views import OrderView, order_view
from chalicelib.core import clock, config
from chalicelib.core.db import get_or_none
from chalicelib.core.errors import Conflict, NotFound, ServiceUnavailable
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


def prepay(user_id: str, order_id: str, provider_name: str, payer_id: str) -> dict[str, str]:
    """What the buyer's client needs to pay the buyer's unpaid order with `provider_name`."""
    order = load_order(order_id, user_id=user_id)
    now = clock.now()
    if order.status != statuses.PENDING_PAYMENT or order.expires_at <= now:
        raise Conflict(f"order {order_id} is {order.status} and cannot be paid", code="ORDER_NOT_PAYABLE",
                       details={"status": order.status})
    # The entry first: a trade the provider opened must never be one the reconciler and the cancel cannot see
    # (an entry for a prepay that then failed costs one query that finds nothing).
    LedgerEntry(prepay_key(order_id, provider_name), kind="PREPAY", order_id=order_id, provider=provider_name,
                amount=int(order.payable), checks=0, created_at=now, updated_at=now,
                reconcile_shard=reconcile_shard(order_id), check_after=now + RECONCILE_AFTER).save()
    provider = provider_for(provider_name)
    title = order.lines[0].title + (f" 等{len(order.lines)}件" if len(order.lines) > 1 else "")
    try:
        params = provider.prepay(providers.PrepayRequest(out_trade_no=order_id, description=title[:127],
                                                         amount=int(order.payable), payer_id=payer_id,
                                                         expires_at=order.expires_at))
    except providers.ProviderError as exc:
        if exc.provider_code not in ALREADY_PAID_CODES:
            raise
        # The buyer paid and the notification has not reached the mall (or was lost): the trade is under
        # reconciliation (its ledger entry above), which applies the payment; asking to pay again is a conflict.
        raise Conflict(f"order {order_id} is already paid at {provider_name}; it shows as paid once the payment "
                       "is confirmed", code="ORDER_ALREADY_PAID") from None
    return params


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


def sandbox_pay(user_id: str, order_id: str) -> OrderView:
    """Pay the buyer's order as WeChat Pay would: a signed, encrypted notification to our own webhook."""
    if not config.is_sandbox():
        raise NotFound("no such route", code="NOT_FOUND")
    order = load_order(order_id, user_id=user_id)
    if order.status != statuses.PENDING_PAYMENT:
        raise Conflict(f"order {order_id} is {order.status} and cannot be paid", code="ORDER_NOT_PAYABLE",
                       details={"status": order.status})
    from chalicelib.payments.providers import sandbox
    from chalicelib.payments.webhooks import handle_webhook

    headers, body = sandbox.twin("wechat").build_payment_notification(order_id, int(order.payable),
                                                                      payer_openid=f"sandbox-{user_id}")
    status, reply, _ = handle_webhook("wechat", headers, body)
    if status >= 300:
        raise ServiceUnavailable(f"the sandbox payment was not accepted: {reply}", code="SANDBOX_PAYMENT_FAILED")
    return order_view(load_order(order_id))
