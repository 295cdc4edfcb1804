"""Points: earned frozen on completion, released when the refund window closes, spent inside the order's
transaction, returned on cancel, clawed back on refund (never below zero), expired oldest first."""
from __future__ import annotations

from collections import Counter

import pytest

from chalicelib.members import effects
from tests.marketing.conftest import Buyer, completed, fresh, ledger, me, operator_of, pay_in_sandbox, refund_in_full

ROUNDS = 5


@pytest.fixture
def member(client) -> Buyer:
    from chalicelib.members import service as members

    return Buyer(client, members.login("dev:member").user.user_id)


def released_points(shop, member, owner, pump, frozen_clock, *, price: int) -> dict:
    """A completed order whose refund window has closed and whose points the schedule released."""
    order = completed(shop, fresh(member), owner, pump, price=price)
    frozen_clock.advance(days=7, seconds=1)
    effects.run_points_schedule()
    fresh(member)
    return order


def test_points_are_earned_frozen_and_released_when_the_refund_window_closes(shop, owner, member, pump,
                                                                             frozen_clock):
    completed(shop, member, owner, pump, price=20050)
    assert (me(member)["points"], me(member)["frozen_points"]) == (0, 200), "1 point per whole yuan paid, frozen"
    frozen_clock.advance(days=6)
    assert effects.run_points_schedule() == {"released": 0, "expired": 0}
    frozen_clock.advance(days=1, seconds=1)
    assert effects.run_points_schedule() == {"released": 1, "expired": 0}
    assert effects.run_points_schedule() == {"released": 0, "expired": 0}, "released once"
    assert (me(member)["points"], me(member)["frozen_points"]) == (200, 0)
    page = fresh(member).api.get("/me/points").data
    assert page["balance"] == 200 and page["items"][0]["status"] == "RELEASED"
    assert page["items"][0]["expires_at"] == "2027-11-25T04:00:00.000Z"


def test_spending_points_shows_on_the_order_and_a_cancel_gives_them_back(shop, owner, member, pump, frozen_clock):
    released_points(shop, member, owner, pump, frozen_clock, price=20000)
    sku = shop.sku(price=12000)
    preview = member.api.post("/orders/preview", {"items": [{"sku_id": sku, "quantity": 1}], "points": 150}).data
    assert (preview["points_balance"], preview["points_max"], preview["points_discount"]) == (200, 6000, 150)
    order = member.placed({sku: 1}, points=150)
    assert (order["points_discount"], order["discount_total"], order["payable"]) == (150, 150, 11850)
    assert sum(line["points_discount"] for line in order["items"]) == 150
    assert me(member)["points"] == 50
    assert member.api.post(f"/orders/{order['order_id']}/cancel").status_code == 200
    pump.drain()
    assert me(member)["points"] == 200
    assert ledger(member) == [("ORDER_COMPLETED", 200), ("REDEEMED", -150), ("REDEMPTION_RETURNED", 150)]


def test_an_expired_order_gives_its_points_back(shop, owner, member, pump, frozen_clock):
    from chalicelib.checkout import sweeper

    released_points(shop, member, owner, pump, frozen_clock, price=20000)
    member.placed({shop.sku(price=12000): 1}, points=100)
    frozen_clock.advance(minutes=16)
    assert sweeper.sweep_due_orders().expired == 1
    pump.drain()
    assert me(member)["points"] == 200


def test_points_beyond_the_share_or_the_balance_are_422(shop, owner, member, pump, frozen_clock):
    released_points(shop, member, owner, pump, frozen_clock, price=20000)
    small = shop.sku(price=300)
    too_many = member.order({small: 1}, points=151)
    assert too_many.status_code == 422 and too_many.data["error"]["code"] == "POINTS_EXCEED_LIMIT"
    assert too_many.data["error"]["details"] == {"points_max": 150}
    broke = member.order({shop.sku(price=90000): 1}, points=201)
    assert broke.status_code == 422 and broke.data["error"]["code"] == "INSUFFICIENT_POINTS"
    assert member.order({small: 1}, points=-1).status_code == 400
    assert member.order({small: 1}, points="5").status_code == 400


