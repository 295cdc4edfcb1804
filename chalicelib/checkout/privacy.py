"""A buyer's orders when the buyer exports or deletes their data (PIPL); members calls these.

An order outlives its buyer's account: it is the merchant's record of a sale, and the payments
ledger (payments, refunds, anomalies) names it. Erasing an account therefore keeps every order,
its lines, amounts, status, payment and refunds, and replaces what identifies the buyer in it:
the address snapshot becomes the redaction marker and the note is emptied. The `user_id` stays:
with the account's profile anonymised and its openid released, it names nobody, and it keeps the
buyer's coupons and points ledger lined up with the orders that spent them.
"""
from __future__ import annotations

from chalicelib.checkout import statuses
from chalicelib.checkout.models import OrderModel, ShippingAddress
from chalicelib.checkout.views import REDACTED, OrderView, order_view
from chalicelib.core import pii
from chalicelib.core.db import run_transaction

# An account is not erased while one of its orders may still move money or goods: it could be paid
# (unpaid and not expired), it is paid but not delivered, or a refund is asked for or under way.
HOLDS_MONEY_OR_GOODS = frozenset({statuses.PENDING_PAYMENT, statuses.AWAITING_GROUP, statuses.PAID, statuses.SHIPPED,
                                  statuses.REFUND_REQUESTED, statuses.REFUNDING, statuses.REFUND_FAILED})
SETTLED_REFUND = "SUCCESS"
PAGE = 100


def _orders_of(user_id: str):
    return OrderModel.by_buyer.query(user_id, scan_index_forward=False, page_size=PAGE)


def all_orders(user_id: str) -> list[OrderView]:
    """Every order of the buyer, newest first, as the buyer sees them."""
    return [order_view(order) for order in _orders_of(user_id)]


def orders_blocking_erasure(user_id: str) -> list[dict[str, str]]:
    """Orders that keep the account from being erased: HOLDS_MONEY_OR_GOODS, or a refund (also a returned
    payment) that has not succeeded yet."""
    blocking = []
    for order in _orders_of(user_id):
        unsettled = any(refund.status != SETTLED_REFUND for refund in order.refunds or [])
        if order.status in HOLDS_MONEY_OR_GOODS or unsettled:
            blocking.append({"order_id": order.order_id, "status": order.status})
    return blocking


def redact_orders(user_id: str) -> int:
    """Replace the address snapshot and note of each of the buyer's orders; returns how many changed.

    Each update touches only those two attributes (status, amounts and the ledger's fields stay),
    and each is idempotent (a resend after a lost reply writes the same marker); an order already
    redacted is skipped, so a DELETE resumed after a failure does only what is left.
    """
    changed = 0
    for order in _orders_of(user_id):
        if order.address is not None and order.address.address_id == REDACTED:
            continue
        with pii.owned_by(user_id):
            marker = ShippingAddress(address_id=REDACTED, name=REDACTED, phone=REDACTED, province=REDACTED,
                                     city=REDACTED, district=REDACTED, detail=REDACTED)

            def build(tx, order_id=order.order_id, marker=marker) -> None:
                tx.update(OrderModel(order_id), actions=[OrderModel.address.set(marker), OrderModel.note.set("")],
                          condition=OrderModel.user_id == user_id)

            run_transaction(build)
        changed += 1
    return changed
