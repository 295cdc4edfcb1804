"""Staff manage campaigns (create, list, edit, end); buyers see the running ones."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.core import clock
from tests.conftest import buyer_token
from tests.groupbuy.conftest import group, join, joined, later, open_group, order, paid, run_group_jobs


def test_staff_create_a_campaign_and_buyers_see_it_while_it_runs(client, shop, staff, campaign, frozen_clock):
    running = campaign(group_size=5, group_price=1990, duration_minutes=30, stock=10, per_user_limit=2)
    assert running["status"] == "ACTIVE" and running["stock_left"] == 10 and running["per_user_limit"] == 2
    upcoming = campaign(starts_at=clock.iso(clock.now() + timedelta(days=1)),
                        ends_at=clock.iso(clock.now() + timedelta(days=2)))
    listed = client.get("/groupbuy/campaigns").data["items"]
    assert [c["campaign_id"] for c in listed] == [running["campaign_id"]], "an upcoming campaign is not running yet"
    one = client.get(f"/groupbuy/campaigns/{running['campaign_id']}").data
    assert {k: one[k] for k in ("group_price", "group_size", "duration_minutes", "ends_at")} == \
        {"group_price": 1990, "group_size": 5, "duration_minutes": 30, "ends_at": running["ends_at"]}
    assert client.get(f"/groupbuy/campaigns/{upcoming['campaign_id']}").status_code == 404
    assert {c["campaign_id"] for c in staff.get("/admin/groupbuy/campaigns").data["items"]} == \
        {running["campaign_id"], upcoming["campaign_id"]}


def test_campaign_inputs_are_checked(shop, staff, client):
    product = shop.product(prices=[5000])
    sku_id = product.skus[0].sku_id
    good = {"product_id": product.product_id, "sku_id": sku_id, "group_price": 100, "group_size": 3,
            "duration_minutes": 60, "stock": 5}
    for wrong in ({"group_size": 1}, {"group_size": 51}, {"group_price": 0}, {"stock": 0}, {"group_size": "3"},
                  {"duration_minutes": 0}, {"per_user_limit": 0}, {"surprise": True}):
        response = staff.post("/admin/groupbuy/campaigns", {**good, **wrong})
        assert response.status_code == 400, (wrong, response.data)
    other = shop.product(prices=[100])
    mismatched = staff.post("/admin/groupbuy/campaigns", {**good, "product_id": other.product_id})
    assert (mismatched.status_code, mismatched.data["error"]["code"]) == (404, "SKU_NOT_FOUND")
    window = staff.post("/admin/groupbuy/campaigns", {**good, "starts_at": "2030-01-02T00:00:00Z",
                                                      "ends_at": "2030-01-01T00:00:00Z"})
    assert (window.status_code, window.data["error"]["code"]) == (400, "INVALID_CAMPAIGN_WINDOW")
    assert client.as_token(buyer_token()).post("/admin/groupbuy/campaigns", good).status_code == 403
    assert client.as_token(None).post("/admin/groupbuy/campaigns", good).status_code == 401
    assert client.as_token(buyer_token()).get("/admin/groupbuy/campaigns").status_code == 403


def test_an_edit_applies_to_groups_opened_after_it(staff, campaign, buyers):
    running = campaign(group_price=2990, group_size=3)
    first, second = buyers(2)
    before = open_group(first, running["campaign_id"])
    edited = staff.put(f"/admin/groupbuy/campaigns/{running['campaign_id']}", {"group_price": 1990, "group_size": 2})
    assert edited.status_code == 200 and edited.data["group_price"] == 1990 and edited.data["version"] == 2
    after = open_group(second, running["campaign_id"])
    assert before["order"]["items_total"] == 2990 and int(group(before["group_id"]).group_size) == 3
    assert after["order"]["items_total"] == 1990 and int(group(after["group_id"]).group_size) == 2


def test_campaign_stock_cannot_go_below_what_live_orders_took(staff, campaign, buyers):
    running = campaign(stock=5)
    a, b = buyers(2)
    open_group(a, running["campaign_id"])
    open_group(b, running["campaign_id"])
    path = f"/admin/groupbuy/campaigns/{running['campaign_id']}"
    below = staff.put(path, {"stock": 1})
    assert (below.status_code, below.data["error"]["code"]) == (409, "STOCK_BELOW_TAKEN")
    lowered = staff.put(path, {"stock": 2})
    assert (lowered.data["stock"], lowered.data["stock_left"]) == (2, 0)
    raised = staff.put(path, {"stock": 7})
    assert (raised.data["stock"], raised.data["stock_left"]) == (7, 5)
    assert staff.put("/admin/groupbuy/campaigns/01JUNKNOWNCAMPAIGN0000000X", {"stock": 1}).status_code == 404
    assert staff.put(path, {"stock": -1}).status_code == 400


def test_ending_a_campaign_closes_it_and_fails_its_unfinished_groups_at_once(client, staff, campaign, buyers,
                                                                             frozen_clock):
    running = campaign(group_size=3, duration_minutes=60)
    leader, friend, newcomer, pending_leader = buyers(4)
    opened = open_group(leader, running["campaign_id"])
    paid(opened["order"]["order_id"])
    held = joined(friend, opened["group_id"])["order"]["order_id"]
    pending = open_group(pending_leader, running["campaign_id"])
    later(frozen_clock, minutes=1)

    ended = staff.post(f"/admin/groupbuy/campaigns/{running['campaign_id']}/end")
    assert ended.status_code == 200 and ended.data["status"] == "ENDED" and ended.data["ends_at"] == clock.iso(
        clock.now())
    assert staff.post(f"/admin/groupbuy/campaigns/{running['campaign_id']}/end").status_code == 200, "idempotent"
    assert client.get("/groupbuy/campaigns").data["items"] == []
    refused = newcomer.api.post("/groupbuy/groups", {"campaign_id": running["campaign_id"],
                                                     "address_id": newcomer.address_id})
    assert (refused.status_code, refused.data["error"]["code"]) == (422, "CAMPAIGN_NOT_RUNNING")
    assert join(newcomer, opened["group_id"]).data["error"]["code"] == "GROUP_NOT_OPEN"
    assert client.get(f"/groupbuy/groups/{opened['group_id']}").data["expires_at"] == clock.iso(clock.now())
    edit = staff.put(f"/admin/groupbuy/campaigns/{running['campaign_id']}", {"stock": 3})
    assert (edit.status_code, edit.data["error"]["code"]) == (409, "CAMPAIGN_ENDED")

    paid(pending["order"]["order_id"])  # the leader pays after the end: it cannot open the group
    later(frozen_clock, seconds=1)
    run_group_jobs()
    assert group(opened["group_id"]).status == group(pending["group_id"]).status == "FAILED"
    assert order(opened["order"]["order_id"]).status == "REFUNDED"
    assert order(held).cancel_reason == "GROUP_FAILED"
    late = order(pending["order"]["order_id"])
    assert (late.status, late.cancel_reason, [r.kind for r in late.refunds]) == ("CANCELLED", "GROUP_FAILED",
                                                                                  ["RETURN"])


def test_moving_the_end_earlier_brings_open_group_deadlines_forward(staff, campaign, buyers, frozen_clock):
    running = campaign(duration_minutes=120)
    (leader,) = buyers(1)
    opened = open_group(leader, running["campaign_id"])
    paid(opened["order"]["order_id"])
    sooner = clock.iso(clock.now() + timedelta(minutes=30))
    assert staff.put(f"/admin/groupbuy/campaigns/{running['campaign_id']}", {"ends_at": sooner}).status_code == 200
    assert clock.iso(group(opened["group_id"]).expires_at) == sooner


def test_campaign_routes_answer_404_for_unknown_campaigns_and_400_for_bad_edits(client, staff, campaign, buyers):
    running = campaign()
    unknown = "01JUNKNOWNCAMPAIGN0000000X"
    assert staff.post(f"/admin/groupbuy/campaigns/{unknown}/end").status_code == 404
    assert staff.post("/admin/groupbuy/campaigns/not-an-id!/end").status_code == 404
    assert client.get(f"/groupbuy/campaigns/{unknown}").status_code == 404
    path = f"/admin/groupbuy/campaigns/{running['campaign_id']}"
    # a time before the first UTC instant is a 400, not a 500
    for wrong in ({"group_size": 60}, {"group_price": "10"}, {"status": "ENDED"}, {"ends_at": "0001-01-01T00:00:00+01:00"}):
        assert staff.put(path, wrong).status_code == 400, wrong
    past = staff.put(path, {"ends_at": "2020-01-01T00:00:00Z"})
    assert (past.status_code, past.data["error"]["code"]) == (400, "INVALID_CAMPAIGN_WINDOW")


def test_a_campaign_that_has_not_started_takes_no_group(campaign, buyers):
    upcoming = campaign(starts_at=clock.iso(clock.now() + timedelta(hours=1)))
    (early,) = buyers(1)
    response = early.api.post("/groupbuy/groups", {"campaign_id": upcoming["campaign_id"],
                                                   "address_id": early.address_id})
    assert (response.status_code, response.data["error"]["code"]) == (422, "CAMPAIGN_NOT_RUNNING")