def test_coupon_and_points_together_never_make_payable_negative(shop, owner, member, pump, frozen_clock):
    from tests.marketing.conftest import claimed, new_template

    released_points(shop, member, owner, pump, frozen_clock, price=20000)
    sku = shop.sku(price=1000)
    coupon = claimed(member, new_template(owner, kind="NO_THRESHOLD", amount_off=800, min_spend=None)["template_id"])
    over = member.order({sku: 1}, coupon_id=coupon["coupon_id"], points=201)
    assert over.status_code == 422
    order = member.placed({sku: 1}, coupon_id=coupon["coupon_id"], points=200)
    assert (order["coupon_discount"], order["points_discount"], order["shipping_fee"], order["payable"]) == \
        (800, 200, 1000, 1000), "the items cost nothing; shipping is still paid"


def test_a_refund_while_frozen_claws_back_the_frozen_points(shop, owner, member, pump, frozen_clock):
    order = completed(shop, member, owner, pump, price=20000)
    refund_in_full(member, owner, order["order_id"])
    pump.drain()
    assert (me(member)["points"], me(member)["frozen_points"], me(member)["growth"]) == (0, 0, 0)
    frozen_clock.advance(days=8)
    assert effects.run_points_schedule()["released"] == 0, "a clawed-back lot is never released"
    assert ledger(member) == [("ORDER_COMPLETED", 200), ("REFUND_CLAWBACK", -200)]


def test_a_refund_after_the_points_were_spent_takes_what_is_there_and_records_the_shortfall(
        shop, owner, member, pump, frozen_clock):
    from tests.conftest import buyer_token

    order = completed(shop, member, owner, pump, price=20000)
    frozen_clock.advance(days=6)
    asked = member.api.as_token(buyer_token(member.user_id)).post(f"/orders/{order['order_id']}/refund",
                                                                  {"reason": "质量问题"})
    assert asked.status_code == 200, asked.data
    frozen_clock.advance(days=1, seconds=1)
    effects.run_points_schedule()  # the window closed while the merchant was deciding
    spend = fresh(member).placed({shop.sku(price=15000): 1}, points=150)
    pay_in_sandbox(member, spend["order_id"])
    from tests.conftest import staff_token

    approved = owner.as_token(staff_token("boss", "owner")).post(f"/admin/orders/{order['order_id']}/refund/approve")
    assert approved.status_code == 200 and approved.data["status"] == "REFUNDED", approved.data
    pump.drain()
    assert me(member)["points"] == 0
    last = fresh(member).api.get("/me/points").data["items"][0]
    assert (last["reason"], last["delta"], last["shortfall"]) == ("REFUND_CLAWBACK", -50, 150)
    from chalicelib.members.points import load_account

    assert int(load_account(member.user_id).shortfall) == 150


def test_points_expire_oldest_first(shop, owner, member, pump, frozen_clock):
    released_points(shop, member, owner, pump, frozen_clock, price=10000)  # lot A: 100, earned day 0
    frozen_clock.advance(days=23)
    released_points(shop, member, owner, pump, frozen_clock, price=20000)  # lot B: 200, earned day 30
    frozen_clock.advance(days=3)
    spend = member.placed({shop.sku(price=30000): 1}, points=150)  # takes all of A and 50 of B
    pay_in_sandbox(member, spend["order_id"])
    frozen_clock.set("2027-11-25T04:00:01Z")  # A's expiry
    assert effects.run_points_schedule()["expired"] == 1
    assert me(member)["points"] == 150, "A was spent already: nothing of it left to expire"
    frozen_clock.advance(days=30)
    assert effects.run_points_schedule()["expired"] == 1
    assert me(member)["points"] == 0
    assert ledger(member)[-1] == ("EXPIRED", -150)


def test_points_returned_after_their_lot_expired_expire_at_once(shop, owner, member, pump, frozen_clock):
    released_points(shop, member, owner, pump, frozen_clock, price=10000)
    frozen_clock.set("2027-11-25T03:55:00Z")
    pending = fresh(member).placed({shop.sku(price=30000): 1}, points=100)
    frozen_clock.set("2027-11-25T04:00:01Z")
    assert effects.run_points_schedule()["expired"] == 1 and me(member)["points"] == 0
    assert fresh(member).api.post(f"/orders/{pending['order_id']}/cancel").status_code == 200
    pump.drain()
    assert me(member)["points"] == 0
    assert ledger(member)[-2:] == [("REDEMPTION_RETURNED", 100), ("EXPIRED", -100)]


