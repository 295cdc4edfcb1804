"""Order moves: the allowed-transitions table, cancel, confirm, refund requests, payment, the sweeper."""
from __future__ import annotations

import pytest

from tests.checkout.conftest import pay, stock_of


def test_transition_table_only_moves_forward_and_ends_in_final_states():
    from chalicelib.checkout import statuses

    assert set(statuses.ALLOWED) == set(statuses.ALL)
    for final in (statuses.CANCELLED, statuses.REFUNDED):
        assert statuses.ALLOWED[final] == frozenset(), f"{final} must be final"
    # a completed order may only be asked to refund (after-sales, within MALL_REFUND_WINDOW_DAYS)
    assert statuses.ALLOWED[statuses.COMPLETED] == frozenset({statuses.REFUND_REQUESTED})
    assert statuses.allowed(statuses.PENDING_PAYMENT, statuses.PAID)
    assert not statuses.allowed(statuses.PAID, statuses.PENDING_PAYMENT)
    assert not statuses.allowed(statuses.SHIPPED, statuses.PAID)
    assert not statuses.allowed(statuses.CANCELLED, statuses.PAID)


def test_buyer_cancel_releases_the_reservation(shop, alice):
    sku = shop.sku(stock=5)
    order = alice.placed({sku: 2})
    response = alice.api.post(f"/orders/{order['order_id']}/cancel")
    assert response.status_code == 200, response.data
    assert response.data["status"] == "CANCELLED" and response.data["cancel_reason"] == "BUYER"
    assert response.data["expires_at"] is None and response.data["cancelled_at"]
    assert stock_of(sku) == {"available": 5, "reserved": 0, "sold": 0}


def test_cancelling_twice_is_409_and_releases_once(shop, alice):
    sku = shop.sku(stock=5)
    order = alice.placed({sku: 2})
    alice.api.post(f"/orders/{order['order_id']}/cancel")
    again = alice.api.post(f"/orders/{order['order_id']}/cancel")
    assert again.status_code == 409 and again.data["error"]["code"] == "INVALID_ORDER_STATUS"
    assert stock_of(sku)["available"] == 5


def test_payment_turns_the_reservation_into_a_sale(shop, alice):
    sku = shop.sku(stock=5)
    order = alice.placed({sku: 2})
    outcome = pay(order["order_id"])
    assert outcome.applied and outcome.order.status == "PAID"
    assert stock_of(sku) == {"available": 3, "reserved": 0, "sold": 2}
    seen = alice.api.get(f"/orders/{order['order_id']}").data
    assert seen["payment"]["transaction_id"] == "4200000000000000001" and seen["paid_at"]


def test_a_second_payment_changes_nothing(shop, alice):
    sku = shop.sku(stock=5)
    order = alice.placed({sku: 1})
    pay(order["order_id"])
    again = pay(order["order_id"], transaction_id="4200000000000000002")
    assert not again.applied and again.order.payment.transaction_id == "4200000000000000001"
    assert stock_of(sku) == {"available": 4, "reserved": 0, "sold": 1}


def test_paid_order_cannot_be_cancelled_by_the_buyer(shop, alice):
    order = alice.placed({shop.sku(): 1})
    pay(order["order_id"])
    response = alice.api.post(f"/orders/{order['order_id']}/cancel")
    assert response.status_code == 409 and response.data["error"]["details"]["status"] == "PAID"


def test_payment_for_a_cancelled_order_is_not_applied(shop, alice):
    sku = shop.sku(stock=5)
    order = alice.placed({sku: 1})
    alice.api.post(f"/orders/{order['order_id']}/cancel")
    outcome = pay(order["order_id"])
    assert not outcome.applied and outcome.order.status == "CANCELLED"
    assert stock_of(sku) == {"available": 5, "reserved": 0, "sold": 0}


def test_confirm_needs_a_shipped_order(shop, alice, staff):
    order = alice.placed({shop.sku(): 1})
    order_id = order["order_id"]
    early = alice.api.post(f"/orders/{order_id}/confirm")
    assert early.status_code == 409
    pay(order_id)
    staff.post(f"/admin/orders/{order_id}/ship", {"carrier": "顺丰", "tracking_no": "SF1234567890"})
    done = alice.api.post(f"/orders/{order_id}/confirm")
    assert done.status_code == 200 and done.data["status"] == "COMPLETED" and done.data["completed_at"]


def test_refund_request_needs_a_paid_order_and_keeps_the_reason(shop, alice):
    order = alice.placed({shop.sku(): 1})
    order_id = order["order_id"]
    unpaid = alice.api.post(f"/orders/{order_id}/refund", {"reason": "不想要了"})
    assert unpaid.status_code == 409
    pay(order_id)
    asked = alice.api.post(f"/orders/{order_id}/refund", {"reason": "不想要了"})
    assert asked.status_code == 200, asked.data
    assert asked.data["status"] == "REFUND_REQUESTED"
    assert asked.data["refund_request"]["reason"] == "不想要了" and asked.data["refund_request"]["decision"] is None
    twice = alice.api.post(f"/orders/{order_id}/refund", {"reason": "again"})
    assert twice.status_code == 409


