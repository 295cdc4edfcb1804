"""The owner's backfill: orders placed before analytics counted them, replayed into the counters once each.

Every fact is counted once whichever of the live orders stream and the backfill sees it first, or both at once.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest

from tests.analytics.conftest import buyer, dashboard, day_figures, pay
from tests.conftest import staff_token

DAY = "2026-11-25"  # the frozen clock's 04:00 UTC is noon in Shanghai


@contextmanager
def analytics_not_deployed():
    """The orders stream's other subscribers run; the dashboard's counters see nothing (analytics came later)."""
    from chalicelib.analytics import orders

    real = orders.count_order_changes
    orders.count_order_changes = lambda records: 0
    try:
        yield
    finally:
        orders.count_order_changes = real


def trade(shop, alice, bob, owner) -> dict[str, dict]:
    """Three orders: alice's paid then refunded, bob's cancelled, bob's paid."""
    refunded = alice.placed({shop.sku(price=12000): 1})
    pay(alice.api, refunded["order_id"])
    assert alice.api.post(f"/orders/{refunded['order_id']}/refund", {"reason": "拍错了"}).status_code == 200
    assert owner.post(f"/admin/orders/{refunded['order_id']}/refund/approve").data["status"] == "REFUNDED"
    cancelled = bob.placed({shop.sku(price=3000): 1})
    assert bob.api.post(f"/orders/{cancelled['order_id']}/cancel").status_code == 200
    paid = bob.placed({shop.sku(price=4500): 2})
    pay(bob.api, paid["order_id"])
    return {"refunded": refunded, "cancelled": cancelled, "paid": paid}


def assert_counted_once(owner, orders: dict[str, dict]) -> None:
    answer = dashboard(owner, DAY, DAY)
    totals, refunded, paid = answer["totals"], orders["refunded"]["payable"], orders["paid"]["payable"]
    assert (totals["orders"], totals["paid_orders"]) == (3, 2), totals
    assert (totals["gmv"], totals["refunds"], totals["net_gmv"]) == (refunded + paid, refunded, paid), totals
    assert (totals["buyers"], totals["new_buyers"]) == (2, 2), totals
    statuses = {status: count for status, count in answer["orders_by_status"].items() if count}
    assert statuses == {"REFUNDED": 1, "CANCELLED": 1, "PAID": 1}, answer["orders_by_status"]
    assert answer["funnel"]["order_creators"] == 2 and answer["funnel"]["payers"] == 2


def start(owner, first: str = DAY, last: str = DAY) -> dict:
    response = owner.post("/admin/analytics/backfill", {"from": first, "to": last})
    assert response.status_code == 202, response.data
    assert response.data["status"] == "RUNNING" and response.data["pages"] == 0
    return response.data


def job(owner, job_id: str) -> dict:
    response = owner.get(f"/admin/analytics/backfill/{job_id}")
    assert response.status_code == 200, response.data
    return response.data


@pytest.fixture
def bob(client):
    return buyer(client, "bob")


def test_a_backfill_counts_the_orders_placed_before_analytics_counted(app, shop, alice, bob, owner, pump, raw_events):
    with analytics_not_deployed():
        orders = trade(shop, alice, bob, owner)
        pump.drain()
    assert day_figures(owner, DAY)["orders"] == 0

    started = start(owner)
    pump.drain()

    done = job(owner, started["job_id"])
    assert (done["status"], done["pages"], done["orders_read"]) == ("DONE", 1, 3), done
    assert done["counted"] == 3 + 2 + 1 + 2 and done["already_counted"] == 0, "placed, paid, refunded, first payments"
    assert done["live_since"] == DAY and done["finished_at"] is not None
    assert_counted_once(owner, orders)
    kinds = sorted(event["type"] for event in raw_events.events)
    assert kinds == ["ORDER_CREATED"] * 3 + ["ORDER_PAID"] * 2 + ["REFUND_SETTLED"]

    from infra.local.pump import EventPump

    EventPump(app, raise_errors=True).drain()  # every stream record of the day, now with analytics deployed
    assert_counted_once(owner, orders)


