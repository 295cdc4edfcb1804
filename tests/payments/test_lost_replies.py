"""Payments' writes whose reply is lost after they committed (botocore then resends them, and the resend fails
its own conditions): each finds its own commit, so the outcome is the one that happened, once. A returned
payment is still sent back at once, a refund's result still reaches the merchant and the metrics, a retry
is still the retry."""
from __future__ import annotations

from tests.checkout.conftest import stock_of
from tests.faults import reply_lost_after_commit
from tests.payments.test_payment_flow import alice, notify, order_of, shop, staff, wechat  # noqa: F401 - fixtures
from tests.payments.test_refund_lifecycle import metrics_emitted, reconcile, refunds_of


def cancelled_order(shop, buyer, frozen_clock) -> dict:  # noqa: F811
    from chalicelib.checkout import sweeper

    order = buyer.placed({shop.sku(stock=5): 2})
    frozen_clock.advance(901)
    assert sweeper.sweep_due_orders().expired == 1
    return order


def late_payment(client, order: dict):
    return notify(client, *wechat().build_payment_notification(order["order_id"], order["payable"], "openid-alice"))


def anomaly_codes(staff) -> list[str]:  # noqa: F811
    return [a["code"] for a in staff.get("/admin/payments/anomalies").data["items"]]


def test_a_payment_whose_reply_was_lost_pays_the_order_once(client, shop, alice, capsys):  # noqa: F811
    sku = shop.sku(stock=5)
    order = alice.placed({sku: 2})
    capsys.readouterr()
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = notify(client, *wechat().build_payment_notification(order["order_id"], order["payable"], "o"))
    assert lost and response.status_code == 204, response.data
    paid = order_of(order["order_id"])
    assert (paid.status, paid.refunds) == ("PAID", []), "the resent payment is the payment, not a second one"
    assert stock_of(sku) == {"available": 3, "reserved": 0, "sold": 2}
    assert [name for name, _ in metrics_emitted(capsys)] == ["OrdersPaid"]


def test_a_prepay_whose_ledger_reply_was_lost_still_answers(shop, alice):  # noqa: F811
    from chalicelib.payments.ledger import prepay_key
    from chalicelib.payments.models import LedgerEntry

    order = alice.placed({shop.sku(): 1})
    with reply_lost_after_commit("PutItem") as lost:
        response = alice.api.post("/payments/prepay", {"order_id": order["order_id"]})
    assert lost and response.status_code == 200, response.data
    assert LedgerEntry.get(prepay_key(order["order_id"], "wechat")).kind == "PREPAY"


def test_a_late_payment_whose_record_reply_was_lost_is_returned_at_once(client, shop, alice, frozen_clock):  # noqa: F811
    order = cancelled_order(shop, alice, frozen_clock)
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = late_payment(client, order)
    assert lost and response.status_code == 204
    assert order_of(order["order_id"]).status == "CANCELLED"
    [(number, amount, status)] = refunds_of(order["order_id"])
    assert (amount, status) == (order["payable"], "SUCCESS"), \
        "the refund is asked for at once, not left to the reconciler as if a duplicate had recorded it"


def test_a_returned_payments_failure_whose_reply_was_lost_reaches_the_merchant(client, shop, alice, staff,  # noqa: F811
                                                                             frozen_clock, capsys):
    order = cancelled_order(shop, alice, frozen_clock)
    wechat().script_refunds(order["order_id"], "CLOSED")
    capsys.readouterr()
    with reply_lost_after_commit("TransactWriteItems", skip=1) as lost:  # the record commits; the CLOSED result's is lost
        late_payment(client, order)
    assert lost
    [(_, _, status)] = refunds_of(order["order_id"])
    assert status == "CLOSED"
    assert "REFUND_CLOSED" in anomaly_codes(staff), "the merchant must see the money that did not go back"
    assert ("RefundFailed", {"provider": "wechat", "reason": "CLOSED"}) in metrics_emitted(capsys)


def test_a_retry_of_a_returned_payment_whose_reply_was_lost_is_the_retry(client, shop, alice, staff,  # noqa: F811
                                                                       frozen_clock):
    order = cancelled_order(shop, alice, frozen_clock)
    wechat().script_refunds(order["order_id"], "CLOSED")
    late_payment(client, order)
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = staff.post(f"/admin/orders/{order['order_id']}/refund/retry")
    assert lost and response.status_code == 200, response.data
    [(first, _, closed), (second, amount, status)] = refunds_of(order["order_id"])
    assert (closed, second, amount, status) == ("CLOSED", f"{first}-2", order["payable"], "SUCCESS"), \
        "the new number is recorded once and asked for at once"


def test_a_refund_the_reconciler_settles_with_its_reply_lost_is_counted(client, shop, alice, frozen_clock,  # noqa: F811
                                                                     capsys):
    order = cancelled_order(shop, alice, frozen_clock)
    wechat().script_refunds(order["order_id"], "LOST")
    late_payment(client, order)
    frozen_clock.advance(181)
    capsys.readouterr()
    with reply_lost_after_commit("TransactWriteItems") as lost:
        report = reconcile()
    assert lost and report.refunds_settled == 1, report
    [(_, _, status)] = refunds_of(order["order_id"])
    assert status == "SUCCESS"
    assert ("RefundIssued", {"provider": "wechat"}) in metrics_emitted(capsys)


def test_an_anomaly_whose_reply_was_lost_is_recorded_and_counted_once(client, shop, alice, staff, capsys):  # noqa: F811
    order = alice.placed({shop.sku(): 1})
    capsys.readouterr()
    with reply_lost_after_commit("PutItem") as lost:
        notify(client, *wechat().build_payment_notification(order["order_id"], order["payable"] - 1, "o"))
    assert lost
    assert anomaly_codes(staff) == ["AMOUNT_MISMATCH"]
    assert [dims for name, dims in metrics_emitted(capsys) if name == "PaymentAnomaly"] == [
        {"code": "AMOUNT_MISMATCH", "provider": "wechat"}]
