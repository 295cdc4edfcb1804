"""The storefront's behaviour events survive a refusal: a batch `POST /track` answers 429 for (over the device's or
the IP's limit) is sent again after its Retry-After, one refused by a 5xx or lost to the network after a growing
backoff, each time with the same events and their own client times, and the backend writes them.

The refusals are injected where they happen, on the network (Playwright's route); every later call goes to the
real stack, whose raw events (`<MALL_LOCAL_DIR>/events/<day>.jsonl`) show what it accepted.
"""
from __future__ import annotations

import json
import re
import time

from playwright.sync_api import Route, expect

from tests.browser.shop_steps import SHOP, Mall, eventually

REFUSED = {"error": {"code": "RATE_LIMITED", "message": "too many requests",
                     "details": {"limit": "track", "scope": "device", "retry_after_seconds": 3}}}


class TrackCalls:
    """Each /track call the page makes: when, what it carried, and what it was answered (`refusals` first)."""

    def __init__(self, refusals):
        self.refusals = list(refusals)
        self.calls: list[dict] = []

    def __call__(self, route: Route) -> None:
        call = {"at": time.monotonic(), "events": json.loads(route.request.post_data)["events"],
                "device": route.request.headers.get("x-device-id")}
        self.calls.append(call)
        if self.refusals:
            call["status"] = self.refusals.pop(0)(route)
            return
        answer = route.fetch()
        call["status"] = answer.status
        route.fulfill(response=answer)

    def settled(self, count: int) -> list[dict]:
        assert len(self.calls) >= count and all("status" in call for call in self.calls[:count]), \
            f"expected {count} /track calls answered, got {self.calls}"
        return self.calls


def rate_limited(route: Route) -> int:
    route.fulfill(status=429, headers={"Retry-After": "3"}, content_type="application/json", body=json.dumps(REFUSED))
    return 429


def unavailable(route: Route) -> int:
    route.fulfill(status=503, content_type="application/json",
                  body=json.dumps({"error": {"code": "SERVICE_UNAVAILABLE", "message": "try again"}}))
    return 503


def no_network(route: Route) -> int:
    route.abort("internetdisconnected")
    return 0


def browse(phone) -> None:
    """A search and a product page: a few more events for the queue."""
    phone.get_by_role("searchbox", name="搜索商品").fill("蜂蜜")
    phone.get_by_role("button", name="搜索").click()
    phone.get_by_role("link", name=re.compile("野生土蜂蜜")).click()
    expect(phone.get_by_role("heading", name="野生土蜂蜜", level=2)).to_be_visible()


def written_by_backend(stack, device: str) -> list[dict]:
    lines = []
    for path in sorted((stack.local_dir / "events").glob("*.jsonl")):
        lines += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [event for event in lines if event.get("device_id") == device]


def assert_backend_wrote(stack, device: str, events: list[dict]) -> None:
    def wrote():
        seen = {(e["type"], e.get("client_at"), e.get("q"), e.get("product_id")) for e in written_by_backend(stack, device)}
        missing = [e for e in events if (e["type"], e["at"], e.get("q"), e.get("product_id")) not in seen]
        assert not missing, f"the backend never wrote {missing}"
    eventually(wrote, timeout=20)


def test_a_batch_refused_with_429_is_sent_again_after_retry_after_with_the_same_events(phone, stack):
    Mall(stack).wait_until_searchable("蜂蜜", "野生土蜂蜜")
    track = TrackCalls([rate_limited])
    phone.route("**/track", track)
    phone.goto(SHOP)
    refused = eventually(lambda: track.settled(1), page=phone)[0]
    assert refused["status"] == 429 and refused["events"], refused

    browse(phone)  # more events while the refused batch waits: they wait with it, no second call goes out early
    calls = eventually(lambda: track.settled(2), timeout=20, page=phone)
    retried = calls[1]
    assert retried["at"] - refused["at"] >= 2.9, \
        f"expected the retry after Retry-After (3 s), it came {retried['at'] - refused['at']:.2f} s later"
    assert retried["events"][:len(refused["events"])] == refused["events"], \
        f"expected the refused events first, with their own times, got {retried['events']} for {refused['events']}"
    assert retried["status"] == 202, retried
    assert {"SEARCH", "PRODUCT_VIEW"} <= {event["type"] for call in calls[1:] for event in call["events"]}, calls

    assert_backend_wrote(stack, refused["device"], [event for call in calls[1:] for event in call["events"]])


def test_a_batch_lost_to_the_network_or_a_5xx_is_sent_again_after_a_growing_backoff(phone, stack):
    Mall(stack).wait_until_searchable("蜂蜜", "野生土蜂蜜")
    track = TrackCalls([no_network, unavailable])
    phone.route("**/track", track)
    phone.goto(SHOP)
    browse(phone)

    lost, failed, accepted = eventually(lambda: track.settled(3), timeout=30, page=phone)[:3]
    assert (lost["status"], failed["status"], accepted["status"]) == (0, 503, 202), track.calls
    # backoff: 2 s then 4 s, each jittered down to half at most
    assert failed["at"] - lost["at"] >= 0.9, f"retried {failed['at'] - lost['at']:.2f} s after the network failed"
    assert accepted["at"] - failed["at"] >= 1.9, f"retried {accepted['at'] - failed['at']:.2f} s after the 503"
    assert failed["events"][:len(lost["events"])] == lost["events"], track.calls
    assert accepted["events"][:len(failed["events"])] == failed["events"], track.calls

    assert_backend_wrote(stack, lost["device"], lost["events"])
