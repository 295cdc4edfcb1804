"""What applying a provider's message ends in, shared by the webhook, refund and reconciliation paths."""
from __future__ import annotations

from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)


class Refused(Exception):
    """A genuine notification the mall will not apply; the provider is told so (and retries)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Applied:
    outcome: str  # PAID, DUPLICATE, LATE_REFUND, GROUP_REFUNDED, ANOMALY_REFUNDED, REFUND_SETTLED, IGNORED
    order_id: str | None = None
