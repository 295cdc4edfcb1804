"""Cancelling an unpaid order (buyer, staff or sweeper) closes the provider's trade first, so a cancelled order
cannot be paid; when the provider says the buyer paid first, the payment is applied instead of the cancel."""
from __future__ import annotations

import pytest

from tests.checkout.conftest import stock_of
from tests.payments.test_refund_lifecycle import order_of, twin


def provider(name: str):
    from chalicelib.payments.providers import provider as wired

    return wired(name)


def prepaid(shop, alice, quantity=1):
    sku = shop.sku(stock=5)
    order = alice.placed({sku: quantity})
    assert alice.api.post("/payments/prepay", {"order_id": order["order_id"]}).status_code == 200
    return sku, order


def sweep(app):
    from infra.local.pump import EventPump

    EventPump(app, raise_errors=True).run_schedules()


def test_a_buyer_cancel_closes_the_trade_so_it_cannot_be_paid(shop, alice):
    sku, order = prepaid(shop, alice)
    response = alice.api.post(f"/orders/{order['order_id']}/cancel")
    assert response.status_code == 200 and response.data["status"] == "CANCELLED"
    assert provider("wechat").query(order["order_id"]).status == "CLOSED", "WeChat must not take this payment"
    with pytest.raises(ValueError):
        twin("wechat").build_payment_notification(order["order_id"], order["payable"], "openid-alice")
    assert stock_of(sku) == {"available": 5, "reserved": 0, "sold": 0}


def test_a_buyer_cancel_after_paying_applies_the_payment_instead(shop, alice):
    sku, order = prepaid(shop, alice, quantity=2)
    twin("wechat").build_payment_notification(order["order_id"], order["payable"], "openid-alice")  # not delivered
    response = alice.api.post(f"/orders/{order['order_id']}/cancel")
    assert response.status_code == 409 and response.data["error"]["details"]["status"] == "PAID"
    assert order_of(order["order_id"]).status == "PAID"
    assert stock_of(sku) == {"available": 3, "reserved": 0, "sold": 2}
    assert order_of(order["order_id"]).refunds == [], "the money is the order's, nothing to return"


def test_a_staff_cancel_closes_the_trade(client, shop, alice, staff):
    _, order = prepaid(shop, alice)
    response = staff.post(f"/admin/orders/{order['order_id']}/cancel")
    assert response.status_code == 200 and response.data["status"] == "CANCELLED"
    assert provider("wechat").query(order["order_id"]).status == "CLOSED"


def test_the_sweeper_closes_the_trade_of_what_it_cancels(app, shop, alice, frozen_clock):
    _, order = prepaid(shop, alice)
    frozen_clock.advance(901)
    sweep(app)
    assert order_of(order["order_id"]).status == "CANCELLED"
    assert provider("wechat").query(order["order_id"]).status == "CLOSED"


def test_the_sweeper_applies_a_payment_it_finds_instead_of_cancelling(app, shop, alice, frozen_clock):
    sku, order = prepaid(shop, alice)
    twin("wechat").build_payment_notification(order["order_id"], order["payable"], "openid-alice")  # not delivered
    frozen_clock.advance(901)
    sweep(app)
    assert order_of(order["order_id"]).status == "PAID"
    assert stock_of(sku)["sold"] == 1 and order_of(order["order_id"]).refunds == []


def test_the_sweeper_leaves_an_order_whose_trade_cannot_be_closed_yet(app, shop, alice, frozen_clock, monkeypatch):
    from chalicelib.payments.providers import ProviderError
    from chalicelib.payments.providers.wechatpay import WeChatPay

    _, order = prepaid(shop, alice)

    def down(self, out_trade_no):
        raise ProviderError("WeChat Pay unreachable", provider="wechat", retryable=True)

    monkeypatch.setattr(WeChatPay, "close", down)
    frozen_clock.advance(901)
    sweep(app)
    assert order_of(order["order_id"]).status == "PENDING_PAYMENT", "not cancelled while it might still be paid"
    monkeypatch.undo()
    frozen_clock.advance(60)
    sweep(app)
    assert order_of(order["order_id"]).status == "CANCELLED"


def test_an_order_never_sent_to_a_provider_is_cancelled_without_asking_one(shop, alice, monkeypatch):
    from chalicelib.payments.providers.alipay import Alipay
    from chalicelib.payments.providers.wechatpay import WeChatPay

    def unexpected(self, out_trade_no):
        raise AssertionError("no trade was opened: no provider should be asked")

    monkeypatch.setattr(WeChatPay, "close", unexpected)
    monkeypatch.setattr(Alipay, "close", unexpected)
    order = alice.placed({shop.sku(): 1})
    assert alice.api.post(f"/orders/{order['order_id']}/cancel").data["status"] == "CANCELLED"
