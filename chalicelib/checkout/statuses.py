"""Order statuses and the one table of moves between them.

Every status change in the mall is a conditional update from the status read
to one this table allows (moves.py); nothing else writes `status`.
"""
from __future__ import annotations

PENDING_PAYMENT = "PENDING_PAYMENT"
AWAITING_GROUP = "AWAITING_GROUP"
PAID = "PAID"
SHIPPED = "SHIPPED"
COMPLETED = "COMPLETED"
CANCELLED = "CANCELLED"
REFUND_REQUESTED = "REFUND_REQUESTED"
REFUNDING = "REFUNDING"
REFUNDED = "REFUNDED"
REFUND_FAILED = "REFUND_FAILED"  # the provider closed or refused the buyer's refund; the merchant retries it

ALL = (PENDING_PAYMENT, AWAITING_GROUP, PAID, SHIPPED, COMPLETED, CANCELLED, REFUND_REQUESTED, REFUNDING, REFUNDED,
       REFUND_FAILED)

ALLOWED: dict[str, frozenset[str]] = {
    PENDING_PAYMENT: frozenset({PAID, AWAITING_GROUP, CANCELLED}),
    AWAITING_GROUP: frozenset({PAID, REFUNDING}),  # group completes, or fails and is refunded
    PAID: frozenset({SHIPPED, REFUND_REQUESTED, REFUNDING}),  # REFUNDING directly: a refund the merchant starts
    SHIPPED: frozenset({COMPLETED, REFUND_REQUESTED}),
    # approved, or rejected back to where it was
    REFUND_REQUESTED: frozenset({REFUNDING, PAID, SHIPPED, COMPLETED}),
    REFUNDING: frozenset({REFUNDED, REFUND_FAILED}),
    # retried under a new refund number, or a failed (ABNORMAL) refund the provider later completed after all
    REFUND_FAILED: frozenset({REFUNDING, REFUNDED}),
    # after-sales: a refund asked within MALL_REFUND_WINDOW_DAYS of completion (lifecycle.request_refund)
    COMPLETED: frozenset({REFUND_REQUESTED}),
    CANCELLED: frozenset(),
    REFUNDED: frozenset(),
}

# cancel_reason values
BY_BUYER, BY_TIMEOUT, BY_ADMIN, GROUP_FAILED = "BUYER", "TIMEOUT", "ADMIN", "GROUP_FAILED"


def allowed(current: str, target: str) -> bool:
    return target in ALLOWED.get(current, frozenset())
