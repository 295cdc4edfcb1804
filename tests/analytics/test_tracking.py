"""POST /track: the storefront's events, queued, then counted once per request however often delivered."""
from __future__ import annotations

import json

import pytest

from tests.analytics.conftest import dashboard, track
from tests.conftest import buyer_token, staff_token

DAY = "2026-11-25"
VIEW = {"type": "PAGE_VIEW"}


def product_view(product_id: str = "P1") -> dict:
    return {"type": "PRODUCT_VIEW", "product_id": product_id}


def test_events_from_a_device_are_accepted_queued_and_counted(client, owner, pump, raw_events):
    answer = track(client, [VIEW, product_view("P1"), {"type": "SEARCH", "q": "羽绒服"},
                            {"type": "SHARE", "product_id": "P1", "at": "2026-11-25T12:00:00+08:00"}],
                   device="device-1")
    assert answer.status_code == 202 and answer.data["accepted"] == 4, answer.data
    pump.drain()

    figures = dashboard(owner, DAY, DAY)
    assert {name: figures["totals"][name] for name in ("page_views", "product_views", "searches", "shares")} == \
        {"page_views": 1, "product_views": 1, "searches": 1, "shares": 1}
    assert figures["funnel"]["visitors"] == 1 and figures["funnel"]["product_viewers"] == 1
    [top] = figures["top_products"]
    assert (top["product_id"], top["views"], top["title"]) == ("P1", 1, None)
    share = raw_events.events[-1]
    assert share["type"] == "SHARE" and share["client_at"] == "2026-11-25T04:00:00.000Z"
    assert share["visitor"] == "d:device-1" and share["day"] == DAY and share["device_id"] == "device-1"
    assert share["event_id"] == f"track#{answer.data['request_id']}#3"


def test_a_buyer_token_names_the_visitor_whatever_the_device(client, owner, pump, raw_events):
    token = buyer_token("U-tracked")
    assert track(client, [VIEW], token=token, device="phone-a").status_code == 202
    assert track(client, [VIEW], token=token, device="phone-b").status_code == 202
    assert track(client, [VIEW], token=token).status_code == 202
    assert track(client, [VIEW], device="phone-a").status_code == 202  # the same phone before logging in
    pump.drain()

    assert dashboard(owner, DAY, DAY)["funnel"]["visitors"] == 2, "the buyer once, the anonymous device once"
    assert {event["visitor"] for event in raw_events.events} == {"u:U-tracked", "d:phone-a"}
    assert [event.get("device_id") for event in raw_events.events] == ["phone-a", "phone-b", None, "phone-a"]


def test_a_visitor_counts_once_per_day_and_step_and_again_the_next_day(client, owner, pump, frozen_clock):
    for _ in range(3):
        assert track(client, [VIEW, product_view("P1"), product_view("P2")], device="loyal").status_code == 202
    pump.drain()
    frozen_clock.advance(days=1)
    assert track(client, [product_view("P1")], device="loyal").status_code == 202
    pump.drain()

    first, second = (dashboard(owner, day, day) for day in (DAY, "2026-11-26"))
    assert (first["funnel"]["visitors"], first["funnel"]["product_viewers"]) == (1, 1)
    assert first["totals"]["product_views"] == 6 and first["totals"]["page_views"] == 3
    assert (second["funnel"]["visitors"], second["funnel"]["product_viewers"]) == (1, 1)
    both = dashboard(owner, DAY, "2026-11-26")
    assert both["funnel"]["visitors"] == 1 and both["distinct"]["method"] == "hyperloglog"
    assert [day["funnel"]["visitors"] for day in both["by_day"]] == [1, 1]


def test_a_redelivered_message_counts_once(aws, frozen_clock, raw_events):
    """SQS delivers at least once: the same message body, received again, moves nothing."""
    from chalicelib.analytics import counters, tracking
    from chalicelib.analytics.models import TOTALS

    body = json.dumps({"v": 1, "request_id": "R-again", "received_at": "2026-11-25T04:00:00.000Z", "day": DAY,
                       "visitor": "d:again", "user_id": None, "device_id": "again",
                       "events": [VIEW, product_view("P9")]})
    assert tracking.consume([("m-1", body)]) == []
    assert tracking.consume([("m-1", body), ("m-2", body)]) == []
    row = counters.read_rows([(DAY, TOTALS)], consistent=True)[(DAY, TOTALS)]
    assert (row["page_views"], row["product_views"], row["visitors"], row["product_viewers"]) == (1, 1, 1, 1)


