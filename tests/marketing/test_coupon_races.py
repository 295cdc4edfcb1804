"""Coupon races with real threads against moto, each DynamoDB call atomic (`atomic_dynamodb`), repeated:
thirty buyers claiming the last coupon get exactly one; one coupon on five parallel orders makes one order."""
from __future__ import annotations

from collections import Counter

import pytest

from chalicelib.checkout import service
from chalicelib.marketing import service as coupons
from tests.checkout.test_races import race, submission
from tests.marketing.conftest import Buyer, claimed, coupon_status, new_template

ROUNDS = 5


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_thirty_buyers_claiming_the_last_coupon_get_exactly_one(owner, atomic_dynamodb, round_):
    template = new_template(owner, total=3, per_user_limit=1)
    for early in ("U-early-1", "U-early-2"):
        coupons.claim(early, template["template_id"])
    buyers = [f"U-racer-{n}" for n in range(30)]
    outcomes = race([lambda b=b: coupons.claim(b, template["template_id"]) for b in buyers])
    won = [outcome for outcome in outcomes if not isinstance(outcome, str)]
    assert len(won) == 1, f"expected one winner of the last coupon, got {len(won)}"
    assert Counter(o for o in outcomes if isinstance(o, str)) == {"SOLD_OUT": 29}
    view = owner.get(f"/admin/coupon-templates/{template['template_id']}").data
    assert (view["claimed"], view["remaining"]) == (3, 0)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_one_buyer_claiming_at_once_stays_within_the_per_buyer_limit(owner, atomic_dynamodb, round_):
    template = new_template(owner, total=100, per_user_limit=2)
    outcomes = race([lambda: coupons.claim("U-greedy", template["template_id"]) for _ in range(10)])
    assert len([o for o in outcomes if not isinstance(o, str)]) == 2
    assert Counter(o for o in outcomes if isinstance(o, str)) == {"LIMIT_REACHED": 8}


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_one_coupon_on_five_parallel_orders_makes_exactly_one_order(client, shop, owner, atomic_dynamodb, round_):
    buyer = Buyer(client, f"U-spender-{round_}")
    sku = shop.sku(price=12000, stock=50)
    coupon = claimed(buyer, new_template(owner)["template_id"])
    request = submission(buyer, {sku: 1}).model_copy(update={"coupon_id": coupon["coupon_id"]})
    outcomes = race([lambda n=n: service.submit_order(buyer.user_id, request, f"race-key-{round_}-{n}")
                     for n in range(5)])
    orders = [outcome for outcome in outcomes if not isinstance(outcome, str)]
    assert len(orders) == 1, f"expected one order with the coupon, got {len(orders)}: {outcomes}"
    assert Counter(o for o in outcomes if isinstance(o, str)) == {"COUPON_LOCKED": 4}
    assert orders[0].coupon_discount == 2000 and coupon_status(buyer, coupon["coupon_id"]) == "LOCKED"
    from tests.checkout.conftest import stock_of

    assert stock_of(sku)["reserved"] == 1, "the refused orders reserved nothing"
