"""The providers as payments uses them: in sandbox mode, wired to hand what their twins send to the webhook code.

Its own module, apart from `webhooks`, so a prepay (a cold start's usual first request here) loads
the provider it signs with and not the webhook's path through checkout's lifecycle: a twin's
notification imports that path when one is delivered.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.payments import providers


def provider_for(name: str) -> providers.PaymentProvider:
    """The provider, wired (in sandbox mode) to deliver what its twin sends on its own to the webhook code."""
    return providers.provider(name, deliver=_deliverer(name))


def _deliverer(provider_name: str) -> Callable[[dict[str, str], bytes], Any]:
    def deliver(headers: dict[str, str], raw_body: bytes) -> tuple[int, str, str]:
        from chalicelib.payments.webhooks import handle_webhook

        return handle_webhook(provider_name, headers, raw_body)
    return deliver