def test_a_message_whose_raw_events_fail_comes_back_and_counts_once(client, owner, app, raw_events, monkeypatch):
    from chalicelib.core.events import queue_name
    from infra.local.pump import EventPump

    failures = []

    def refuse_twice(events):  # the batch, then the message on its own
        if len(failures) < 2:
            failures.append(len(events))
            raise RuntimeError("Firehose throttled")
        raw_events.events.extend(events)

    monkeypatch.setattr(raw_events, "put", refuse_twice)
    pump = EventPump(app, raise_errors=False)
    # a failed message shows again after the queue's visibility timeout: none here, so the same drain sees it
    url = pump._sqs.get_queue_url(QueueName=queue_name("analytics-events"))["QueueUrl"]
    pump._sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})
    assert track(client, [VIEW, VIEW], device="unlucky").status_code == 202
    pump.drain()

    assert failures == [2, 2], "counted, then the sink refused the batch and the message alone: reported failed"
    assert dashboard(owner, DAY, DAY)["totals"]["page_views"] == 2, "its second delivery counted nothing"
    assert len(raw_events.events) == 2, "its second delivery wrote the raw events"


def test_an_unreadable_message_is_reported_failed_not_dropped(aws, raw_events):
    from chalicelib.analytics import tracking

    good = json.dumps({"v": 1, "request_id": "R-good", "received_at": "2026-11-25T04:00:00.000Z", "day": DAY,
                       "visitor": "d:x", "events": [VIEW]})
    assert tracking.consume([("bad-1", "not json"), ("bad-2", json.dumps({"v": 9})), ("good", good)]) == \
        ["bad-1", "bad-2"]
    assert len(raw_events.events) == 1


@pytest.mark.parametrize("events, field", [
    ([{"type": "CLICK"}], "events.0.type"),
    ([{"type": "PRODUCT_VIEW"}], "events.0"),
    ([{"type": "SEARCH"}], "events.0"),
    ([{"type": "SEARCH", "q": ""}], "events.0.q"),
    ([{"type": "PAGE_VIEW", "at": "yesterday"}], "events.0.at"),
    ([{"type": "PAGE_VIEW", "at": "2026-11-25T12:00:00"}], "events.0.at"),
    ([{"type": "PAGE_VIEW", "extra": 1}], "events.0.extra"),
    ([{"type": "PRODUCT_VIEW", "product_id": "../etc"}], "events.0.product_id"),
    ([], "events"),
    ([VIEW] * 51, "events"),
])
def test_bad_events_are_400_naming_the_field(client, events, field):
    answer = track(client, events, device="device-1")
    assert answer.status_code == 400, answer.data
    assert answer.data["error"]["code"] == "VALIDATION_ERROR"
    assert field in [detail["field"] for detail in answer.data["error"]["details"]], answer.data


def test_fifty_events_are_the_most_one_request_carries(client, owner, pump):
    assert track(client, [VIEW] * 50, device="busy").status_code == 202
    pump.drain()
    assert dashboard(owner, DAY, DAY)["totals"]["page_views"] == 50


def test_who_may_track(client):
    assert track(client, [VIEW]).data["error"]["code"] == "DEVICE_ID_REQUIRED"
    assert track(client, [VIEW]).status_code == 400
    bad_device = track(client, [VIEW], device="a b")
    assert bad_device.status_code == 400 and bad_device.data["error"]["code"] == "INVALID_DEVICE_ID"
    assert track(client, [VIEW], device="x" * 65).status_code == 400
    assert track(client, [VIEW], token="not-a-token", device="d1").status_code == 401
    assert track(client, [VIEW], token=staff_token("analyst", "owner"), device="d1").status_code == 403
    not_json = client.post("/track", raw="{", headers={"X-Device-Id": "d1"})
    assert not_json.status_code == 400 and not_json.data["error"]["code"] == "INVALID_JSON"


def test_odd_text_and_times_at_the_calendars_edge_are_answered_not_crashed(client, owner, pump, raw_events):
    edge = track(client, [{"type": "PAGE_VIEW", "at": "0001-01-01T00:00:00+01:00"}], device="edge")
    assert edge.status_code == 400 and edge.data["error"]["details"][0]["field"] == "events.0.at", edge.data
    odd = track(client, [{"type": "SEARCH", "q": "\uffff\ufffe连衣裙\u0000"}], device="odd")
    assert odd.status_code == 202, odd.data  # SQS refuses U+FFFF in a message: the mall sends it escaped
    pump.drain()
    assert raw_events.events[-1]["q"] == "\uffff\ufffe连衣裙\u0000"
