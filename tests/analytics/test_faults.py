"""Counters under the failures DynamoDB and the triggers really have: lost replies, conflicts, racing deliveries."""
from __future__ import annotations

import json
import threading

import pytest

from tests.faults import failing_calls, reply_lost_after_commit, transaction_cancelled

DAY = "2026-11-25"


def message(request_id: str, visitor: str = "d:x", events=({"type": "PAGE_VIEW"},)) -> str:
    return json.dumps({"v": 1, "request_id": request_id, "received_at": "2026-11-25T04:00:00.000Z", "day": DAY,
                       "visitor": visitor, "events": list(events)})


def totals() -> dict:
    from chalicelib.analytics import counters
    from chalicelib.analytics.models import TOTALS

    return counters.read_rows([(DAY, TOTALS)], consistent=True).get((DAY, TOTALS), {})


def test_a_counting_transaction_whose_reply_was_lost_counts_once(aws, raw_events):
    from chalicelib.analytics import tracking

    with reply_lost_after_commit("TransactWriteItems") as lost:
        assert tracking.consume([("m-1", message("R-lost"))]) == []
    assert lost == ["TransactWriteItems"]
    assert totals()["page_views"] == 1 and totals()["visitors"] == 1


def test_a_sketch_write_whose_reply_was_lost_is_recognised(aws, raw_events):
    from chalicelib.analytics import counters, sketch
    from chalicelib.analytics.distinct import VISITORS, Sighting, record
    from chalicelib.analytics.models import sketch_slot

    with reply_lost_after_commit("UpdateItem") as lost:
        record([Sighting(DAY, VISITORS, "d:lost-sketch")])
    assert lost == ["UpdateItem"]
    row = counters.read_rows([(DAY, sketch_slot(VISITORS))], consistent=True)[(DAY, sketch_slot(VISITORS))]
    assert row["version"] == 1 and sketch.estimate(sketch.decode(row["registers"])) == 1


def test_a_conflicting_transaction_is_retried_and_counts_once(aws, raw_events):
    from chalicelib.analytics import tracking
    from chalicelib.core import db

    client = db.connection().client
    with failing_calls(client, "TransactWriteItems", [transaction_cancelled("None", "TransactionConflict")] * 2):
        assert tracking.consume([("m-1", message("R-conflict"))]) == []
    assert totals()["page_views"] == 1


def test_a_batch_holding_a_counted_request_counts_only_the_new_ones(aws, raw_events):
    from chalicelib.analytics import tracking

    assert tracking.consume([("m-1", message("R-1"))]) == []
    assert tracking.consume([("m-1", message("R-1")), ("m-2", message("R-2")), ("m-3", message("R-3"))]) == []
    assert totals()["page_views"] == 3


@pytest.mark.parametrize("attempt", range(5))
def test_the_same_message_delivered_to_two_pollers_at_once_counts_once(aws, atomic_dynamodb, raw_events, attempt):
    from chalicelib.analytics import tracking

    body = message(f"R-race-{attempt}", visitor=f"d:racer-{attempt}")
    barrier = threading.Barrier(4)
    failed: list[list[str]] = []

    def deliver() -> None:
        barrier.wait()
        failed.append(tracking.consume([("m", body)]))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == [[], [], [], []]
    assert totals()["page_views"] == 1 and totals()["visitors"] == 1


@pytest.mark.parametrize("attempt", range(3))
def test_racing_batches_lose_no_visitor_from_a_days_sketch(aws, atomic_dynamodb, raw_events, attempt):
    from chalicelib.analytics import counters, sketch
    from chalicelib.analytics.distinct import VISITORS, Sighting, record
    from chalicelib.analytics.models import sketch_slot

    barrier = threading.Barrier(4)

    def deliver(worker: int) -> None:
        barrier.wait()
        record([Sighting(DAY, VISITORS, f"d:{worker}-{n}") for n in range(25)])

    threads = [threading.Thread(target=deliver, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    row = counters.read_rows([(DAY, sketch_slot(VISITORS))], consistent=True)[(DAY, sketch_slot(VISITORS))]
    everyone = sketch.empty()
    sketch.add(everyone, [f"d:{worker}-{n}" for worker in range(4) for n in range(25)])
    assert sketch.decode(row["registers"]) == everyone, "a concurrent merge lost a visitor"
    assert totals()["visitors"] == 100


def test_a_chunk_holding_facts_counted_meanwhile_is_committed_again_without_them(aws, dynamodb_calls):
    """The look-up before a commit is a hint: a fact counted after it fails its marker, and the transaction's
    cancellation reasons name it, so the rest commits in one more transaction (not one per fact)."""
    from chalicelib.analytics import counters
    from chalicelib.analytics.models import TOTALS

    def fact(n: int) -> counters.Fact:
        return counters.Fact(f"test#{n}").add(DAY, TOTALS, "orders", 1)

    counters.commit([fact(3), fact(7)])
    dynamodb_calls.clear()
    counted = counters.commit([fact(n) for n in range(10)], looked_up=True)
    assert sorted(f.key for f in counted) == sorted(f"test#{n}" for n in range(10) if n not in (3, 7))
    assert dynamodb_calls == ["TransactWriteItems", "TransactWriteItems"]
    assert totals()["orders"] == 10
