"""The key records `POST /orders` leaves in the core idempotency table, as a live table holds them.

A buyer's retry may reach a release newer than the one that took the order: it must still find the record.
So the record's id (`checkout#<buyer>#<key>`) and fingerprint (sha256 of the request as canonical JSON, its
defaults filled in) are written out here by hand, the way the first release computed them, never by the code
under test.
"""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from chalicelib.core import clock
from tests.checkout.conftest import stock_of

MISSING = "the Idempotency-Key header is required: send a new random key for each new order"
REUSED = "this Idempotency-Key was used for a different order request; use a new key"


def first_release_fingerprint(body: dict) -> str:
    from chalicelib.checkout.inputs import OrderSubmission

    data = OrderSubmission.model_validate(body).model_dump(mode="json")
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def key_record(record_id: str):
    from chalicelib.core.models import IdempotencyRecord

    return IdempotencyRecord.get(record_id, consistent_read=True)


def order_body(buyer, sku_id: str, quantity: int = 1) -> dict:
    return {"address_id": buyer.address_id, "items": [{"sku_id": sku_id, "quantity": quantity}], "note": "门口"}


def test_an_order_writes_its_key_record_as_a_live_table_holds_it(shop, alice, frozen_clock):
    sku = shop.sku(stock=5)
    body = order_body(alice, sku)
    placed = alice.api.post("/orders", body, headers={"Idempotency-Key": "pinned-key-0001"})
    assert placed.status_code == 201, placed.data
    record = key_record(f"checkout#{alice.user_id}#pinned-key-0001")
    assert (record.status, record.data, record.validation) == (
        "COMPLETED", placed.data["order_id"], first_release_fingerprint(body))
    kept_until = clock.parse_iso(placed.data["created_at"]) + timedelta(hours=24)
    assert int(record.expiration.timestamp()) == int(kept_until.timestamp()), "24 h from the order's creation"


def test_a_key_record_an_earlier_release_wrote_answers_the_retry_with_its_order(shop, alice):
    from chalicelib.core.models import IdempotencyRecord

    sku = shop.sku(stock=5)
    body = order_body(alice, sku)
    placed = alice.api.post("/orders", body, headers={"Idempotency-Key": "today-key-0001"})
    assert placed.status_code == 201, placed.data
    IdempotencyRecord(f"checkout#{alice.user_id}#release-key-0001", expiration=clock.now() + timedelta(hours=24),
                      status="COMPLETED", data=placed.data["order_id"],
                      validation=first_release_fingerprint(body)).save()

    retried = alice.api.post("/orders", body, headers={"Idempotency-Key": "release-key-0001"})
    assert retried.status_code == 201 and retried.data["order_id"] == placed.data["order_id"], retried.data
    other = alice.api.post("/orders", order_body(alice, sku, 2), headers={"Idempotency-Key": "release-key-0001"})
    assert (other.status_code, other.data["error"]) == (422, {"code": "IDEMPOTENCY_KEY_REUSED", "message": REUSED})
    assert stock_of(sku)["reserved"] == 1, "one order, however the key came back"


def test_an_order_without_a_key_or_with_a_blank_one_is_400_saying_the_key_is_required(shop, alice):
    sku = shop.sku(stock=5)
    for headers in (None, {"Idempotency-Key": ""}, {"Idempotency-Key": "   "}):
        refused = alice.api.post("/orders", order_body(alice, sku), headers=headers)
        assert (refused.status_code, refused.data["error"]) == (
            400, {"code": "IDEMPOTENCY_KEY_REQUIRED", "message": MISSING}), (headers, refused.data)
    assert stock_of(sku)["reserved"] == 0
