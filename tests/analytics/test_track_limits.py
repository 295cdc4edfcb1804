"""`POST /track` under abuse limits: calls per device and per IP (a call carries up to 50 events), 429 with
Retry-After for a flood, and the storefront's own posting pattern well within them."""
from __future__ import annotations

from tests.analytics.conftest import track
from tests.conftest import buyer_token

DAY = "2026-11-25"
VIEW = [{"type": "PAGE_VIEW"}]




def queued_requests() -> int:
    import boto3

    from chalicelib.core import config, events

    sqs = boto3.client("sqs", region_name=config.region())
    url = sqs.get_queue_url(QueueName=events.queue_name("analytics-events"))["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_a_flood_from_one_device_is_refused_with_retry_after_and_never_queued(client, pump, limited, frozen_clock):
    fifty = [{"type": "PAGE_VIEW"}] * 50
    for _ in range(60):  # MALL_LIMIT_TRACK_DEVICE = 60/60
        assert track(client, fifty, device="script-1").status_code == 202
    refused = track(client, fifty, device="script-1")
    assert refused.status_code == 429, refused.data
    assert refused.headers["Retry-After"] == "1"
    assert refused.data["error"] == {"code": "RATE_LIMITED", "message": "too many requests; retry in 1 s",
                                     "details": {"limit": "track", "scope": "device", "retry_after_seconds": 1}}
    assert queued_requests() == 60, "a refused call costs no SQS message"
    with_token = track(client, VIEW, device="script-1", token=buyer_token("U-script"))
    assert with_token.status_code == 429, "a buyer token does not buy a device more calls"
    assert track(client, VIEW, device="phone-2").status_code == 202, "another device has its own bucket"
    frozen_clock.advance(seconds=1)
    assert track(client, VIEW, device="script-1").status_code == 202, "one call back a second"
    pump.drain()
    assert day_figures_page_views() == 60 * 50 + 2


def day_figures_page_views() -> int:
    from chalicelib.analytics import counters
    from chalicelib.analytics.models import TOTALS

    return counters.read_rows([(DAY, TOTALS)], consistent=True)[(DAY, TOTALS)]["page_views"]


def test_a_script_rotating_device_ids_is_stopped_per_ip(client, pump, limited, from_ip, monkeypatch):
    monkeypatch.setenv("MALL_LIMIT_TRACK_IP", "5/60")
    from_ip("203.0.113.7")
    for n in range(5):
        assert track(client, VIEW, device=f"fake-{n}").status_code == 202
    refused = track(client, VIEW, device="fake-5")
    assert refused.status_code == 429 and refused.data["error"]["details"]["scope"] == "ip"
    assert refused.headers["Retry-After"] == "12"
    from_ip("198.51.100.9")
    assert track(client, VIEW, device="fake-5").status_code == 202, "another address has its own bucket"


def test_a_malformed_call_counts_too(client, pump, limited, monkeypatch):
    monkeypatch.setenv("MALL_LIMIT_TRACK_DEVICE", "2/60")
    assert track(client, [{"type": "NOPE"}], device="fuzzer").status_code == 400
    assert track(client, [], device="fuzzer").status_code == 400
    assert track(client, VIEW, device="fuzzer").status_code == 429


def test_a_call_costs_one_bucket_read_and_write_whatever_its_events(client, pump, limited, dynamodb_calls):
    dynamodb_calls.clear()
    assert track(client, [{"type": "PAGE_VIEW"}] * 50, device="phone-1").status_code == 202
    assert dynamodb_calls == ["BatchGetItem", "TransactWriteItems"]


def test_a_fast_shopper_as_the_storefront_posts_stays_within_the_limits(client, pump, limited, frozen_clock,
                                                                        from_ip):
    """web/shop/src/lib/track.js posts a batch 1.5 s after the first event waiting (at once at 50), and once more as
    the page is hidden. A shopper opening a page every 1.5 s for 6 minutes, hiding the tab every 6 s, from a
    carrier's address."""
    from_ip("203.0.113.20")
    token = buyer_token("U-fast")
    refused = []
    for step in range(240):
        frozen_clock.advance(seconds=1.5)
        events = [{"type": "PAGE_VIEW"}, {"type": "PRODUCT_VIEW", "product_id": f"P{step % 7}"}]
        refused += [step] if track(client, events, device="shopper-phone", token=token).status_code != 202 else []
        if step % 4 == 3:  # visibilitychange -> hidden: flush({leaving: true})
            refused += [step] if track(client, [{"type": "SEARCH", "q": "裙"}], device="shopper-phone",
                                       token=token).status_code != 202 else []
    assert refused == [], f"a shopper's own posts were refused at steps {refused[:5]}"


def test_a_mall_wifi_of_shoppers_behind_one_address_stays_within_the_limits(client, pump, limited, frozen_clock,
                                                                            from_ip):
    """20 shoppers behind one NAT, each posting every 1.5 s for 30 s: 13 calls a second from one IP (the bucket
    refills 20 a second; a sanity check of the default, shorter than its 1,200-call burst lasts)."""
    from_ip("198.51.100.77")
    refused = 0
    for _ in range(20):
        frozen_clock.advance(seconds=1.5)
        for shopper in range(20):
            refused += track(client, VIEW, device=f"wifi-{shopper}").status_code != 202
    assert refused == 0 and queued_requests() == 400


def test_a_single_event_body_is_still_accepted(client, pump, limited):
    assert track(client, [{"type": "SHARE", "product_id": "P1"}], device="phone-1").status_code == 202