def test_a_backfill_after_the_live_stream_counts_nothing_again(shop, alice, bob, owner, pump):
    orders = trade(shop, alice, bob, owner)
    pump.drain()
    assert_counted_once(owner, orders)
    before = dashboard(owner, DAY, DAY)

    started = start(owner)
    pump.drain()

    done = job(owner, started["job_id"])
    assert (done["status"], done["counted"], done["already_counted"]) == ("DONE", 0, 8), done
    assert dashboard(owner, DAY, DAY) == before


def test_the_live_stream_after_a_backfill_counts_nothing_again(shop, alice, bob, owner, pump):
    from chalicelib.analytics import backfill

    orders = trade(shop, alice, bob, owner)  # the stream's records wait, undelivered
    started = start(owner)
    assert backfill.work(started["job_id"], 0) == "DONE"
    assert_counted_once(owner, orders)

    pump.drain()  # now the stream delivers every record of the day (and the page's message, a duplicate)
    assert_counted_once(owner, orders)
    assert job(owner, started["job_id"])["counted"] == 8


@pytest.mark.parametrize("attempt", range(5))
def test_the_live_stream_and_a_backfill_racing_count_each_fact_once(shop, alice, bob, owner, pump, atomic_dynamodb,
                                                                     attempt):
    from chalicelib.analytics import backfill

    orders = trade(shop, alice, bob, owner)
    started = start(owner)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def run(work) -> None:
        barrier.wait()
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(work,)) for work in (
        pump.drain,  # the stream's records and the page's message
        lambda: backfill.work(started["job_id"], 0),  # the same page, delivered twice at once
        lambda: backfill.work(started["job_id"], 0))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pump.drain()
    assert errors == []
    assert_counted_once(owner, orders)
    done = job(owner, started["job_id"])
    assert done["status"] == "DONE" and done["counted"] + done["already_counted"] == 8, done


def test_an_order_placed_before_analytics_and_moved_after_counts_once_in_its_status_now(shop, alice, owner, pump):
    with analytics_not_deployed():
        order = alice.placed({shop.sku(price=2500): 1})
        pump.drain()
    pay(alice.api, order["order_id"])
    pump.drain()  # the live stream counts the move: -1 PENDING_PAYMENT, +1 PAID, and the payment
    assert dashboard(owner, DAY, DAY)["orders_by_status"]["PENDING_PAYMENT"] == -1

    start(owner)
    pump.drain()

    answer = dashboard(owner, DAY, DAY)
    assert answer["totals"]["orders"] == 1 and answer["totals"]["paid_orders"] == 1
    assert {status: n for status, n in answer["orders_by_status"].items() if n} == {"PAID": 1}


def test_facts_of_days_whose_live_markers_may_have_expired_are_left_to_the_live_count(shop, alice, bob, owner, pump,
                                                                                       frozen_clock):
    frozen_clock.set("2026-11-24T04:00:00Z")
    with analytics_not_deployed():
        before = alice.placed({shop.sku(price=2000): 1})
        pay(alice.api, before["order_id"])
        pump.drain()
    frozen_clock.set("2026-11-25T04:00:00Z")
    live = bob.placed({shop.sku(price=3000): 1})
    pay(bob.api, live["order_id"])
    pump.drain()
    frozen_clock.advance(days=40)
    expire_markers()
    counted_live = dashboard(owner, DAY, DAY)

    started = start(owner, "2026-11-24", DAY)
    pump.drain()

    done = job(owner, started["job_id"])
    assert done["live_since"] == DAY and done["orders_read"] == 2
    assert (done["counted"], done["left_to_live"]) == (3, 3), "alice's three facts; bob's placed, paid, first payment"
    assert dashboard(owner, DAY, DAY) == counted_live, "the live count of the 25th was not counted again"
    earlier = day_figures(owner, "2026-11-24")
    assert (earlier["orders"], earlier["gmv"], earlier["new_buyers"]) == (1, before["payable"], 1)


def expire_markers() -> None:
    """What DynamoDB's TTL does: markers past their `expires` are gone."""
    from chalicelib.analytics.models import Mark
    from chalicelib.core import clock

    for mark in Mark.scan():
        if mark.expires is not None and mark.expires <= clock.now():
            mark.delete()