def test_a_redelivered_record_applies_nothing_twice(app, shop, owner, member, pump, frozen_clock):
    from chalice.app import DynamoDBEvent

    from chalicelib.checkout.orders import load_order

    order = completed(shop, member, owner, pump, price=20000)
    stored = load_order(order["order_id"])
    record = _record(stored, old_status="SHIPPED")
    assert effects.apply_order_changes(DynamoDBEvent({"Records": [record, record]}, None)) == 0
    assert (me(member)["growth"], me(member)["frozen_points"]) == (200, 200)


def _record(order, *, old_status: str) -> dict:
    new = order.serialize()
    old = {**new, "status": {"S": old_status}}
    return {"eventName": "MODIFY", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1", "eventID": "1",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/test-orders/stream/local",
            "dynamodb": {"OldImage": old, "NewImage": new, "SequenceNumber": "1", "SizeBytes": 1,
                         "ApproximateCreationDateTime": 1795579200, "StreamViewType": "NEW_AND_OLD_IMAGES"}}


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_the_same_points_on_five_parallel_orders_are_spent_once(client, shop, owner, pump, frozen_clock,
                                                               atomic_dynamodb, round_):
    from chalicelib.checkout import service
    from chalicelib.members import service as members
    from chalicelib.members.points import load_account
    from tests.checkout.test_races import race, submission

    spender = Buyer(client, members.login(f"dev:spender{round_}").user.user_id)
    released_points(shop, spender, owner, pump, frozen_clock, price=20000)
    sku = shop.sku(price=12000, stock=50)
    request = submission(spender, {sku: 1}).model_copy(update={"points": 200})
    outcomes = race([lambda n=n: service.submit_order(spender.user_id, request, f"points-key-{round_}-{n}")
                     for n in range(5)])
    assert len([o for o in outcomes if not isinstance(o, str)]) == 1, outcomes
    assert Counter(o for o in outcomes if isinstance(o, str)) == {"INSUFFICIENT_POINTS": 4}
    account = load_account(spender.user_id)
    assert (int(account.points), int(account.debited)) == (0, 200)
    assert [reason for reason, _ in ledger(spender)] == ["ORDER_COMPLETED", "REDEEMED"]


def test_an_owner_adjusts_points_and_they_expire_like_earned_ones(client, owner, member, frozen_clock):

    added = owner.post(f"/admin/members/{member.user_id}/points", {"delta": 300, "note": "补偿"})
    assert added.status_code == 200 and added.data["balance"] == 300, added.data
    taken = owner.post(f"/admin/members/{member.user_id}/points", {"delta": -100, "note": "误发"})
    assert taken.status_code == 200 and taken.data["balance"] == 200
    too_much = owner.post(f"/admin/members/{member.user_id}/points", {"delta": -201, "note": "x"})
    assert too_much.status_code == 409 and too_much.data["error"]["code"] == "INSUFFICIENT_POINTS"
    assert owner.post(f"/admin/members/{member.user_id}/points", {"delta": 0, "note": "x"}).status_code == 400
    assert owner.post("/admin/members/U-nobody/points", {"delta": 5, "note": "x"}).status_code == 404
    operator = operator_of(client)
    assert operator.post(f"/admin/members/{member.user_id}/points", {"delta": 5, "note": "x"}).status_code == 403
    assert ledger(member) == [("ADMIN", 300), ("ADMIN", -100)]
    frozen_clock.advance(days=366)
    assert effects.run_points_schedule()["expired"] == 1
    assert me(member)["points"] == 0


@pytest.mark.parametrize("line_count", [1, 20])
def test_a_checkout_with_a_coupon_and_points_costs_the_same_calls_whatever_the_lines(
        shop, owner, member, pump, frozen_clock, dynamodb_calls, line_count):
    from tests.marketing.conftest import claimed, new_template

    released_points(shop, member, owner, pump, frozen_clock, price=20000)
    coupon = claimed(member, new_template(owner, kind="NO_THRESHOLD", amount_off=100, min_spend=None)["template_id"])
    items = {sku: 1 for sku in shop.skus(line_count, price=1000, stock=5)}
    dynamodb_calls.clear()
    order = member.placed(items, coupon_id=coupon["coupon_id"], points=100)
    assert (order["coupon_discount"], order["points_discount"]) == (100, 100)
    # key, address, coupon, SKU cards, member account and the level table in one BatchGetItem; the commit
    assert dynamodb_calls.counts() == {"BatchGetItem": 1, "TransactWriteItems": 1}, dynamodb_calls
