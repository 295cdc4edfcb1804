"""Per-buyer facts from the orders stream: each payment and refund applied exactly once, however often the
stream delivers it, and a refund net of the money without undoing the visit."""
from __future__ import annotations

from datetime import timedelta

from boto3.dynamodb.types import TypeSerializer

from chalicelib.core import clock
from tests.segments.conftest import facts_of, paid_order, refunded, registered


def replay_whole_stream(app) -> int:
    """A new reader from the stream's start: every record delivered again, as a redrive or a retried shard does."""
    from infra.local.pump import EventPump

    return EventPump(app, raise_errors=True).drain()


def test_payments_add_up_once_however_often_the_stream_delivers_them(app, client, shop, pump, frozen_clock):
    alice = registered(client, "alice")
    first_paid = clock.now()
    paid_order(shop, alice, 12_000)
    frozen_clock.advance(days=3)
    paid_order(shop, alice, 15_000)
    pump.drain()
    expected = {"paid_orders": 2, "refunded_orders": 0, "paid_total": 27_000, "first_paid_at": first_paid,
                "last_paid_at": clock.now(),
                "paid_by_day": {first_paid.date().isoformat(): 12_000, clock.now().date().isoformat(): 15_000}}
    assert facts_of(alice.user_id) == expected
    assert replay_whole_stream(app) > 0
    assert replay_whole_stream(app) > 0
    assert facts_of(alice.user_id) == expected, "a redelivered record applied again"


def test_a_refund_takes_the_money_off_its_payment_day_once_and_keeps_the_visit(app, client, shop, pump, owner,
                                                                                  frozen_clock):
    alice = registered(client, "alice")
    kept = paid_order(shop, alice, 12_000)
    paid_day = clock.now().date().isoformat()
    frozen_clock.advance(days=2)
    returned = paid_order(shop, alice, 20_000)
    last_paid = clock.now()
    frozen_clock.advance(days=1)
    refunded(alice, owner, returned)
    pump.drain()
    replay_whole_stream(app)
    facts = facts_of(alice.user_id)
    assert (facts["paid_orders"], facts["refunded_orders"], facts["paid_total"]) == (2, 1, 12_000)
    assert facts["last_paid_at"] == last_paid, "a refunded order's payment still counts as a visit"
    assert facts["paid_by_day"] == {paid_day: 12_000}, "the refunded order's day netted to nothing"
    assert kept


def test_a_refund_recorded_before_its_payment_keeps_the_late_payment_out(aws, frozen_clock):
    """The payment's record went to the dead-letter queue and is redriven after the refund's was applied."""
    from chalicelib.segments import facts

    order = {"order_id": "01LATEPAYMENT0000000000000", "user_id": "U-late", "payable": 5000,
             "paid_at": clock.iso(clock.now())}
    assert facts.record_refund(order) is True
    assert facts.record_payment(order) is False
    assert facts.record_payment(order) is False
    from chalicelib.core.db import get_or_none
    from chalicelib.segments.models import BuyerFactsModel

    assert get_or_none(BuyerFactsModel, "U-late") is None, "nothing paid, nothing refunded: no facts"


def test_a_group_order_counts_when_paid_into_its_group(aws, frozen_clock):
    from chalicelib.segments import facts

    paid_at = clock.iso(clock.now())
    old = {"order_id": "01GROUPORDER00000000000000", "user_id": "U-grouper", "payable": 990,
           "status": "PENDING_PAYMENT"}
    new = {**old, "status": "AWAITING_GROUP", "paid_at": paid_at}
    records = [StreamRecord(old, new), StreamRecord(new, {**new, "status": "PAID"})]
    assert facts.record_order_changes(records) == 1, "paid once: joining the group, not again when it completes"
    assert facts.record_order_changes(records) == 0
    assert (facts_of("U-grouper")["paid_orders"], facts_of("U-grouper")["paid_total"]) == (1, 990)


def test_a_facts_write_whose_reply_was_lost_is_recognised_not_applied_twice(app, client, shop, pump):
    from tests.faults import reply_lost_after_commit

    alice = registered(client, "alice")
    paid_order(shop, alice, 12_000)
    pump.drain()
    from chalicelib.segments import facts

    order = {"order_id": "01LOSTREPLY000000000000000", "user_id": alice.user_id, "payable": 3000,
             "paid_at": clock.iso(clock.now())}
    with reply_lost_after_commit("TransactWriteItems") as lost:
        facts.record_payment(order)
    assert lost == ["TransactWriteItems"]
    assert facts.record_payment(order) is False
    assert (facts_of(alice.user_id)["paid_orders"], facts_of(alice.user_id)["paid_total"]) == (2, 15_000)


def test_days_beyond_the_longest_window_are_dropped_as_new_payments_arrive(aws, frozen_clock):
    from chalicelib.segments import facts

    def pay(order_id: str, amount: int) -> None:
        facts.record_payment({"order_id": order_id, "user_id": "U-old", "payable": amount,
                              "paid_at": clock.iso(clock.now())})

    pay("01OLD0000000000000000000AA", 1000)
    first_day = clock.now().date().isoformat()
    frozen_clock.advance(days=367)
    pay("01OLD0000000000000000000AB", 2000)
    facts_now = facts_of("U-old")
    assert facts_now["paid_by_day"] == {clock.now().date().isoformat(): 2000}
    assert facts_now["paid_total"] == 3000 and facts_now["first_paid_at"].date().isoformat() == first_day
    assert facts_now["last_paid_at"] - facts_now["first_paid_at"] == timedelta(days=367)


class StreamRecord:
    """The two images of an orders-stream record, as Chalice's DynamoDBRecord carries them."""

    def __init__(self, old: dict, new: dict):
        serializer = TypeSerializer()
        self.old_image = {key: serializer.serialize(value) for key, value in old.items()}
        self.new_image = {key: serializer.serialize(value) for key, value in new.items()}


def test_a_payment_costs_four_calls_and_a_redelivered_one_a_single_read(aws, frozen_clock, dynamodb_calls):
    from chalicelib.segments import facts

    order = {"order_id": "01COST00000000000000000000", "user_id": "U-cost", "payable": 5000,
             "paid_at": clock.iso(clock.now())}
    dynamodb_calls.clear()
    assert facts.record_payment(order) is True
    assert dynamodb_calls.counts() == {"GetItem": 3, "TransactWriteItems": 1}, dynamodb_calls
    dynamodb_calls.clear()
    assert facts.record_payment(order) is False
    assert dynamodb_calls.counts() == {"GetItem": 1}, dynamodb_calls


def test_a_payment_applied_between_a_refunds_read_and_its_commit_is_still_refunded(aws, frozen_clock, monkeypatch):
    """The payment's record redriven from the dead-letter queue while the refund's record is being applied."""
    from chalicelib.segments import facts

    order = {"order_id": "01RACE00000000000000000000", "user_id": "U-race", "payable": 5000,
             "paid_at": clock.iso(clock.now())}
    real_get, raced = facts.get_or_none, []

    def payment_lands_right_after_the_refund_looks(model, key, *args, **kwargs):
        found = real_get(model, key, *args, **kwargs)
        if key == f"effect#segments-paid#{order['order_id']}" and not raced:
            raced.append(key)
            assert facts.record_payment(order) is True
        return found

    monkeypatch.setattr(facts, "get_or_none", payment_lands_right_after_the_refund_looks)
    assert facts.record_refund(order) is True
    assert raced, "the race was staged"
    after = facts_of("U-race")
    assert (after["paid_orders"], after["refunded_orders"], after["paid_total"]) == (1, 1, 0)
