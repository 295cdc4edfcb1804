"""Opening, joining and paying for groups through the routes, and what each outcome does to every order."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.core import clock
from tests.checkout.conftest import stock_of
from tests.groupbuy.conftest import (
    campaign_left,
    group,
    join,
    joined,
    later,
    open_group,
    order,
    paid,
    provider_refunds,
    quota_of,
    run_group_jobs,
    sweep_orders,
)


def test_leader_opens_a_pending_group_at_the_group_price_and_paying_opens_it_until_the_deadline(
        campaign, buyers, frozen_clock):
    running = campaign(group_price=2990, duration_minutes=60)
    (leader,) = buyers(1)
    opened = open_group(leader, running["campaign_id"])
    assert opened["status"] == "PENDING"
    assert opened["order"]["status"] == "PENDING_PAYMENT" and opened["order"]["group_id"] == opened["group_id"]
    assert opened["order"]["items_total"] == 2990 and opened["order"]["items"][0]["quantity"] == 1
    assert opened["order"]["payable"] == 2990 + opened["order"]["shipping_fee"]
    assert stock_of(running["sku_id"]) == {"available": 49, "reserved": 1, "sold": 0}

    later(frozen_clock, minutes=2)
    paid(opened["order"]["order_id"])
    page = leader.api.get(f"/groupbuy/groups/{opened['group_id']}").data
    assert page["status"] == "OPEN" and page["paid_members"] == 1 and page["places_left"] == 2
    assert page["expires_at"] == clock.iso(clock.now() + timedelta(minutes=60)), "an hour from the leader's payment"
    assert order(opened["order"]["order_id"]).status == "AWAITING_GROUP"
    assert stock_of(running["sku_id"]) == {"available": 49, "reserved": 0, "sold": 1}


def test_a_group_deadline_never_runs_past_the_campaign_end(campaign, buyers, frozen_clock):
    ends_at = clock.iso(clock.now() + timedelta(minutes=30))
    running = campaign(duration_minutes=600, ends_at=ends_at)
    (leader,) = buyers(1)
    opened = open_group(leader, running["campaign_id"])
    paid(opened["order"]["order_id"])
    assert leader.api.get(f"/groupbuy/groups/{opened['group_id']}").data["expires_at"] == ends_at


def test_the_payment_that_fills_the_group_makes_every_member_order_paid(app, campaign, buyers, frozen_clock):
    from infra.local.pump import EventPump

    running = campaign(group_size=3)
    leader, second, third = buyers(3)
    opened = open_group(leader, running["campaign_id"])
    group_id = opened["group_id"]
    paid(opened["order"]["order_id"])
    orders = [opened["order"]["order_id"]] + [joined(b, group_id)["order"]["order_id"] for b in (second, third)]
    paid(orders[1])
    assert order(orders[1]).status == "AWAITING_GROUP"
    paid(orders[2])
    assert order(orders[2]).status == "PAID", "the completing payment's own order is shippable at once"
    assert group(group_id).status == "SUCCEEDED"

    EventPump(app, raise_errors=True).drain()  # the group's stream: settlement moves the others
    assert [order(o).status for o in orders] == ["PAID", "PAID", "PAID"]
    assert group(group_id).due_shard is None, "a settled group leaves the due index"
    page = leader.api.get(f"/groupbuy/groups/{group_id}").data
    assert page["status"] == "SUCCEEDED" and page["paid_members"] == 3 and page["places_left"] == 0
    assert [m["is_leader"] for m in page["members"]] == [True, False, False]
    assert stock_of(running["sku_id"])["sold"] == 3
    assert campaign_left(running["campaign_id"]) == running["stock"] - 3


def test_the_share_page_is_public_and_shows_nicknames_and_avatars_only(client, campaign, buyers):
    running = campaign()
    leader, friend = buyers(2)
    opened = open_group(leader, running["campaign_id"])
    paid(opened["order"]["order_id"])
    joined(friend, opened["group_id"])
    page = client.as_token(None).get(f"/groupbuy/groups/{opened['group_id']}")
    assert page.status_code == 200
    assert set(page.data) == {"group_id", "campaign_id", "product_id", "sku_id", "title", "image", "status",
                              "group_size", "group_price", "paid_members", "places_left", "expires_at", "members"}
    assert page.data["places_left"] == 1, "a place held by an unpaid order is not free"
    from chalicelib.members import service as members

    nickname = members.get_user(leader.user_id).nickname
    assert page.data["members"] == [{"nickname": nickname, "avatar": None, "is_leader": True}], \
        "members are those who paid: the friend holds a place but has not paid"
    assert leader.user_id not in str(page.data) and opened["order"]["order_id"] not in str(page.data)
    assert client.get("/groupbuy/groups/01JUNKNOWNGROUP0000000000X").status_code == 404
    assert client.get("/groupbuy/groups/not-an-id!").status_code == 404


def test_joining_refuses_the_leader_a_second_place_a_closed_or_full_group_and_discounts(campaign, buyers):
    running = campaign(group_size=2)
    leader, friend, late = buyers(3)
    opened = open_group(leader, running["campaign_id"])
    group_id = opened["group_id"]
    assert join(friend, group_id).data["error"]["code"] == "GROUP_NOT_OPEN", "the leader has not paid yet"
    paid(opened["order"]["order_id"])
    assert join(leader, group_id).data["error"]["code"] == "OWN_GROUP"
    coupon = friend.api.post(f"/groupbuy/groups/{group_id}/join", {"address_id": friend.address_id,
                                                                     "coupon_id": "C1"})
    assert (coupon.status_code, coupon.data["error"]["code"]) == (422, "COUPON_NOT_APPLICABLE")
    joined(friend, group_id)
    again = join(friend, group_id)
    assert (again.status_code, again.data["error"]["code"]) == (409, "ALREADY_IN_GROUP")
    full = join(late, group_id)
    assert (full.status_code, full.data["error"]["code"]) == (409, "GROUP_FULL")
    assert join(late, "01JUNKNOWNGROUP0000000000X").status_code == 404
    bad = late.api.post(f"/groupbuy/groups/{group_id}/join", {"address_id": 5})
    assert bad.status_code == 400
    unauthenticated = late.api.as_token(None).post(f"/groupbuy/groups/{group_id}/join", {"address_id": "a"})
    assert unauthenticated.status_code == 401


def test_opening_refuses_discounts_unknown_campaigns_and_another_buyers_address(campaign, buyers):
    running = campaign()
    alice, bob = buyers(2)
    points = alice.api.post("/groupbuy/groups", {"campaign_id": running["campaign_id"],
                                                 "address_id": alice.address_id, "points": 100})
    assert (points.status_code, points.data["error"]["code"]) == (422, "POINTS_NOT_APPLICABLE")
    unknown = alice.api.post("/groupbuy/groups", {"campaign_id": "01JUNKNOWNCAMPAIGN0000000X",
                                                  "address_id": alice.address_id})
    assert unknown.status_code == 404
    foreign = alice.api.post("/groupbuy/groups", {"campaign_id": running["campaign_id"],
                                                  "address_id": bob.address_id})
    assert foreign.status_code == 404
    assert alice.api.post("/groupbuy/groups", {"campaign_id": running["campaign_id"]}).status_code == 400


def test_an_unpaid_joiner_times_out_and_the_place_unit_and_quota_come_back(campaign, buyers, frozen_clock):
    running = campaign(group_size=2, per_user_limit=1)
    leader, slow, quick = buyers(3)
    opened = open_group(leader, running["campaign_id"])
    paid(opened["order"]["order_id"])
    held = joined(slow, opened["group_id"])
    assert join(quick, opened["group_id"]).data["error"]["code"] == "GROUP_FULL"
    later(frozen_clock, minutes=6)  # past MALL_GROUPBUY_PAYMENT_TIMEOUT (300 s), before the group's hour
    sweep_orders()
    cancelled = order(held["order"]["order_id"])
    assert (cancelled.status, cancelled.cancel_reason) == ("CANCELLED", "TIMEOUT")
    assert int(group(opened["group_id"]).holders) == 1
    assert quota_of(running["campaign_id"], slow.user_id) == 0
    assert campaign_left(running["campaign_id"]) == running["stock"] - 1
    assert joined(slow, opened["group_id"])["status"] == "OPEN", "a freed place may be taken again, even by them"


def test_a_leader_who_never_pays_leaves_a_failed_group(campaign, buyers, frozen_clock):
    running = campaign()
    (leader,) = buyers(1)
    opened = open_group(leader, running["campaign_id"])
    later(frozen_clock, minutes=6)
    sweep_orders()
    assert group(opened["group_id"]).status == "FAILED"
    assert order(opened["order"]["order_id"]).cancel_reason == "TIMEOUT"
    assert stock_of(running["sku_id"]) == {"available": 50, "reserved": 0, "sold": 0}
    run_group_jobs()
    assert group(opened["group_id"]).due_shard is None


def test_an_incomplete_group_fails_at_its_deadline_refunding_each_paid_member_once(app, campaign, buyers,
                                                                                   frozen_clock):
    from infra.local.pump import EventPump

    running = campaign(group_size=3, duration_minutes=60)
    leader, payer, idler = buyers(3)
    opened = open_group(leader, running["campaign_id"])
    paid(opened["order"]["order_id"])
    paying = joined(payer, opened["group_id"])["order"]["order_id"]
    paid(paying)
    later(frozen_clock, minutes=58)
    unpaid = joined(idler, opened["group_id"])["order"]["order_id"]
    later(frozen_clock, minutes=3)
    pump = EventPump(app, raise_errors=True)
    run_group_jobs()
    run_group_jobs()  # a second run finds nothing left to do
    pump.run_schedules()
    pump.drain()
    pump.drain()
    refunded = [order(opened["order"]["order_id"]), order(paying)]
    assert [o.status for o in refunded] == ["REFUNDED", "REFUNDED"]
    for each in refunded:
        assert [(r.out_refund_no, int(r.amount), r.status) for r in each.refunds] == \
            [(f"{each.order_id}-R1", int(each.payable), "SUCCESS")], "refunded once, against the member's own order"
        assert list(provider_refunds(each.order_id)) == [f"{each.order_id}-R1"]
    cancelled = order(unpaid)
    assert (cancelled.status, cancelled.cancel_reason) == ("CANCELLED", "GROUP_FAILED")
    assert stock_of(running["sku_id"]) == {"available": 50, "reserved": 0, "sold": 0}
    assert campaign_left(running["campaign_id"]) == running["stock"]
    assert group(opened["group_id"]).status == "FAILED" and group(opened["group_id"]).due_shard is None


def test_a_payment_after_the_group_failed_is_returned_against_the_payers_own_order(campaign, buyers, frozen_clock):
    running = campaign(group_size=3, duration_minutes=10)
    leader, late = buyers(2)
    opened = open_group(leader, running["campaign_id"])
    paid(opened["order"]["order_id"])
    held = joined(late, opened["group_id"])["order"]["order_id"]
    later(frozen_clock, minutes=4)
    later(frozen_clock, minutes=7)  # the group's deadline passed; its order's own timeout has too, nobody swept
    paid(held)
    returned = order(held)
    assert returned.payment is None and [r.kind for r in returned.refunds] == ["RETURN"]
    assert returned.refunds[0].status == "SUCCESS"
    run_group_jobs()
    assert (order(held).status, order(held).cancel_reason) == ("CANCELLED", "GROUP_FAILED")
    assert order(opened["order"]["order_id"]).status == "REFUNDED"
    assert len(provider_refunds(held)) == 1


def test_a_member_waiting_for_the_group_cannot_ask_for_a_refund(campaign, buyers):
    running = campaign()
    (leader,) = buyers(1)
    opened = open_group(leader, running["campaign_id"])
    paid(opened["order"]["order_id"])
    response = leader.api.post(f"/orders/{opened['order']['order_id']}/refund", {"reason": "changed my mind"})
    assert (response.status_code, response.data["error"]["code"]) == (409, "INVALID_ORDER_STATUS")


def test_the_per_buyer_limit_and_the_campaign_stock_refuse_further_orders(campaign, buyers):
    limited = campaign(per_user_limit=1, stock=2)
    alice, bob, carol = buyers(3)
    open_group(alice, limited["campaign_id"])
    second = alice.api.post("/groupbuy/groups", {"campaign_id": limited["campaign_id"],
                                                 "address_id": alice.address_id})
    assert (second.status_code, second.data["error"]["code"]) == (409, "LIMIT_REACHED")
    open_group(bob, limited["campaign_id"])
    sold_out = carol.api.post("/groupbuy/groups", {"campaign_id": limited["campaign_id"],
                                                   "address_id": carol.address_id})
    assert (sold_out.status_code, sold_out.data["error"]["code"]) == (409, "SOLD_OUT")


def test_the_same_idempotency_key_returns_the_same_group_and_order(campaign, buyers):
    running = campaign()
    (leader,) = buyers(1)
    body = {"campaign_id": running["campaign_id"], "address_id": leader.address_id}
    first = leader.api.post("/groupbuy/groups", body, headers={"Idempotency-Key": "open-key-0001"})
    again = leader.api.post("/groupbuy/groups", body, headers={"Idempotency-Key": "open-key-0001"})
    assert first.status_code == again.status_code == 201
    assert (again.data["group_id"], again.data["order"]["order_id"]) == \
        (first.data["group_id"], first.data["order"]["order_id"])
    other = leader.api.post("/groupbuy/groups", {**body, "address_id": "01JOTHERADDRESS00000000000"},
                            headers={"Idempotency-Key": "open-key-0001"})
    assert (other.status_code, other.data["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert quota_of(running["campaign_id"], leader.user_id) == 1


def test_a_lost_reply_after_opening_or_joining_commits_returns_that_group_and_order(campaign, buyers):
    from tests.faults import reply_lost_after_commit

    running = campaign()
    leader, friend = buyers(2)
    with reply_lost_after_commit("TransactWriteItems"):
        opened = open_group(leader, running["campaign_id"])
    assert quota_of(running["campaign_id"], leader.user_id) == 1, "one group, one order"
    paid(opened["order"]["order_id"])
    with reply_lost_after_commit("TransactWriteItems"):
        held = joined(friend, opened["group_id"])
    assert order(held["order"]["order_id"]).status == "PENDING_PAYMENT"
    assert int(group(opened["group_id"]).holders) == 2


def test_a_buyer_cancelling_an_unpaid_group_order_frees_the_place(campaign, buyers):
    running = campaign(group_size=2)
    leader, friend, other = buyers(3)
    opened = open_group(leader, running["campaign_id"])
    paid(opened["order"]["order_id"])
    held = joined(friend, opened["group_id"])["order"]["order_id"]
    cancelled = friend.api.post(f"/orders/{held}/cancel")
    assert (cancelled.status_code, cancelled.data["cancel_reason"]) == (200, "BUYER")
    assert joined(other, opened["group_id"])["status"] == "OPEN"
    assert int(group(opened["group_id"]).holders) == 2


def test_a_group_that_ends_is_announced_once_as_a_versioned_event(app, campaign, buyers, monkeypatch):
    from chalicelib.groupbuy import events
    from infra.local.pump import EventPump

    announced = []
    real_announce = events._announce_once
    monkeypatch.setattr(events, "_announce_once", lambda event: announced.append(event) or real_announce(event))
    running = campaign(group_size=2)
    leader, friend = buyers(2)
    opened = open_group(leader, running["campaign_id"])
    paid(opened["order"]["order_id"])
    paid(joined(friend, opened["group_id"])["order"]["order_id"])
    pump = EventPump(app, raise_errors=True)
    pump.drain()
    pump.position_streams("TRIM_HORIZON")
    pump.drain()
    assert [(e.type, e.version, e.group_id, e.paid_members) for e in announced] == \
        [("groupbuy.group.succeeded", 1, opened["group_id"], 2)] * 2, "delivered twice"
    first = announced[0].as_dict()
    assert first["closed_at"].endswith("Z") and first["campaign_id"] == running["campaign_id"]
    assert real_announce(announced[0]) is False, "the second delivery found the marker: announced once"


def test_a_group_failed_by_an_expiry_run_that_died_before_settling_is_settled_from_the_groups_stream(
        app, campaign, buyers, frozen_clock, monkeypatch):
    """The expiry run commits FAILED, then dies (its Lambda timed out) before settling the members' orders: the
    groups stream's settlement handler refunds the paid member and cancels the unpaid one, each once."""
    from chalicelib.groupbuy import settlement
    from infra.local.pump import EventPump

    running = campaign(group_size=3, duration_minutes=10)
    leader, idler = buyers(2)
    opened = open_group(leader, running["campaign_id"])
    paid(opened["order"]["order_id"])
    unpaid = joined(idler, opened["group_id"])["order"]["order_id"]
    later(frozen_clock, minutes=11)
    pump = EventPump(app, raise_errors=True)
    pump.drain()  # the orders so far, so the next drain holds the group's end

    def dies(group_id: str) -> bool:
        raise TimeoutError("the expiry run's Lambda timed out")

    with monkeypatch.context() as patched:
        patched.setattr(settlement, "settle_group", dies)
        try:
            run_group_jobs()
        except TimeoutError:
            pass
    assert group(opened["group_id"]).status == "FAILED"
    assert order(unpaid).status == "PENDING_PAYMENT", "nothing settled yet"
    pump.drain()
    pump.drain()
    refunded = order(opened["order"]["order_id"])
    assert refunded.status == "REFUNDED" and list(provider_refunds(refunded.order_id)) == [f"{refunded.order_id}-R1"]
    assert (order(unpaid).status, order(unpaid).cancel_reason) == ("CANCELLED", "GROUP_FAILED")
    assert stock_of(running["sku_id"]) == {"available": 50, "reserved": 0, "sold": 0}
    assert campaign_left(running["campaign_id"]) == running["stock"]
