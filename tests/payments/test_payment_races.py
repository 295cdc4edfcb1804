"""A payment racing the expiry sweeper ends in exactly one of: paid, or cancelled with a full refund."""
from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cart.conftest import Shop
from tests.checkout.conftest import Buyer, stock_of

INTERLEAVINGS = ("pay_then_sweep", "sweep_then_pay", "sweep_between_payment_read_and_commit",
                 "payment_between_sweep_read_and_commit")


@pytest.fixture
def shop(app) -> Shop:
    return Shop()


@pytest.fixture
def buyer(client) -> Buyer:
    from chalicelib.members import service as members

    return Buyer(client, members.login("dev:racer").user.user_id)


def deliver(order_id: str, amount: int):
    from chalicelib.payments import service
    from chalicelib.payments.providers import sandbox

    headers, body = sandbox.twin("wechat").build_payment_notification(order_id, amount, "openid-racer")
    return service.handle_webhook("wechat", headers, body)


def assert_one_consistent_ending(order_id: str, sku: str, quantity: int, stock: int, payable: int) -> str:
    from chalicelib.checkout.orders import load_order

    order = load_order(order_id)
    levels = stock_of(sku)
    assert levels["available"] + levels["reserved"] + levels["sold"] == stock, levels
    if order.status == "PAID":
        assert order.refunds == [] and levels == {"available": stock - quantity, "reserved": 0, "sold": quantity}, \
            (order.status, order.refunds, levels)
    else:
        assert (order.status, order.cancel_reason) == ("CANCELLED", "TIMEOUT"), order.status
        assert order.payment is None
        assert [(int(r.amount), r.status) for r in order.refunds] == [(payable, "SUCCESS")], \
            "a cancelled order's payment is refunded exactly once"
        assert levels == {"available": stock, "reserved": 0, "sold": 0}, levels
    return order.status


@settings(max_examples=24, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(interleaving=st.sampled_from(INTERLEAVINGS), deliveries=st.integers(min_value=1, max_value=3))
def test_payment_and_sweeper_in_any_interleaving(shop, buyer, frozen_clock, monkeypatch, interleaving, deliveries):
    from chalicelib.checkout import lifecycle, moves, sweeper

    sku = shop.sku(stock=5)
    order = buyer.placed({sku: 2})
    order_id, payable = order["order_id"], order["payable"]
    frozen_clock.advance(900)  # due now: the sweeper may cancel it, and the payment is still in its window

    with monkeypatch.context() as patch:
        if interleaving == "sweep_between_payment_read_and_commit":
            real_pay = lifecycle.pay_order

            def pay_after_a_sweep(*args, **kwargs):
                sweeper.sweep_due_orders()
                patch.setattr(lifecycle, "pay_order", real_pay)
                return real_pay(*args, **kwargs)

            patch.setattr(lifecycle, "pay_order", pay_after_a_sweep)
        elif interleaving == "payment_between_sweep_read_and_commit":
            real_commit = moves.commit

            def commit_after_a_payment(*args, **kwargs):  # the sweeper's commit (it calls moves.commit)
                patch.setattr(moves, "commit", real_commit)
                deliver(order_id, payable)
                return real_commit(*args, **kwargs)

            patch.setattr(moves, "commit", commit_after_a_payment)

        if interleaving == "sweep_then_pay":
            sweeper.sweep_due_orders()
        if interleaving != "payment_between_sweep_read_and_commit":
            assert deliver(order_id, payable)[0] == 204
        sweeper.sweep_due_orders()
    for _ in range(deliveries - 1):
        assert deliver(order_id, payable)[0] == 204
    ending = assert_one_consistent_ending(order_id, sku, 2, 5, payable)
    # Whoever commits first wins; the other's conditional write fails and it re-reads.
    expected = "PAID" if interleaving in ("pay_then_sweep", "payment_between_sweep_read_and_commit") else "CANCELLED"
    assert ending == expected, (interleaving, ending)


@pytest.mark.parametrize("round_number", range(6))
def test_payment_and_sweeper_on_threads(shop, buyer, frozen_clock, atomic_dynamodb, round_number):
    from chalicelib.checkout import sweeper

    sku = shop.sku(stock=5)
    order = buyer.placed({sku: 1})
    frozen_clock.advance(900)
    start = threading.Barrier(3)
    replies = []

    def pay():
        start.wait()
        replies.append(deliver(order["order_id"], order["payable"])[0])

    def sweep():
        start.wait()
        sweeper.sweep_due_orders()

    threads = [threading.Thread(target=pay), threading.Thread(target=sweep), threading.Thread(target=sweep)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert replies == [204]
    assert_one_consistent_ending(order["order_id"], sku, 1, 5, order["payable"])
