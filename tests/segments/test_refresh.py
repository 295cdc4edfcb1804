"""The scheduled computation: each buyer in the segments their registration and payments put them in, only
the difference written, recomputed when due or when the thresholds change; a deleted account is in none."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.core import clock
from tests.conftest import buyer_token
from tests.marketing.conftest import fresh as fresh_buyer
from tests.segments.conftest import fresh, members_of, paid_order, registered, run_schedule


def snapshot(segment: str):
    from chalicelib.segments.models import SegmentSnapshotModel

    return SegmentSnapshotModel.get(segment, consistent_read=True)


def joined_at(segment: str, user_id: str):
    from chalicelib.segments.models import SegmentMemberModel

    return SegmentMemberModel.get(segment, user_id, consistent_read=True).joined_at


def shop_history(client, shop, frozen_clock) -> dict:
    """Buyers whose registrations and payments place them around the default thresholds, on 2026-11-25."""
    start = clock.now()
    frozen_clock.set(start - timedelta(days=200))
    buyers = {name: registered(client, name) for name in ("dora", "hugo", "larry", "ada")}
    paid_order(shop, buyers["dora"], 10_000)
    paid_order(shop, buyers["hugo"], 60_000)
    frozen_clock.set(start - timedelta(days=100))
    paid_order(shop, fresh_buyer(buyers["hugo"]), 40_000)
    frozen_clock.set(start - timedelta(days=60))
    paid_order(shop, fresh_buyer(buyers["larry"]), 10_000)
    frozen_clock.set(start - timedelta(days=10))
    paid_order(shop, fresh_buyer(buyers["ada"]), 10_000)
    frozen_clock.set(start)
    buyers["nina"] = registered(client, "nina")
    leaver = registered(client, "leaver")
    assert client.as_token(buyer_token(leaver.user_id)).delete("/me").status_code == 204
    return {name: buyer.user_id for name, buyer in buyers.items()}


def test_each_buyer_lands_in_the_segments_their_history_says(app, client, shop, pump, frozen_clock):
    ids = shop_history(client, shop, frozen_clock)
    pump.drain()
    run_schedule(app)
    assert members_of("NEW") == {ids["nina"]}, "registered today; the deleted account is in no segment"
    assert members_of("ACTIVE") == {ids["ada"]}
    assert members_of("DORMANT") == {ids["dora"], ids["hugo"]}, "larry paid 60 days ago: lapsing, neither"
    assert members_of("HIGH_VALUE") == {ids["hugo"]}, "¥600 + ¥400 within the year"
    assert [int(snapshot(name).size) for name in ("NEW", "ACTIVE", "DORMANT", "HIGH_VALUE")] == [1, 1, 2, 1]
    assert snapshot("NEW").computed_at == clock.now()


def test_a_later_run_writes_who_joined_and_who_left_and_keeps_who_stayed(app, client, shop, pump, frozen_clock,
                                                                         dynamodb_calls):
    ids = shop_history(client, shop, frozen_clock)
    pump.drain()
    run_schedule(app)
    first_run = clock.now()
    frozen_clock.advance(days=21)
    run_schedule(app)
    assert members_of("NEW") == set(), "registered 21 days ago"
    assert members_of("ACTIVE") == set(), "ada paid 31 days ago"
    assert members_of("DORMANT") == {ids["dora"], ids["hugo"]}
    assert joined_at("DORMANT", ids["dora"]) == first_run, "a buyer who stays keeps the day they joined"
    assert snapshot("ACTIVE").computed_at == clock.now() and int(snapshot("ACTIVE").size) == 0
    dynamodb_calls.clear()
    frozen_clock.advance(days=1)
    run_schedule(app)
    assert "BatchWriteItem" not in dynamodb_calls, "nobody joined or left: nothing to write but the snapshots"


def test_a_run_before_the_interval_does_nothing_and_new_thresholds_make_it_due(app, client, shop, pump, owner,
                                                                              frozen_clock):
    ids = shop_history(client, shop, frozen_clock)
    pump.drain()
    run_schedule(app)
    computed = clock.now()
    frozen_clock.set(computed + timedelta(minutes=59))
    run_schedule(app)
    assert snapshot("ACTIVE").computed_at == computed, "within MALL_SEGMENTS_REFRESH_MINUTES (60)"
    frozen_clock.advance(days=21)
    saved = fresh(owner).put("/admin/segments/thresholds", {"new_days": 30, "active_days": 60, "dormant_days": 90,
                                                            "high_value_fen": 200_000, "high_value_days": 365})
    assert saved.status_code == 200, saved.data
    listed = fresh(owner).get("/admin/segments").data
    assert all(item["stale"] for item in listed["items"]), listed
    frozen_clock.advance(minutes=1)
    run_schedule(app)
    assert members_of("ACTIVE") == {ids["ada"]}, "31 days ago is within 60"
    assert members_of("NEW") == {ids["nina"]}, "21 days ago is within 30"
    assert members_of("HIGH_VALUE") == set(), "¥1000 is below ¥2000"
    listed = fresh(owner).get("/admin/segments").data
    assert not any(item["stale"] for item in listed["items"])
    assert listed["items"][1]["computed_with"]["active_days"] == 60


def test_the_refresh_interval_is_configurable(app, client, shop, pump, frozen_clock, monkeypatch):
    shop_history(client, shop, frozen_clock)
    run_schedule(app)
    monkeypatch.setenv("MALL_SEGMENTS_REFRESH_MINUTES", "0")
    frozen_clock.advance(seconds=1)
    run_schedule(app)
    assert snapshot("NEW").computed_at == clock.now(), "0: every run computes"