def test_refund_request_needs_a_reason(shop, alice):
    order = alice.placed({shop.sku(): 1})
    pay(order["order_id"])
    response = alice.api.post(f"/orders/{order['order_id']}/refund", {})
    assert response.status_code == 400 and response.data["error"]["code"] == "VALIDATION_ERROR"


# --- the sweeper ----------------------------------------------------------------------------

def test_sweeper_cancels_unpaid_orders_after_the_timeout(shop, alice, frozen_clock):
    from chalicelib.checkout import sweeper

    sku = shop.sku(stock=5)
    order = alice.placed({sku: 2})
    frozen_clock.advance(899)
    assert sweeper.sweep_due_orders().expired == 0
    frozen_clock.advance(1)
    report = sweeper.sweep_due_orders()
    assert report.expired == 1
    seen = alice.api.get(f"/orders/{order['order_id']}").data
    assert (seen["status"], seen["cancel_reason"]) == ("CANCELLED", "TIMEOUT")
    assert stock_of(sku) == {"available": 5, "reserved": 0, "sold": 0}
    assert sweeper.sweep_due_orders().expired == 0, "a cancelled order left the due index"


def test_payment_timeout_is_configurable(shop, alice, frozen_clock, monkeypatch):
    from chalicelib.checkout import sweeper

    monkeypatch.setenv("MALL_ORDER_PAYMENT_TIMEOUT", "60")
    order = alice.placed({shop.sku(): 1})
    assert order["expires_at"] == "2026-11-25T04:01:00.000Z"
    frozen_clock.advance(60)
    assert sweeper.sweep_due_orders().expired == 1


def test_sweeper_leaves_paid_orders_alone(shop, alice, frozen_clock):
    from chalicelib.checkout import sweeper

    sku = shop.sku(stock=5)
    order = alice.placed({sku: 1})
    pay(order["order_id"])
    frozen_clock.advance(3600)
    assert sweeper.sweep_due_orders().expired == 0
    assert stock_of(sku) == {"available": 4, "reserved": 0, "sold": 1}


def test_sweeper_completes_shipped_orders_after_the_confirm_window(shop, alice, staff, frozen_clock, monkeypatch):
    from chalicelib.checkout import sweeper
    from chalicelib.checkout.orders import get_order

    monkeypatch.setenv("MALL_ORDER_AUTO_CONFIRM_DAYS", "3")
    order = alice.placed({shop.sku(): 1})
    pay(order["order_id"])
    staff.post(f"/admin/orders/{order['order_id']}/ship", {"carrier": "顺丰", "tracking_no": "SF1"})
    frozen_clock.advance(days=3, seconds=-1)
    assert sweeper.sweep_due_orders().completed == 0
    frozen_clock.advance(seconds=1)
    assert sweeper.sweep_due_orders().completed == 1
    assert get_order(None, order["order_id"]).status == "COMPLETED"


def test_sweeper_handles_more_than_one_page_across_shards(shop, alice, frozen_clock, monkeypatch):
    from chalicelib.checkout import sweeper

    monkeypatch.setattr(sweeper, "SWEEP_PAGE", 2)
    sku = shop.sku(stock=30)
    for _ in range(12):
        alice.placed({sku: 1})
    frozen_clock.advance(901)
    assert sweeper.sweep_due_orders().expired == 12
    assert stock_of(sku) == {"available": 30, "reserved": 0, "sold": 0}


def test_sweeper_stops_when_out_of_time(shop, alice, frozen_clock):
    from chalicelib.checkout import sweeper

    alice.placed({shop.sku(): 1})
    frozen_clock.advance(901)
    assert sweeper.sweep_due_orders(out_of_time=lambda: True).expired == 0
    assert sweeper.sweep_due_orders().expired == 1


def test_scheduled_sweeper_runs_through_the_event_pump(app, shop, alice, frozen_clock):
    from infra.local.pump import EventPump

    sku = shop.sku(stock=3)
    order = alice.placed({sku: 3})
    frozen_clock.advance(901)
    EventPump(app, raise_errors=True).run_schedules()
    from chalicelib.checkout.orders import get_order

    assert get_order(None, order["order_id"]).status == "CANCELLED"
    assert stock_of(sku)["available"] == 3


@pytest.mark.parametrize("setting,value", [("MALL_ORDER_PAYMENT_TIMEOUT", "0"), ("MALL_ORDER_AUTO_CONFIRM_DAYS", "0")])
def test_nonsense_timeouts_are_configuration_errors(setting, value, monkeypatch):
    from chalicelib.checkout import moves, service
    from chalicelib.core.config import ConfigError

    monkeypatch.setenv(setting, value)
    with pytest.raises(ConfigError):
        service.payment_timeout() if setting == "MALL_ORDER_PAYMENT_TIMEOUT" else moves.auto_confirm_after()
