"""A coupon at checkout: locked by the order's transaction, used by its payment, given back by its cancel,
expiry or full refund; explained in the preview; refused with a reason when it cannot apply."""
from __future__ import annotations

import pytest

from tests.checkout.conftest import stock_of
from tests.marketing.conftest import claimed, coupon_status, new_template, pay_in_sandbox, refund_in_full


def basket(buyer, items: dict[str, int], **more) -> dict:
    body = {"items": [{"sku_id": sku, "quantity": n} for sku, n in items.items()], **more}
    response = buyer.api.post("/orders/preview", body)
    assert response.status_code == 200, response.data
    return response.data


def test_an_order_with_a_coupon_shows_every_part_and_locks_the_coupon(shop, owner, alice):
    cheap, dear = shop.sku(price=3000), shop.sku(price=9000)
    coupon = claimed(alice, new_template(owner)["template_id"])
    order = alice.placed({cheap: 1, dear: 1}, coupon_id=coupon["coupon_id"])
    assert (order["items_total"], order["coupon_discount"], order["member_discount"], order["points_discount"]) == \
        (12000, 2000, 0, 0)
    assert order["discount_total"] == 2000 and order["shipping_fee"] == 0 and order["payable"] == 10000
    assert [line["coupon_discount"] for line in order["items"]] == [500, 1500], "pro rata over the lines"
    assert [line["paid"] for line in order["items"]] == [2500, 7500]
    assert order["coupon"] == {"coupon_id": coupon["coupon_id"], "template_id": coupon["template_id"],
                               "name": "满100减20", "discount": 2000}
    mine = alice.api.get("/marketing/coupons/mine?status=LOCKED").data["items"]
    assert [(c["coupon_id"], c["order_id"]) for c in mine] == [(coupon["coupon_id"], order["order_id"])]


def test_payment_uses_the_coupon_and_a_full_refund_gives_it_back(shop, owner, alice):
    sku = shop.sku(price=12000)
    coupon = claimed(alice, new_template(owner)["template_id"])
    order = alice.placed({sku: 1}, coupon_id=coupon["coupon_id"])
    pay_in_sandbox(alice, order["order_id"])
    assert coupon_status(alice, coupon["coupon_id"]) == "USED"
    used = alice.api.get("/marketing/coupons/mine?status=USED").data["items"][0]
    assert used["order_id"] == order["order_id"] and used["used_at"]
    refund_in_full(alice, owner, order["order_id"])
    assert coupon_status(alice, coupon["coupon_id"]) == "AVAILABLE", "a still-valid coupon comes back"
    again = alice.placed({sku: 1}, coupon_id=coupon["coupon_id"])
    assert again["coupon_discount"] == 2000


def test_a_refund_after_the_coupon_lapsed_leaves_it_expired(shop, owner, alice, frozen_clock):
    sku = shop.sku(price=12000)
    coupon = claimed(alice, new_template(owner, valid_days=1)["template_id"])
    order = alice.placed({sku: 1}, coupon_id=coupon["coupon_id"])
    pay_in_sandbox(alice, order["order_id"])
    frozen_clock.advance(days=2)
    refund_in_full(alice, owner, order["order_id"])
    from chalicelib.marketing.models import CouponModel

    assert CouponModel.get(alice.user_id, coupon["coupon_id"]).status == "EXPIRED"


def test_cancelling_gives_the_coupon_back(shop, owner, alice):
    sku = shop.sku(price=12000, stock=3)
    coupon = claimed(alice, new_template(owner)["template_id"])
    order = alice.placed({sku: 1}, coupon_id=coupon["coupon_id"])
    cancelled = alice.api.post(f"/orders/{order['order_id']}/cancel")
    assert cancelled.status_code == 200, cancelled.data
    assert coupon_status(alice, coupon["coupon_id"]) == "AVAILABLE"
    assert stock_of(sku) == {"available": 3, "reserved": 0, "sold": 0}


