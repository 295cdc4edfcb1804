"""Member levels: the merchant's five levels, growth credited on completion and taken back on refund, the
level (and its discount) following growth both ways."""
from __future__ import annotations

import pytest

from tests.conftest import buyer_token
from tests.marketing.conftest import Buyer, completed, me, operator_of, refund_in_full

LEVELS = [{"level": 1, "name": "普通", "growth_threshold": 0, "discount_percent": 0},
          {"level": 2, "name": "白银", "growth_threshold": 100, "discount_percent": 5},
          {"level": 3, "name": "黄金", "growth_threshold": 300, "discount_percent": 10},
          {"level": 4, "name": "铂金", "growth_threshold": 1000, "discount_percent": 15},
          {"level": 5, "name": "钻石", "growth_threshold": 5000, "discount_percent": 20}]


@pytest.fixture
def member(client) -> Buyer:
    from chalicelib.members import service as members

    return Buyer(client, members.login("dev:member").user.user_id)


def test_defaults_stand_until_the_merchant_saves_levels(client, owner):
    public = client.get("/marketing/member-levels")
    assert public.status_code == 200 and public.data["version"] == 0
    assert [level["growth_threshold"] for level in public.data["levels"]] == [0, 500, 2000, 5000, 20000]
    saved = owner.put("/admin/member-levels", {"levels": LEVELS})
    assert saved.status_code == 200 and saved.data["version"] == 1, saved.data
    assert client.get("/marketing/member-levels").data["levels"] == LEVELS
    assert owner.get("/admin/member-levels").data["levels"] == LEVELS


@pytest.mark.parametrize("change, code", [
    (lambda levels: levels[:4], "VALIDATION_ERROR"),
    (lambda levels: [dict(levels[0], growth_threshold=1)] + levels[1:], "INVALID_LEVELS"),
    (lambda levels: levels[:2] + [dict(levels[2], growth_threshold=100)] + levels[3:], "INVALID_LEVELS"),
    (lambda levels: levels[:4] + [dict(levels[4], discount_percent=101)], "VALIDATION_ERROR"),
    (lambda levels: levels[:4] + [dict(levels[4], discount_percent=1)], "INVALID_LEVELS"),
    (lambda levels: [levels[1], levels[0]] + levels[2:], "INVALID_LEVELS"),
    (lambda levels: levels[:4] + [dict(levels[4], growth_threshold="5000")], "VALIDATION_ERROR"),
])
def test_levels_that_make_no_sense_are_400(owner, change, code):
    response = owner.put("/admin/member-levels", {"levels": change([dict(level) for level in LEVELS])})
    assert response.status_code == 400 and response.data["error"]["code"] == code, response.data


def test_only_an_owner_sets_levels(client, owner):
    assert client.put("/admin/member-levels", {"levels": LEVELS}).status_code == 401
    assert client.as_token(buyer_token()).put("/admin/member-levels", {"levels": LEVELS}).status_code == 403
    operator = operator_of(client)
    assert operator.put("/admin/member-levels", {"levels": LEVELS}).status_code == 403
    assert operator.get("/admin/member-levels").status_code == 200


def test_the_member_discount_comes_off_every_line_before_the_coupon(shop, owner, member):
    owner.put("/admin/member-levels", {"levels": [dict(LEVELS[0], discount_percent=5)] + LEVELS[1:]})
    one, two = shop.sku(price=999), shop.sku(price=5001)
    order = member.placed({one: 1, two: 2})
    assert [line["member_discount"] for line in order["items"]] == [49, 500], "5% of each line, rounded down"
    assert (order["member_discount"], order["member_level"]) == (549, 1)
    assert order["payable"] == 999 + 10002 - 549


def test_growth_follows_completed_and_refunded_orders_and_the_level_follows_both_ways(shop, owner, member, pump):
    owner.put("/admin/member-levels", {"levels": LEVELS})
    first = completed(shop, member, owner, pump, price=20000)
    assert (me(member)["growth"], me(member)["level"]) == (200, 2)
    second = completed(shop, member, owner, pump, price=15000)
    assert second["member_discount"] == 750 and second["payable"] == 14250, "level 2 already takes 5% off"
    profile = me(member)
    assert (profile["growth"], profile["level"], profile["level_name"], profile["discount_percent"]) == \
        (342, 3, "黄金", 10)
    refund_in_full(member, owner, first["order_id"])
    pump.drain()
    assert (me(member)["growth"], me(member)["level"]) == (142, 2), "the refund took its growth back"
    pump.drain()
    assert me(member)["growth"] == 142, "a redelivered record changes nothing"


def test_a_refund_window_closes_after_the_configured_days(shop, owner, member, pump, frozen_clock):
    order = completed(shop, member, owner, pump, price=20000)
    frozen_clock.advance(days=7, seconds=1)
    late = member.api.as_token(buyer_token(member.user_id)).post(f"/orders/{order['order_id']}/refund",
                                                                 {"reason": "太晚了"})
    assert late.status_code == 409 and late.data["error"]["code"] == "REFUND_WINDOW_CLOSED"


def test_a_rejected_after_sales_request_returns_the_order_to_completed(shop, owner, member, pump):
    order = completed(shop, member, owner, pump, price=20000)
    assert member.api.post(f"/orders/{order['order_id']}/refund", {"reason": "坏了"}).status_code == 200
    rejected = owner.post(f"/admin/orders/{order['order_id']}/refund/reject", {"reason": "人为损坏"})
    assert rejected.status_code == 200 and rejected.data["status"] == "COMPLETED", rejected.data
    pump.drain()
    assert me(member)["growth"] == 200
