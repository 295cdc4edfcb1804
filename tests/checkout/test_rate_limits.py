"""Order submit is rate-limited per buyer, per device and per source IP; a refused submit reserves nothing."""
from __future__ import annotations

import pytest

from tests.checkout.conftest import new_key, stock_of


@pytest.fixture(autouse=True)
def limited(monkeypatch):
    monkeypatch.setenv("MALL_RATE_LIMITS", "on")


def test_a_buyer_submitting_too_fast_is_429_and_nothing_is_reserved(shop, alice, frozen_clock):
    sku_id = shop.sku(stock=50)
    for _ in range(10):  # MALL_LIMIT_ORDER_SUBMIT_BUYER = 10/60
        alice.placed({sku_id: 1})
    refused = alice.order({sku_id: 1})
    assert refused.status_code == 429, refused.data
    assert refused.data["error"]["code"] == "RATE_LIMITED" and refused.headers["Retry-After"] == "6"
    assert stock_of(sku_id)["reserved"] == 10, "the refused submit reserved nothing"
    assert len(alice.api.get("/orders").data["items"]) == 10
    frozen_clock.advance(seconds=6)
    alice.placed({sku_id: 1})


def test_buyers_sharing_a_device_share_its_bucket(shop, alice, bob, monkeypatch):
    monkeypatch.setenv("MALL_LIMIT_ORDER_SUBMIT_DEVICE", "3/60")
    sku_id = shop.sku(stock=50)
    device = {"X-Device-Id": "phone-shared"}
    def submit(buyer):
        body = {"address_id": buyer.address_id, "items": [{"sku_id": sku_id, "quantity": 1}]}
        return buyer.api.post("/orders", body, headers={**device, "Idempotency-Key": new_key()})

    for buyer in (alice, bob, alice):
        assert submit(buyer).status_code == 201
    refused = submit(bob)
    assert (refused.status_code, refused.data["error"]["details"]["scope"]) == (429, "device")
    assert bob.order({sku_id: 1}).status_code == 201, "without that device bob has his own bucket"


def test_one_source_ip_is_limited_across_buyers(shop, alice, bob, monkeypatch):
    from chalice.local import LambdaEventConverter

    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", "203.0.113.7")
    monkeypatch.setenv("MALL_LIMIT_ORDER_SUBMIT_IP", "2/60")
    sku_id = shop.sku(stock=50)
    alice.placed({sku_id: 1})
    bob.placed({sku_id: 1})
    refused = alice.order({sku_id: 1})
    assert (refused.status_code, refused.data["error"]["details"]["scope"]) == (429, "ip")
