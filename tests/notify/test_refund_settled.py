"""REFUND_SETTLED end to end: paid in the sandbox, refund asked and approved, the provider's REFUND.SUCCESS
settles it, and the buyer is told once with the amount refunded."""
from __future__ import annotations

from tests.notify.conftest import notifications, subscribe
from tests.payments.conftest import keys_dir, session_keys  # noqa: F401 - the payment sandbox's keys


def test_a_settled_refund_is_announced_once_with_its_amount(shop, admin, alice, pump, sandbox_wechat, keys_dir):  # noqa: F811
    from chalicelib.checkout.orders import load_order

    response = admin.put("/admin/notification-templates/REFUND_SETTLED", {
        "template_id": "tmpl-refunded", "fields": [{"key": "amount1", "source": "refund_amount"},
                                                   {"key": "character_string2", "source": "order_id"}]})
    assert response.status_code == 200, response.data
    subscribe(alice, "tmpl-refunded", times=2)
    order = alice.placed({shop.sku(price=12000): 1})
    assert alice.api.post("/payments/sandbox/pay", {"order_id": order["order_id"]}).status_code == 200
    assert alice.api.post(f"/orders/{order['order_id']}/refund", {"reason": "拍错了"}).status_code == 200
    approved = admin.post(f"/admin/orders/{order['order_id']}/refund/approve")
    assert approved.status_code == 200, approved.data
    assert load_order(order["order_id"]).status == "REFUNDED"

    pump.drain()

    [refunded] = notifications("REFUND_SETTLED", order["order_id"])
    assert refunded.status == "SENT"
    assert refunded.data == {"amount1": "¥120.00", "character_string2": order["order_id"]}
    assert len(sandbox_wechat.deliveries) == 1
