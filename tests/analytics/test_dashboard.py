"""GET /admin/dashboard: the range it reads, who may read it, and what it costs (days, never orders)."""
from __future__ import annotations

import pytest

from tests.analytics.conftest import dashboard
from tests.conftest import buyer_token


def test_the_default_range_is_the_last_seven_days_to_today(owner):
    answer = dashboard(owner)
    assert (answer["from"], answer["to"], answer["time_zone"]) == ("2026-11-19", "2026-11-25", "Asia/Shanghai")
    assert [day["day"] for day in answer["by_day"]] == [f"2026-11-{n}" for n in range(19, 26)]
    assert answer["totals"]["gmv"] == 0 and answer["top_products"] == [] and answer["campaigns"] == []
    assert set(answer["orders_by_status"]) >= {"PENDING_PAYMENT", "PAID", "CANCELLED", "REFUNDED"}
    assert dashboard(owner, end="2026-11-10")["from"] == "2026-11-04"
    assert dashboard(owner, start="2026-11-24")["to"] == "2026-11-25"


@pytest.mark.parametrize("query, code", [
    ("from=2026-11-25&to=2026-11-24", "INVALID_RANGE"),
    ("from=2026-08-01&to=2026-11-25", "RANGE_TOO_LONG"),
    ("from=2026-13-01", "INVALID_DATE"),
    ("to=20261125", "INVALID_DATE"),
    ("from=yesterday", "INVALID_DATE"),
])
def test_a_bad_range_is_400_with_its_code(owner, query, code):
    answer = owner.get(f"/admin/dashboard?{query}")
    assert answer.status_code == 400 and answer.data["error"]["code"] == code, answer.data


def test_ninety_two_days_are_the_most_one_request_reads(owner, monkeypatch):
    assert dashboard(owner, "2026-08-26", "2026-11-25")["by_day"][0]["day"] == "2026-08-26"
    monkeypatch.setenv("MALL_DASHBOARD_MAX_DAYS", "7")
    too_long = owner.get("/admin/dashboard?from=2026-11-18&to=2026-11-25")
    assert too_long.status_code == 400 and too_long.data["error"]["details"] == {"days": 8, "max_days": 7}


def test_unknown_query_fields_are_400(owner):
    answer = owner.get("/admin/dashboard?days=7")
    assert answer.status_code == 400 and answer.data["error"]["code"] == "VALIDATION_ERROR"


def test_only_staff_who_may_view_orders_read_it(client, owner):
    from tests.conftest import add_staff, staff_token

    assert client.get("/admin/dashboard").status_code == 401
    assert client.as_token(buyer_token("U-curious")).get("/admin/dashboard").status_code == 403
    add_staff("clerk", "operator")
    assert client.as_token(staff_token("clerk", "operator")).get("/admin/dashboard").status_code == 200


def seed_paid_orders(first: int, how_many: int, days: list[str]) -> None:
    """Counters as `how_many` paid orders of one product over `days` leave them (each fact through counters.commit)."""
    from chalicelib.analytics import counters
    from chalicelib.analytics.distinct import PAYERS, VISITORS, Sighting, record
    from chalicelib.analytics.models import CAMPAIGNS, TOTALS, product_slot

    facts, sightings = [], []
    for n in range(first, first + how_many):
        day = days[n % len(days)]
        facts.append(counters.Fact(f"order#seed-{n}#paid").add(day, TOTALS, "gmv", 1000)
                     .add(day, TOTALS, "paid_orders", 1).add(day, product_slot(f"P{n % 30}"), f"a#P{n % 30}", 1000)
                     .add(day, CAMPAIGNS, "p#COUPON#T1", 1))
        sightings += [Sighting(day, PAYERS, f"u:seed-{n}"), Sighting(day, VISITORS, f"u:seed-{n}")]
    counters.commit(facts)
    record(sightings)


@pytest.mark.parametrize("span", [7, 30])
def test_its_dynamodb_calls_grow_with_days_not_orders(owner, dynamodb_calls, span):
    from chalicelib.analytics.days import days_between, parse_day, shift

    last = parse_day("2026-11-25")
    days = days_between(shift(last, 1 - span), last)
    calls = []
    for orders in (10, 300):
        seed_paid_orders(10 if calls else 0, orders if not calls else orders - 10, days)
        dynamodb_calls.clear()
        answer = dashboard(owner, days[0], days[-1])
        assert answer["totals"]["paid_orders"] == orders
        calls.append(dynamodb_calls.counts())
    assert calls[0] == calls[1], calls
    reads = calls[0].get("BatchGetItem", 0)
    assert reads == {7: 1, 30: 4}[span] + 1, calls  # 12 counter rows a day (100 a call), then the titles
    assert set(calls[0]) == {"GetItem", "BatchGetItem"} and calls[0]["GetItem"] == 1  # the staff gate


def test_a_range_reaching_past_the_calendar_is_400_not_an_error(owner):
    for query in ("to=0001-01-03", "from=9999-12-31&to=9999-12-31", "from=0001-01-01&to=0001-01-01"):
        answer = owner.get(f"/admin/dashboard?{query}")
        assert answer.status_code in (200, 400), (query, answer.data)
    assert owner.get("/admin/dashboard?to=0001-01-03").data["error"]["code"] == "INVALID_DATE"
