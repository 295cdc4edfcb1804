"""Races on real threads against the embedded DynamoDB (each call atomic, as in DynamoDB), each repeated."""
from __future__ import annotations

import threading
from collections import Counter

import pytest

from chalicelib.core.errors import MallError
from chalicelib.groupbuy.models import MemberModel
from tests.checkout.conftest import stock_of
from tests.groupbuy.conftest import (
    campaign_left,
    group,
    joined,
    later,
    open_group,
    order,
    paid,
    pay,
    provider_refunds,
    quota_of,
    run_group_jobs,
    sweep_orders,
)

ROUNDS = 4


def run_together(*targets) -> None:
    start = threading.Barrier(len(targets))
    failures: list[BaseException] = []

    def runner(target):
        def run():
            start.wait()
            try:
                target()
            except BaseException as exc:  # noqa: BLE001 - reported below, with the others
                failures.append(exc)
        return run

    threads = [threading.Thread(target=runner(target)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racer never finished"
    assert not failures, failures


def join_in_service(buyer, group_id: str):
    from chalicelib.groupbuy import service
    from chalicelib.groupbuy.inputs import GroupJoining

    return service.join_group(buyer.user_id, group_id, GroupJoining(address_id=buyer.address_id))


def assert_every_payment_counted_or_returned(order_ids: list[str]) -> None:
    """Nobody is charged without a place or a refund: each trade paid is the order's payment or returned in full."""
    for order_id in order_ids:
        current = order(order_id)
        returned = [r for r in current.refunds or [] if r.kind == "RETURN"]
        trades = provider_refunds(order_id)
        if current.payment is None:
            assert current.status == "CANCELLED", (order_id, current.status)
        assert all(r.status == "SUCCESS" for r in returned), [(r.out_refund_no, r.status) for r in returned]
        assert len(trades) == len(current.refunds or []), (order_id, trades, current.refunds)


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_five_buyers_race_for_the_last_two_places_of_a_group_of_three(campaign, buyers, frozen_clock,
                                                                      atomic_dynamodb, round_number):
    running = campaign(group_size=3)
    leader, latecomer, *racers = buyers(7)
    opened = open_group(leader, running["campaign_id"])
    paid(opened["order"]["order_id"])
    stale = joined(racers.pop(), opened["group_id"])["order"]["order_id"]  # holds a place, then times out
    later(frozen_clock, minutes=6)
    outcomes: dict[str, tuple[str, str]] = {}
    holders_seen: list[int] = []

    def racer(buyer):
        def go():
            try:
                placed = join_in_service(buyer, opened["group_id"])
            except MallError as refused:
                outcomes[buyer.user_id] = ("refused", refused.code)
                return
            holders_seen.append(int(group(opened["group_id"]).holders))
            outcomes[buyer.user_id] = ("placed", placed.order.order_id)
            pay(placed.order.order_id)
        return go

    def stale_payment():
        pay(stale)  # paid after its own timeout, racing the sweeper that frees its place

    run_together(*[racer(b) for b in racers], stale_payment, sweep_orders)

    final = group(opened["group_id"])
    assert max(holders_seen + [int(final.holders)]) <= 3, holders_seen
    if final.status == "OPEN":
        # Every racer came before the sweeper freed the stale place: one took the free place, the rest were
        # refused as full. The freed place is open to the next buyer.
        assert (int(final.holders), int(final.paid_members)) == (2, 2), (final.holders, final.paid_members)
        late = joined(latecomer, opened["group_id"])["order"]["order_id"]
        outcomes[latecomer.user_id] = ("placed", late)
        pay(late)
        final = group(opened["group_id"])
    members = list(MemberModel.query(opened["group_id"], consistent_read=True))
    assert final.status == "SUCCEEDED" and int(final.paid_members) == 3 and len(members) == 3
    placed = [value for kind, value in outcomes.values() if kind == "placed"]
    refused = Counter(value for kind, value in outcomes.values() if kind == "refused")
    assert set(refused) <= {"GROUP_FULL", "GROUP_NOT_OPEN", "BUSY"}, refused
    run_group_jobs()
    member_orders = {m.order_id for m in members}
    assert all(order(o).status == "PAID" for o in member_orders)
    assert_every_payment_counted_or_returned(placed + [stale])
    assert all(order(o).status == "CANCELLED" for o in set(placed + [stale]) - member_orders)
    assert stock_of(running["sku_id"])["sold"] == 3 and stock_of(running["sku_id"])["reserved"] == 0


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_a_payment_in_flight_while_the_group_expires_ends_refunded(campaign, buyers, frozen_clock, atomic_dynamodb,
                                                                   round_number):
    running = campaign(group_size=3, duration_minutes=5)
    leader, joiner = buyers(2)
    opened = open_group(leader, running["campaign_id"])
    paid(opened["order"]["order_id"])
    holder = joined(joiner, opened["group_id"])["order"]["order_id"]
    later(frozen_clock, seconds=299)  # one second before the group's deadline

    def expire():
        later(frozen_clock, seconds=1)
        run_group_jobs()

    run_together(lambda: pay(holder), expire)
    run_group_jobs()  # settles whatever the racing run left (a payment that committed after its read)
    leader_order, joiner_order = order(opened["order"]["order_id"]), order(holder)
    assert group(opened["group_id"]).status == "FAILED"
    assert leader_order.status == "REFUNDED"
    if joiner_order.payment is not None:  # the payment counted first, then was refunded with the group
        assert joiner_order.status == "REFUNDED" and [r.kind for r in joiner_order.refunds] == ["BUYER"]
    else:  # the failure committed first: the payment was returned and the order cancelled
        assert (joiner_order.status, joiner_order.cancel_reason) == ("CANCELLED", "GROUP_FAILED")
        assert [(r.kind, r.status) for r in joiner_order.refunds] == [("RETURN", "SUCCESS")]
    assert len(provider_refunds(holder)) == 1 and len(provider_refunds(leader_order.order_id)) == 1
    assert stock_of(running["sku_id"]) == {"available": 50, "reserved": 0, "sold": 0}
    assert campaign_left(running["campaign_id"]) == running["stock"]


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_two_expiry_runs_and_a_twice_delivered_event_refund_each_paid_member_once(app, campaign, buyers, frozen_clock,
                                                                                  atomic_dynamodb, round_number):
    from infra.local.pump import EventPump

    running = campaign(group_size=4, duration_minutes=10)
    leader, first, second, idler = buyers(4)
    opened = open_group(leader, running["campaign_id"])
    paid(opened["order"]["order_id"])
    paying = [joined(b, opened["group_id"])["order"]["order_id"] for b in (first, second)]
    for order_id in paying:
        paid(order_id)
    unpaid = joined(idler, opened["group_id"])["order"]["order_id"]
    later(frozen_clock, minutes=11)
    pump = EventPump(app, raise_errors=True)
    run_together(run_group_jobs, run_group_jobs, pump.drain)
    pump.drain()
    pump.position_streams("TRIM_HORIZON")  # every record of the groups stream delivered once more
    pump.drain()
    for order_id in [opened["order"]["order_id"], *paying]:
        refunded = order(order_id)
        assert refunded.status == "REFUNDED", refunded.status
        assert [r.out_refund_no for r in refunded.refunds] == [f"{order_id}-R1"]
        assert list(provider_refunds(order_id)) == [f"{order_id}-R1"], "the provider was asked once"
    assert order(unpaid).cancel_reason == "GROUP_FAILED"
    assert stock_of(running["sku_id"]) == {"available": 50, "reserved": 0, "sold": 0}


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_the_per_buyer_limit_and_campaign_stock_hold_under_concurrent_openings(campaign, buyers, atomic_dynamodb,
                                                                                round_number):
    from chalicelib.groupbuy import service
    from chalicelib.groupbuy.inputs import GroupOpening

    running = campaign(per_user_limit=2, stock=5)
    crowd = buyers(4)
    opened: list[str] = []
    refusals: list[str] = []

    def opener(buyer):
        def go():
            try:
                service.open_group(buyer.user_id, GroupOpening(campaign_id=running["campaign_id"],
                                                               address_id=buyer.address_id))
                opened.append(buyer.user_id)
            except MallError as refused:
                refusals.append(refused.code)
        return go

    run_together(*[opener(b) for b in crowd for _ in range(3)])
    assert len(opened) == 5, (opened, refusals)
    assert all(count <= 2 for count in Counter(opened).values()), Counter(opened)
    assert set(refusals) <= {"SOLD_OUT", "LIMIT_REACHED", "BUSY"}, refusals
    assert campaign_left(running["campaign_id"]) == 0
    assert sum(quota_of(running["campaign_id"], b.user_id) for b in crowd) == 5
    assert stock_of(running["sku_id"])["reserved"] == 5


def test_the_group_failing_between_a_payments_read_and_its_commit_returns_that_payment(campaign, buyers,
                                                                                       frozen_clock, monkeypatch):
    from chalicelib.groupbuy import hooks
    from chalicelib.groupbuy.settlement import fail_if_expired

    running = campaign(group_size=3, duration_minutes=5)
    leader, joiner = buyers(2)
    opened = open_group(leader, running["campaign_id"])
    paid(opened["order"]["order_id"])
    holder = joined(joiner, opened["group_id"])["order"]["order_id"]
    later(frozen_clock, seconds=299)
    real_payment, interleaved = hooks.payment, []

    def payment_then_the_deadline(order, paid_at):
        decision = real_payment(order, paid_at)  # read while the group is still open
        if not interleaved:
            interleaved.append(True)
            later(frozen_clock, seconds=1)
            assert fail_if_expired(opened["group_id"])
        return decision

    monkeypatch.setattr(hooks, "payment", payment_then_the_deadline)
    assert pay(holder)[0] < 300
    returned = order(holder)
    assert returned.payment is None and [(r.kind, r.status) for r in returned.refunds] == [("RETURN", "SUCCESS")]
    assert (returned.status, returned.cancel_reason) == ("CANCELLED", "GROUP_FAILED")
    assert order(opened["order"]["order_id"]).status == "REFUNDED"
    assert stock_of(running["sku_id"]) == {"available": 50, "reserved": 0, "sold": 0}


def test_a_payment_between_the_failures_read_and_its_commit_is_refunded_with_the_group(campaign, buyers,
                                                                                      frozen_clock, monkeypatch):
    from chalicelib.groupbuy import settlement

    running = campaign(group_size=3, duration_minutes=5)
    leader, joiner = buyers(2)
    opened = open_group(leader, running["campaign_id"])
    paid(opened["order"]["order_id"])
    holder = joined(joiner, opened["group_id"])["order"]["order_id"]
    later(frozen_clock, seconds=300)
    real_commit, interleaved = settlement.commit_if_conditions_hold, []

    def a_payment_first(build, **kwargs):
        if not interleaved:
            interleaved.append(True)
            later(frozen_clock, seconds=-1)  # the payment reached the mall just before the deadline
            paid(holder)
            later(frozen_clock, seconds=1)
        return real_commit(build, **kwargs)

    monkeypatch.setattr(settlement, "commit_if_conditions_hold", a_payment_first)
    assert settlement.fail_if_expired(opened["group_id"]), "the failure reads again and commits"
    assert int(group(opened["group_id"]).paid_members) == 2
    for order_id in (opened["order"]["order_id"], holder):
        refunded = order(order_id)
        assert refunded.status == "REFUNDED" and [r.out_refund_no for r in refunded.refunds] == [f"{order_id}-R1"]
    assert stock_of(running["sku_id"]) == {"available": 50, "reserved": 0, "sold": 0}


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_a_price_edit_racing_openings_never_mixes_terms(campaign, buyers, atomic_dynamodb, round_number):
    from chalicelib.groupbuy import campaigns, service
    from chalicelib.groupbuy.inputs import CampaignEdit, GroupOpening

    running = campaign(group_price=2990)
    crowd = buyers(4)
    made = []

    def opener(buyer):
        return lambda: made.append(service.open_group(buyer.user_id, GroupOpening(
            campaign_id=running["campaign_id"], address_id=buyer.address_id)))

    def edit():
        campaigns.edit_campaign(running["campaign_id"], CampaignEdit(group_price=1990), actor="racer")

    run_together(*[opener(b) for b in crowd], edit)
    assert len(made) == 4
    for opened in made:
        price = int(group(opened.group_id).group_price)
        assert price in (2990, 1990) and opened.order.items_total == price, (price, opened.order.items_total)


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_ending_a_campaign_racing_the_leaders_payment_ends_with_the_leader_refunded(campaign, buyers, staff,
                                                                                    frozen_clock, atomic_dynamodb,
                                                                                    round_number):
    from chalicelib.groupbuy import campaigns

    running = campaign(group_size=3)
    (leader,) = buyers(1)
    opened = open_group(leader, running["campaign_id"])
    leader_order = opened["order"]["order_id"]
    run_together(lambda: pay(leader_order), lambda: campaigns.end_campaign(running["campaign_id"], actor="racer"))
    later(frozen_clock, seconds=1)
    run_group_jobs()
    ended = order(leader_order)
    assert group(opened["group_id"]).status == "FAILED"
    if ended.payment is not None:  # paid first: the group opened, then failed at the end, refunded
        assert ended.status == "REFUNDED" and [r.kind for r in ended.refunds] == ["BUYER"]
    else:  # the end first: the payment could not open the group and was returned
        assert (ended.status, [r.kind for r in ended.refunds]) == ("CANCELLED", ["RETURN"])
    assert len(provider_refunds(leader_order)) == 1
    assert stock_of(running["sku_id"]) == {"available": 50, "reserved": 0, "sold": 0}