@pytest.mark.parametrize("lapsed, expected", [(False, "AVAILABLE"), (True, "EXPIRED")])
def test_an_expired_order_gives_the_coupon_back_unless_it_lapsed(app, shop, owner, alice, frozen_clock, lapsed,
                                                                   expected):
    from chalicelib.checkout import sweeper

    sku = shop.sku(price=12000)
    template = new_template(owner, valid_days=None, starts_at="2026-11-25T00:00:00Z",
                            ends_at="2026-11-25T04:10:00Z" if lapsed else "2026-12-25T00:00:00Z")
    coupon = claimed(alice, template["template_id"])
    alice.placed({sku: 1}, coupon_id=coupon["coupon_id"])
    frozen_clock.advance(minutes=16)
    assert sweeper.sweep_due_orders().expired == 1
    from chalicelib.marketing.models import CouponModel

    assert CouponModel.get(alice.user_id, coupon["coupon_id"]).status == expected


def test_another_buyers_coupon_is_404_and_touches_nothing(shop, owner, alice, bob):
    sku = shop.sku(price=12000, stock=3)
    coupon = claimed(alice, new_template(owner)["template_id"])
    response = bob.order({sku: 1}, coupon_id=coupon["coupon_id"])
    assert response.status_code == 404 and response.data["error"]["code"] == "COUPON_NOT_FOUND"
    preview = bob.api.post("/orders/preview", {"items": [{"sku_id": sku, "quantity": 1}],
                                               "coupon_id": coupon["coupon_id"]})
    assert preview.status_code == 404
    assert coupon_status(alice, coupon["coupon_id"]) == "AVAILABLE" and stock_of(sku)["reserved"] == 0


def test_a_locked_or_used_coupon_is_422_with_its_reason(shop, owner, alice):
    sku = shop.sku(price=12000)
    coupon = claimed(alice, new_template(owner)["template_id"])
    first = alice.placed({sku: 1}, coupon_id=coupon["coupon_id"])
    locked = alice.order({sku: 1}, coupon_id=coupon["coupon_id"])
    assert locked.status_code == 422 and locked.data["error"]["code"] == "COUPON_LOCKED"
    pay_in_sandbox(alice, first["order_id"])
    used = alice.order({sku: 1}, coupon_id=coupon["coupon_id"])
    assert used.status_code == 422 and used.data["error"]["code"] == "COUPON_USED"
    assert stock_of(sku)["reserved"] == 0


def test_an_expired_or_not_yet_valid_coupon_is_422(shop, owner, alice, frozen_clock):
    sku = shop.sku(price=12000)
    later = claimed(alice, new_template(owner, valid_days=None, starts_at="2026-11-27T00:00:00Z",
                                        ends_at="2026-11-28T00:00:00Z")["template_id"])
    early = alice.order({sku: 1}, coupon_id=later["coupon_id"])
    assert early.status_code == 422 and early.data["error"]["code"] == "COUPON_NOT_YET_VALID"
    frozen_clock.set("2026-11-28T00:00:00Z")
    late = alice.order({sku: 1}, coupon_id=later["coupon_id"])
    assert late.status_code == 422 and late.data["error"]["code"] == "COUPON_EXPIRED"


def test_below_minimum_spend_or_out_of_scope_is_422(shop, owner, alice):
    cheap = shop.product(prices=[5000])
    dear = shop.product(prices=[20000])
    spend = claimed(alice, new_template(owner)["template_id"])
    scoped = claimed(alice, new_template(owner, kind="NO_THRESHOLD", min_spend=None, amount_off=500,
                                         scope={"kind": "PRODUCTS", "ids": [dear.product_id]})["template_id"])
    below = alice.order({cheap.skus[0].sku_id: 1}, coupon_id=spend["coupon_id"])
    assert below.status_code == 422 and below.data["error"]["code"] == "COUPON_BELOW_MIN_SPEND"
    outside = alice.order({cheap.skus[0].sku_id: 1}, coupon_id=scoped["coupon_id"])
    assert outside.status_code == 422 and outside.data["error"]["code"] == "COUPON_OUT_OF_SCOPE"
    mixed = alice.placed({cheap.skus[0].sku_id: 1, dear.skus[0].sku_id: 1}, coupon_id=scoped["coupon_id"])
    assert [line["coupon_discount"] for line in mixed["items"]] == [0, 500], "only the in-scope line"