def test_orders_are_read_page_by_page_and_only_from_the_range(shop, alice, owner, pump, frozen_clock, monkeypatch):
    from chalicelib.analytics import backfill

    monkeypatch.setattr(backfill, "PAGE_SIZE", 2)
    with analytics_not_deployed():
        frozen_clock.set("2026-11-24T15:59:59Z")  # 23:59:59 of the 24th in Shanghai: outside the range
        alice.placed({shop.sku(price=1000): 1})
        frozen_clock.set("2026-11-24T16:00:00Z")  # midnight: the 25th's first moment
        placed = [alice.placed({shop.sku(price=1000 + n): 1})["order_id"] for n in range(5)]
        frozen_clock.set("2026-11-25T15:59:59.999Z")  # the 25th's last millisecond
        placed.append(alice.placed({shop.sku(price=2000): 1})["order_id"])
        frozen_clock.set("2026-11-25T16:00:00Z")  # the 26th: outside
        alice.placed({shop.sku(price=1000): 1})
        pump.drain()

    started = start(owner)
    pump.drain()

    done = job(owner, started["job_id"])
    assert (done["status"], done["pages"], done["orders_read"]) == ("DONE", 3, 6), done
    assert day_figures(owner, DAY)["orders"] == 6
    assert day_figures(owner, "2026-11-24")["orders"] == 0 and day_figures(owner, "2026-11-26")["orders"] == 0


def test_checkout_pages_orders_oldest_first_across_its_shards(shop, alice, frozen_clock):
    from chalicelib.checkout.history import orders_placed_between
    from chalicelib.core import clock

    start_at = clock.now()
    placed = []
    for n in range(12):
        frozen_clock.advance(seconds=1)
        placed.append(alice.placed({shop.sku(price=1000 + n): 1})["order_id"])
    seen, after = [], None
    while True:
        page, after = orders_placed_between(start_at, clock.now(), after, 5)
        seen += [order["order_id"] for order in page]
        assert all("address" not in order for order in page), "the sealed address stays in checkout"
        if after is None:
            break
    assert seen == placed


