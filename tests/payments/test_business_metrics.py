"""Orders created, paid, refused for stock and payment notifications refused each leave one EMF metric line."""
from __future__ import annotations

from tests.payments.test_payment_flow import alice, notify, shop, wechat  # noqa: F401 - fixtures and helpers
from tests.unit.test_metrics import emf_names


def test_an_order_counts_created_and_its_payment_counts_paid(shop, alice, capsys):  # noqa: F811
    order = alice.placed({shop.sku(stock=5): 1})
    assert emf_names(capsys.readouterr().out) == ["OrdersCreated"]

    assert alice.api.post("/payments/sandbox/pay", {"order_id": order["order_id"]}).status_code == 200
    assert emf_names(capsys.readouterr().out) == ["OrdersPaid"]
    assert alice.api.post("/payments/sandbox/pay", {"order_id": order["order_id"]}).status_code == 409
    assert emf_names(capsys.readouterr().out) == []  # paid once, counted once


def test_a_short_sku_counts_out_of_stock(shop, alice, capsys):  # noqa: F811
    assert alice.order({shop.sku(stock=1): 2}).status_code == 409
    assert emf_names(capsys.readouterr().out) == ["OutOfStock"]


def test_a_forged_notification_counts_payment_rejected(client, shop, alice, capsys):  # noqa: F811
    order = alice.placed({shop.sku(): 1})
    headers, body = wechat().build_payment_notification(order["order_id"], order["payable"], "openid-alice")
    capsys.readouterr()
    assert notify(client, headers, body.replace(b'"TRANSACTION.SUCCESS"', b'"TRANSACTION.SUCCESS" ')).status_code == 401
    assert emf_names(capsys.readouterr().out) == ["PaymentRejected"]