def test_a_category_coupon_applies_to_that_categorys_lines(shop, owner, alice):
    from chalicelib.catalog import service as catalog

    other = catalog.create_category("别的分类")
    inside = shop.product(prices=[6000])
    outside = catalog.create_product("别的商品", other.category_id, [{"specs": {"尺码": "M"}, "price": 6000, "stock": 5}])
    coupon = claimed(alice, new_template(owner, kind="PERCENT_OFF", amount_off=None, percent_off=50,
                                         max_discount=2000, min_spend=None,
                                         scope={"kind": "CATEGORIES", "ids": [shop.category_id]})["template_id"])
    order = alice.placed({inside.skus[0].sku_id: 1, outside.skus[0].sku_id: 1}, coupon_id=coupon["coupon_id"])
    assert [line["coupon_discount"] for line in order["items"]] == [2000, 0], "50% of 6000 capped at 2000"


def test_the_preview_judges_every_coupon_and_names_the_best(shop, owner, alice, frozen_clock):
    sku = shop.sku(price=6000)
    small = claimed(alice, new_template(owner, kind="NO_THRESHOLD", amount_off=500, min_spend=None)["template_id"])
    big = claimed(alice, new_template(owner, kind="PERCENT_OFF", amount_off=None, percent_off=20,
                                      min_spend=None)["template_id"])
    out = claimed(alice, new_template(owner, amount_off=2000, min_spend=20000)["template_id"])
    scoped = claimed(alice, new_template(owner, kind="NO_THRESHOLD", amount_off=900, min_spend=None,
                                         scope={"kind": "PRODUCTS", "ids": ["P-else"]})["template_id"])
    soon = claimed(alice, new_template(owner, valid_days=None, starts_at="2026-12-01T00:00:00Z",
                                       ends_at="2026-12-31T00:00:00Z")["template_id"])
    preview = basket(alice, {sku: 2})
    judged = {c["coupon_id"]: (c["applicable"], c["discount"], c["reason"]) for c in preview["coupons"]}
    assert judged == {small["coupon_id"]: (True, 500, None), big["coupon_id"]: (True, 2400, None),
                      out["coupon_id"]: (False, 0, "BELOW_MIN_SPEND"), scoped["coupon_id"]: (False, 0, "OUT_OF_SCOPE"),
                      soon["coupon_id"]: (False, 0, "NOT_YET_VALID")}
    assert preview["best_coupon_id"] == big["coupon_id"]
    assert preview["coupon_discount"] == 0 and preview["payable"] == 12000, "a preview without coupon_id applies none"
    chosen = basket(alice, {sku: 2}, coupon_id=big["coupon_id"])
    assert chosen["coupon_discount"] == 2400 and chosen["shipping_fee"] == 1000 and chosen["payable"] == 10600, \
        "9600 after the coupon is below the free-shipping threshold"
    frozen_clock.advance(days=31)
    from tests.conftest import buyer_token

    alice.api = alice.api.as_token(buyer_token(alice.user_id))
    expired = {c["coupon_id"]: c["reason"] for c in basket(alice, {sku: 2})["coupons"]}
    assert expired[small["coupon_id"]] == "EXPIRED"


def test_the_same_key_again_returns_the_order_with_its_coupon(shop, owner, alice):
    sku = shop.sku(price=12000)
    coupon = claimed(alice, new_template(owner)["template_id"])
    first = alice.order({sku: 1}, key="coupon-key-01", coupon_id=coupon["coupon_id"])
    second = alice.order({sku: 1}, key="coupon-key-01", coupon_id=coupon["coupon_id"])
    assert first.status_code == second.status_code == 201
    assert first.data["order_id"] == second.data["order_id"] and second.data["coupon_discount"] == 2000