def test_a_cancelled_backfill_starts_no_page_and_answers_as_it_is(shop, alice, owner, pump):
    with analytics_not_deployed():
        alice.placed({shop.sku(price=1000): 1})
        pump.drain()
    started = start(owner)

    cancelled = owner.post(f"/admin/analytics/backfill/{started['job_id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.data["status"] == "CANCELLED", cancelled.data
    assert cancelled.data["cancelled_by"] == "boss" and cancelled.data["finished_at"]
    pump.drain()

    assert job(owner, started["job_id"])["pages"] == 0 and day_figures(owner, DAY)["orders"] == 0
    again = owner.post(f"/admin/analytics/backfill/{started['job_id']}/cancel")
    assert again.status_code == 200 and again.data == cancelled.data
    resumed = owner.post(f"/admin/analytics/backfill/{started['job_id']}/resume")
    assert resumed.status_code == 409 and resumed.data["error"]["code"] == "BACKFILL_NOT_RUNNING"


def test_a_done_backfill_cannot_be_cancelled(owner, pump):
    started = start(owner)
    pump.drain()
    assert job(owner, started["job_id"])["status"] == "DONE"
    response = owner.post(f"/admin/analytics/backfill/{started['job_id']}/cancel")
    assert response.status_code == 409 and response.data["error"]["code"] == "BACKFILL_DONE"


def test_a_page_that_fails_comes_back_and_counts_once(app, shop, alice, owner, monkeypatch):
    from chalicelib.analytics import backfill
    from chalicelib.checkout import history
    from infra.local.pump import EventPump

    tolerant = EventPump(app)  # a failing message stays on the queue, as in SQS
    tolerant.create_queues()
    with analytics_not_deployed():
        order = alice.placed({shop.sku(price=1000): 1})
        pay(alice.api, order["order_id"])
        tolerant.drain()
    real_read, real_record, calls = history.orders_placed_between, backfill._record, []

    def unreachable_first(*args, **kwargs):
        calls.append("read")
        if calls.count("read") == 1:
            raise ConnectionError("DynamoDB unreachable")
        return real_read(*args, **kwargs)

    def dies_after_counting_once(*args, **kwargs):
        calls.append("record")
        if calls.count("record") == 1:
            raise ConnectionError("the Lambda was recycled after the page counted")
        return real_record(*args, **kwargs)

    monkeypatch.setattr(history, "orders_placed_between", unreachable_first)
    monkeypatch.setattr(backfill, "_record", dies_after_counting_once)
    visible_again_at_once()
    started = start(owner)
    tolerant.drain()

    done = job(owner, started["job_id"])
    assert calls == ["read", "read", "record", "read", "record"], "delivered three times"
    assert (done["status"], done["pages"], done["orders_read"]) == ("DONE", 1, 1), done
    assert (done["counted"], done["already_counted"]) == (0, 3), "the third delivery found its facts counted"
    figures = day_figures(owner, DAY)
    assert (figures["orders"], figures["paid_orders"], figures["gmv"]) == (1, 1, order["payable"])


def visible_again_at_once() -> None:
    from tests.segments.conftest import visible_again_at_once as visible

    visible("analytics-backfill")


def test_a_job_whose_message_was_lost_shows_stalled_and_resumes(shop, alice, owner, pump, frozen_clock):
    from tests.segments.conftest import purge

    with analytics_not_deployed():
        alice.placed({shop.sku(price=1000): 1})
        pump.drain()
    started = start(owner)
    purge("analytics-backfill")  # the page's message is lost
    pump.drain()
    assert job(owner, started["job_id"])["stalled"] is False
    frozen_clock.advance(minutes=16)
    assert job(owner, started["job_id"])["stalled"] is True

    resumed = owner.post(f"/admin/analytics/backfill/{started['job_id']}/resume")
    assert resumed.status_code == 200 and resumed.data["status"] == "RUNNING"
    pump.drain()
    assert job(owner, started["job_id"])["status"] == "DONE" and day_figures(owner, DAY)["orders"] == 1


def test_a_message_the_mall_did_not_write_is_dropped(app):
    from chalicelib.analytics import backfill

    for body in ("{", "[]", '{"job_id": "J", "page": -1}', '{"job_id": 5, "page": 0}', '{"job_id": "J", "page": true}'):
        with pytest.raises(ValueError, match="not a backfill page"):
            backfill.page_of(body)
    assert backfill.work("01JNOSUCHJOB00000000000000", 0) == "duplicate"


@pytest.mark.parametrize(("body", "code"), [
    ({"from": "2026-11-25"}, "VALIDATION_ERROR"),
    ({"from": "2026-11-25", "to": "2026-11-25", "extra": 1}, "VALIDATION_ERROR"),
    ({"from": "25/11/2026", "to": "2026-11-25"}, "INVALID_DATE"),
    ({"from": "2026-11-25", "to": "2026-13-01"}, "INVALID_DATE"),
    ({"from": "2026-11-25", "to": "2026-11-24"}, "INVALID_RANGE"),
    ({"from": "2026-11-25", "to": "2026-11-26"}, "INVALID_RANGE"),
    ({"from": "2025-01-01", "to": "2026-11-25"}, "RANGE_TOO_LONG"),
])
def test_a_bad_range_is_refused(owner, body, code):
    response = owner.post("/admin/analytics/backfill", body)
    assert response.status_code == 400 and response.data["error"]["code"] == code, response.data


def test_only_an_owner_backfills(client, owner):
    from chalicelib.admin import service
    from chalicelib.admin.passwords import ScryptCost

    body = {"from": DAY, "to": DAY}
    assert client.post("/admin/analytics/backfill", body).status_code == 401
    service.create_staff("clerk", "clerk-password", "operator", cost=ScryptCost(n=2**4, r=8, p=1))
    operator = client.as_token(staff_token("clerk", "operator"))
    assert operator.post("/admin/analytics/backfill", body).status_code == 403
    assert operator.get("/admin/analytics/backfill/01JNOSUCHJOB00000000000000").status_code == 403
    assert owner.get(
        "/admin/analytics/backfill/01JNOSUCHJOB00000000000000").data["error"]["code"] == "BACKFILL_NOT_FOUND"
    for action in ("cancel", "resume"):
        response = owner.post(f"/admin/analytics/backfill/01JNOSUCHJOB00000000000000/{action}")
        assert response.status_code == 404, response.data
