"""Granting a coupon template to a segment: one admin action, walked page by page in the background, each
member given at most one coupon by the grant however often a page is delivered, within the template's total
and per-buyer limit, cancellable, and never stuck RUNNING."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from chalicelib.segments import grants
from tests.segments.conftest import (
    coupons_of,
    fresh,
    grant_now,
    new_buyers,
    new_template,
    purge,
    queued,
    run_schedule,
    start_grant,
    visible_again_at_once,
)


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(grants, "PAGE_SIZE", 2)


def no_skips(**counts) -> dict:
    return {"already_holds": 0, "per_user_limit": 0, "template_exhausted": 0, "template_ended": 0,
            "account_deleted": 0, **counts}


def test_a_grant_gives_every_member_one_coupon_page_by_page_and_ends_done(app, client, owner, pump, frozen_clock):
    members = new_buyers(app, 5)
    template = new_template(owner)
    started = start_grant(owner, template["template_id"])
    assert (started["status"], started["total"], started["processed"], started["granted"]) == ("RUNNING", 5, 0, 0)
    pump.drain()
    done = grant_now(owner, started["grant_id"])
    assert (done["status"], done["processed"], done["granted"], done["failed"], done["pages"]) == ("DONE", 5, 5, 0, 3)
    assert done["skipped"] == no_skips() and done["finished_at"] is not None
    for user_id in members:
        [coupon] = coupons_of(user_id, template["template_id"])
        assert (coupon.source, coupon.status) == ("GRANT", "AVAILABLE")
    assert fresh(owner).get(f"/admin/coupon-templates/{template['template_id']}").data["claimed"] == 5


def test_a_page_that_crashed_half_way_is_delivered_again_and_gives_nobody_a_second_coupon(app, client, owner, pump,
                                                                                          frozen_clock, monkeypatch):
    from chalicelib.marketing import service as marketing

    members = new_buyers(app, 5)
    template = new_template(owner)
    real_grant, calls = marketing.grant_coupon, []

    def crashes_once_mid_page(user_id, template_id, grant_key):
        calls.append(user_id)
        given = real_grant(user_id, template_id, grant_key)
        if len(calls) == 3:  # page 1's first buyer got the coupon; the worker dies before recording the page
            raise ConnectionError("the Lambda was recycled")
        return given

    monkeypatch.setattr(marketing, "grant_coupon", crashes_once_mid_page)
    visible_again_at_once()
    pump_tolerant = type(pump)(app)  # a failing message stays on the queue, as in SQS
    started = start_grant(owner, template["template_id"])
    pump_tolerant.drain()
    done = grant_now(owner, started["grant_id"])
    assert (done["status"], done["processed"], done["granted"]) == ("DONE", 5, 5)
    assert calls.count(members[2]) == 2, "page 1 ran again from its cursor"
    assert all(len(coupons_of(user_id, template["template_id"])) == 1 for user_id in members)


@pytest.mark.parametrize("attempt", range(5))
def test_two_deliveries_of_one_page_at_once_give_and_count_each_member_once(app, client, owner, frozen_clock,
                                                                           atomic_dynamodb, attempt):
    members = new_buyers(app, 2)
    template = new_template(owner)
    started = start_grant(owner, template["template_id"])
    purge()
    outcomes, errors = [], []

    def deliver():
        try:
            outcomes.append(grants.work(started["grant_id"], 0))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(outcomes) == ["RUNNING", "duplicate"], outcomes
    recorded = grant_now(owner, started["grant_id"])
    assert (recorded["pages"], recorded["processed"], recorded["granted"]) == (1, 2, 2)
    assert all(len(coupons_of(user_id, template["template_id"])) == 1 for user_id in members)


def test_a_template_exhausted_mid_grant_skips_the_rest_as_exhausted(app, client, owner, pump, frozen_clock):
    members = new_buyers(app, 5)
    template = new_template(owner, total=3)
    started = start_grant(owner, template["template_id"])
    pump.drain()
    done = grant_now(owner, started["grant_id"])
    assert (done["status"], done["granted"], done["processed"]) == ("DONE", 3, 5)
    assert done["skipped"] == no_skips(template_exhausted=2)
    assert [len(coupons_of(user_id, template["template_id"])) for user_id in members] == [1, 1, 1, 0, 0]


def test_the_per_buyer_limit_and_an_unspent_coupon_are_respected(app, client, owner, pump, frozen_clock):
    from tests.conftest import buyer_token

    members = new_buyers(app, 4)
    template = new_template(owner, claimable=True, valid_days=1, per_user_limit=1)
    holder, lapsed = members[0], members[1]
    assert client.as_token(buyer_token(lapsed)).post(f"/marketing/coupons/{template['template_id']}/claim") \
        .status_code == 201
    frozen_clock.advance(days=2)  # the lapsed buyer's coupon expired: spent their one, holds nothing usable
    assert client.as_token(buyer_token(holder)).post(f"/marketing/coupons/{template['template_id']}/claim") \
        .status_code == 201
    started = start_grant(owner, template["template_id"])
    pump.drain()
    done = grant_now(owner, started["grant_id"])
    assert (done["status"], done["granted"]) == ("DONE", 2)
    assert done["skipped"] == no_skips(already_holds=1, per_user_limit=1)
    assert [len(coupons_of(user_id, template["template_id"])) for user_id in members] == [1, 1, 1, 1]

    again = start_grant(owner, template["template_id"], key="grant-key-0002")
    pump.drain()
    assert grant_now(owner, again["grant_id"])["skipped"] == no_skips(already_holds=3, per_user_limit=1)


def test_a_cancel_stops_the_grant_before_its_next_page(app, client, owner, pump, frozen_clock):
    members = new_buyers(app, 5)
    template = new_template(owner)
    started = start_grant(owner, template["template_id"])
    purge()
    assert grants.work(started["grant_id"], 0) == "RUNNING"
    cancelled = fresh(owner).post(f"/admin/coupon-grants/{started['grant_id']}/cancel")
    assert cancelled.status_code == 200, cancelled.data
    assert cancelled.data["status"] == "CANCELLED" and cancelled.data["finished_at"] is not None
    pump.drain()  # page 1's message, queued before the cancel
    done = grant_now(owner, started["grant_id"])
    assert (done["status"], done["granted"], done["processed"], done["pages"]) == ("CANCELLED", 2, 2, 2)
    assert [len(coupons_of(user_id, template["template_id"])) for user_id in members] == [1, 1, 0, 0, 0]
    assert fresh(owner).post(f"/admin/coupon-grants/{started['grant_id']}/cancel").data["status"] == "CANCELLED"


def test_a_page_granting_when_the_cancel_comes_finishes_and_is_counted(app, client, owner, frozen_clock,
                                                                       monkeypatch):
    from chalicelib.marketing import service as marketing

    members = new_buyers(app, 4)
    template = new_template(owner)
    started = start_grant(owner, template["template_id"])
    purge()
    real_grant = marketing.grant_coupon

    def cancelled_meanwhile(user_id, template_id, grant_key):
        if user_id == members[0]:
            grants.cancel_grant(grant_key, actor="boss")
        return real_grant(user_id, template_id, grant_key)

    monkeypatch.setattr(marketing, "grant_coupon", cancelled_meanwhile)
    assert grants.work(started["grant_id"], 0) == "CANCELLED"
    assert queued() == [], "no page queued after a cancel"
    done = grant_now(owner, started["grant_id"])
    assert (done["status"], done["granted"], done["processed"], done["pages"]) == ("CANCELLED", 2, 2, 1)
    assert [len(coupons_of(user_id, template["template_id"])) for user_id in members] == [1, 1, 0, 0]


def test_a_page_that_crashed_then_was_cancelled_counts_what_it_gave_and_gives_no_more(app, client, owner,
                                                                                     frozen_clock, monkeypatch):
    from chalicelib.marketing import service as marketing

    members = new_buyers(app, 4)
    template = new_template(owner)
    started = start_grant(owner, template["template_id"])
    purge()
    real_grant = marketing.grant_coupon

    def crashes_after_the_first(user_id, template_id, grant_key):
        if user_id == members[1]:
            raise ConnectionError("the Lambda was recycled")
        return real_grant(user_id, template_id, grant_key)

    monkeypatch.setattr(marketing, "grant_coupon", crashes_after_the_first)
    with pytest.raises(ConnectionError):
        grants.work(started["grant_id"], 0)
    grants.cancel_grant(started["grant_id"], actor="boss")
    assert grants.work(started["grant_id"], 0, receive_count=2) == "CANCELLED"
    done = grant_now(owner, started["grant_id"])
    assert (done["status"], done["granted"], done["pages"]) == ("CANCELLED", 1, 1)
    assert [len(coupons_of(user_id, template["template_id"])) for user_id in members] == [1, 0, 0, 0]


def test_a_buyer_that_keeps_failing_is_counted_failed_and_the_grant_moves_on(app, client, owner, pump,
                                                                            frozen_clock, monkeypatch):
    from chalicelib.marketing import service as marketing

    members = new_buyers(app, 3)
    template = new_template(owner)
    real_grant = marketing.grant_coupon

    def poisoned(user_id, template_id, grant_key):
        if user_id == members[1]:
            raise RuntimeError("an item this buyer's coupon cannot be written to")
        return real_grant(user_id, template_id, grant_key)

    monkeypatch.setattr(marketing, "grant_coupon", poisoned)
    visible_again_at_once()
    started = start_grant(owner, template["template_id"])
    type(pump)(app).drain()
    done = grant_now(owner, started["grant_id"])
    assert (done["status"], done["granted"], done["failed"], done["processed"]) == ("DONE", 2, 1, 3)


def test_a_member_who_deleted_their_account_is_skipped(app, client, owner, pump, frozen_clock):
    from tests.conftest import buyer_token

    members = new_buyers(app, 3)
    assert client.as_token(buyer_token(members[0])).delete("/me").status_code == 204
    template = new_template(owner)
    started = start_grant(owner, template["template_id"])
    pump.drain()
    done = grant_now(owner, started["grant_id"])
    assert (done["granted"], done["skipped"]) == (2, no_skips(account_deleted=1))
    assert coupons_of(members[0], template["template_id"]) == []


def test_a_grant_whose_next_message_was_lost_is_queued_again_by_the_schedule(app, client, owner, pump,
                                                                            frozen_clock):
    new_buyers(app, 3)
    template = new_template(owner)
    started = start_grant(owner, template["template_id"])
    purge()  # lost: the create committed, its message never reached the queue
    run_schedule(app)
    pump.drain()
    assert grant_now(owner, started["grant_id"])["status"] == "RUNNING", "not stalled yet: within 15 minutes"
    frozen_clock.advance(minutes=grants.STALL_MINUTES, seconds=1)
    run_schedule(app)
    pump.drain()
    done = grant_now(owner, started["grant_id"])
    assert (done["status"], done["granted"]) == ("DONE", 3)


def test_an_empty_segment_is_done_at_once(app, client, owner, pump, frozen_clock):
    run_schedule(app)
    template = new_template(owner)
    started = start_grant(owner, template["template_id"], segment="HIGH_VALUE")
    assert started["total"] == 0
    pump.drain()
    done = grant_now(owner, started["grant_id"])
    assert (done["status"], done["processed"], done["pages"]) == ("DONE", 0, 1)


def test_a_done_grant_cannot_be_cancelled(app, client, owner, pump, frozen_clock):
    new_buyers(app, 1)
    started = start_grant(owner, new_template(owner)["template_id"])
    pump.drain()
    refused = fresh(owner).post(f"/admin/coupon-grants/{started['grant_id']}/cancel")
    assert (refused.status_code, refused.data["error"]["code"]) == (409, "GRANT_DONE")


def test_grant_markers_outlive_a_long_grant(aws):
    from chalicelib.marketing.service import GRANT_MARKER_TTL

    assert GRANT_MARKER_TTL >= timedelta(days=7)


def test_a_page_costs_five_calls_a_buyer_and_four_for_the_page(app, client, owner, frozen_clock, dynamodb_calls):
    new_buyers(app, 2)
    started = start_grant(owner, new_template(owner)["template_id"])
    purge()
    dynamodb_calls.clear()
    assert grants.work(started["grant_id"], 0) == "RUNNING"
    # the page: the grant, its members (Query), their accounts (BatchGetItem), the record (UpdateItem);
    # a buyer: the grant's marker, the template, their coupons of it (Query), their count, the claim's transaction
    assert dynamodb_calls.counts() == {"GetItem": 1 + 2 * 3, "Query": 1 + 2 * 1, "BatchGetItem": 1,
                                       "TransactWriteItems": 2, "UpdateItem": 1}, dynamodb_calls
    dynamodb_calls.clear()
    assert grants.work(started["grant_id"], 0) == "duplicate"
    assert dynamodb_calls.counts() == {"GetItem": 1}, "a page delivered again after it was recorded: one read"


def test_a_page_record_whose_reply_was_lost_is_recognised_and_the_next_page_still_queued(app, client, owner,
                                                                                        frozen_clock):
    from tests.faults import reply_lost_after_commit

    new_buyers(app, 3)
    started = start_grant(owner, new_template(owner)["template_id"])
    purge()
    with reply_lost_after_commit("UpdateItem") as lost:
        assert grants.work(started["grant_id"], 0) == "RUNNING"
    assert lost == ["UpdateItem"]
    assert queued() == [{"grant_id": started["grant_id"], "page": 1}]
    recorded = grant_now(owner, started["grant_id"])
    assert (recorded["pages"], recorded["granted"], recorded["processed"]) == (1, 2, 2), "counted once"
