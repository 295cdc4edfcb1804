"""marketing test fixtures: an operator, buyers who order with coupons, payments' sandbox keys (orders are paid
and refunded through the real webhook path); the shop, the owner and the stream pump are tests/conftest.py's."""
from __future__ import annotations

import pytest

from tests.checkout.conftest import Buyer
from tests.conftest import Api, add_staff, staff_token
from tests.payments.conftest import keys_dir, session_keys  # noqa: F401  (fixtures: sandbox payments)


def operator_of(client) -> Api:
    """A real operator account (the staff gate refuses a token whose account does not exist) and its token."""
    add_staff("clerk", "operator")
    return client.as_token(staff_token("clerk", "operator"))


@pytest.fixture
def alice(client) -> Buyer:
    return Buyer(client, "U-alice")


@pytest.fixture
def bob(client) -> Buyer:
    return Buyer(client, "U-bob")


def new_template(owner: Api, **fields) -> dict:
    body = {"name": "满100减20", "kind": "AMOUNT_OFF", "amount_off": 2000, "min_spend": 10000, "total": 100,
            "per_user_limit": 1, "valid_days": 30, **fields}
    body = {key: value for key, value in body.items() if value is not None}
    response = owner.as_token(staff_token("boss", "owner")).post("/admin/coupon-templates", body)  # a fresh token
    assert response.status_code == 201, response.data
    return response.data


def claimed(buyer: Buyer, template_id: str) -> dict:
    response = buyer.api.post(f"/marketing/coupons/{template_id}/claim")
    assert response.status_code == 201, response.data
    return response.data


def coupon_status(buyer: Buyer, coupon_id: str) -> str:
    from chalicelib.marketing.models import CouponModel
    from chalicelib.marketing.views import shown_status

    return shown_status(CouponModel.get(buyer.user_id, coupon_id, consistent_read=True))


def pay_in_sandbox(buyer: Buyer, order_id: str) -> None:
    from chalicelib.checkout.orders import load_order

    response = buyer.api.post("/payments/sandbox/pay", {"order_id": order_id})
    assert response.status_code in (200, 204), response.data
    assert load_order(order_id).status == "PAID"


def refund_in_full(buyer: Buyer, owner: Api, order_id: str) -> None:
    from chalicelib.checkout.orders import load_order
    from tests.conftest import buyer_token

    # fresh tokens: tests move the clock past a token's lifetime before refunding
    asked = buyer.api.as_token(buyer_token(buyer.user_id)).post(f"/orders/{order_id}/refund", {"reason": "不想要了"})
    assert asked.status_code == 200, asked.data
    approved = owner.as_token(staff_token("boss", "owner")).post(f"/admin/orders/{order_id}/refund/approve")
    assert approved.status_code == 200, approved.data
    assert load_order(order_id).status == "REFUNDED"


def fresh(buyer: Buyer) -> Buyer:
    """The buyer with a new token (tests move the clock past a token's seven days)."""
    from tests.conftest import buyer_token

    buyer.api = buyer.api.as_token(buyer_token(buyer.user_id))
    return buyer


def completed(shop, buyer: Buyer, owner: Api, pump, *, price: int, **order_fields) -> dict:
    """An order of one unit at `price`, paid, shipped, confirmed by the buyer, its stream records delivered."""
    sku = shop.sku(price=price)
    order = buyer.placed({sku: 1}, **order_fields)
    pay_in_sandbox(buyer, order["order_id"])
    shipped = owner.as_token(staff_token("boss", "owner")).post(f"/admin/orders/{order['order_id']}/ship",
                                                                {"carrier": "顺丰", "tracking_no": "SF100"})
    assert shipped.status_code == 200, shipped.data
    confirmed = buyer.api.post(f"/orders/{order['order_id']}/confirm")
    assert confirmed.status_code == 200, confirmed.data
    pump.drain()
    return confirmed.data


def me(buyer: Buyer) -> dict:
    response = fresh(buyer).api.get("/me")
    assert response.status_code == 200, response.data
    return response.data


def ledger(buyer: Buyer) -> list[tuple[str, int]]:
    response = fresh(buyer).api.get("/me/points?limit=50")
    assert response.status_code == 200, response.data
    return [(entry["reason"], entry["delta"]) for entry in response.data["items"]][::-1]
