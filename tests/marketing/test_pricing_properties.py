"""The one pricing function: for any basket, member discount, coupon and points, every part adds up.

Hypothesis draws baskets, levels, coupons of every kind and scope, and any points; `price` either refuses
(the coupon does not apply, or more points than the basket may take) or returns a breakdown whose every
part is consistent.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.checkout.pricing import (
    AMOUNT_OFF,
    NO_THRESHOLD,
    PERCENT_OFF,
    CouponRule,
    allocate,
    coupon_verdict,
    price,
)
from chalicelib.core.errors import Unprocessable

line_totals = st.lists(st.integers(min_value=1, max_value=5_000_000), min_size=1, max_size=45)
rules = st.one_of(
    st.builds(CouponRule, kind=st.just(AMOUNT_OFF), amount_off=st.integers(1, 1_000_000),
              min_spend=st.integers(0, 2_000_000)),
    st.builds(CouponRule, kind=st.just(NO_THRESHOLD), amount_off=st.integers(1, 1_000_000)),
    st.builds(CouponRule, kind=st.just(PERCENT_OFF), percent_off=st.integers(1, 99),
              max_discount=st.none() | st.integers(1, 1_000_000), min_spend=st.integers(0, 2_000_000)),
)


@st.composite
def baskets(draw):
    totals = draw(line_totals)
    coupon = draw(st.none() | rules)
    scope = draw(st.lists(st.booleans(), min_size=len(totals), max_size=len(totals)))
    return {"totals": totals, "member_percent": draw(st.integers(0, 100)), "coupon": coupon, "in_scope": scope,
            "points": draw(st.integers(0, 10_000_000) | st.just(0)), "points_share": draw(st.integers(0, 100)),
            "shipping": draw(st.integers(0, 5000)), "free_from": draw(st.integers(0, 20_000_000))}


@settings(max_examples=400, deadline=None)
@given(baskets())
def test_every_part_of_a_price_adds_up_and_payable_stays_in_bounds(basket):
    totals = basket.pop("totals")
    try:
        result = price(totals, **basket)
    except Unprocessable as refused:
        assert refused.code in ("POINTS_EXCEED_LIMIT", "COUPON_BELOW_MIN_SPEND", "COUPON_OUT_OF_SCOPE"), refused.code
        return
    items_total = sum(totals)
    assert result.items_total == items_total
    assert 0 <= result.payable <= items_total + basket["shipping"], result
    assert result.discount_total == result.member_discount + result.coupon_discount + result.points_discount
    assert result.payable == items_total - result.discount_total + result.shipping_fee
    assert sum(line.member for line in result.lines) == result.member_discount
    assert sum(line.coupon for line in result.lines) == result.coupon_discount
    assert sum(line.points for line in result.lines) == result.points_discount == basket["points"]
    for line, total, inside in zip(result.lines, totals, basket["in_scope"], strict=True):
        assert 0 <= line.discount <= total, f"line of {total} discounted {line.discount}"
        assert min(line.member, line.coupon, line.points) >= 0
        if basket["coupon"] is not None and not inside:
            assert line.coupon == 0, "a coupon discounts only its in-scope lines"
    assert result.points_discount <= items_total * basket["points_share"] // 100
    assert result.shipping_fee in (0, basket["shipping"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 10**7), min_size=1, max_size=45), st.data())
def test_allocation_sums_exactly_and_never_exceeds_a_weight(weights, data):
    amount = data.draw(st.integers(0, sum(weights)))
    parts = allocate(amount, weights)
    assert sum(parts) == amount
    assert all(0 <= part <= weight for part, weight in zip(parts, weights, strict=True))


def test_member_discount_is_rounded_down_per_line():
    result = price([999, 999], member_percent=5, shipping=0)
    assert [line.member for line in result.lines] == [49, 49] and result.member_discount == 98


def test_a_coupons_minimum_spend_is_judged_after_the_member_discount():
    rule = CouponRule(kind=AMOUNT_OFF, amount_off=2000, min_spend=10000)
    assert price([10000], coupon=rule).coupon_discount == 2000
    with pytest.raises(Unprocessable) as refused:
        price([10000], member_percent=5, coupon=rule)
    assert refused.value.code == "COUPON_BELOW_MIN_SPEND"


def test_percent_off_is_capped_and_no_threshold_never_exceeds_the_lines():
    assert coupon_verdict(CouponRule(kind=PERCENT_OFF, percent_off=20, max_discount=1500), 10000) == (1500, None)
    assert coupon_verdict(CouponRule(kind=PERCENT_OFF, percent_off=20), 10000) == (2000, None)
    assert coupon_verdict(CouponRule(kind=NO_THRESHOLD, amount_off=5000), 3000) == (3000, None)
    assert coupon_verdict(CouponRule(kind=NO_THRESHOLD, amount_off=5000), 0) == (0, "OUT_OF_SCOPE")


def test_points_are_capped_by_the_share_and_by_what_is_left():
    assert price([10000], points=5000, points_share=50).points_max == 5000
    with pytest.raises(Unprocessable) as refused:
        price([10000], points=5001, points_share=50)
    assert refused.value.code == "POINTS_EXCEED_LIMIT" and refused.value.details == {"points_max": 5000}
    everything_off = CouponRule(kind=NO_THRESHOLD, amount_off=9000)
    assert price([10000], coupon=everything_off, points_share=50).points_max == 1000


def test_shipping_is_free_from_the_threshold_on_the_discounted_amount():
    assert price([10000], shipping=1000, free_from=9900).shipping_fee == 0
    assert price([10000], points=200, points_share=50, shipping=1000, free_from=9900).shipping_fee == 1000
