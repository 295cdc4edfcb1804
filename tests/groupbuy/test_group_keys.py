"""The key records opening and joining a group leave in the core idempotency table, as a live table holds them.

A buyer's retry may reach a release newer than the one that took the place: it must still find the record. So
the record's id (`groupbuy#<buyer>#<key>`) and fingerprint (sha256 of `json.dumps` of the request's values in
order: `["open", campaign_id, address_id]`, `["join", group_id, address_id]`) are written out here by hand, the
way the first release computed them, never by the code under test.
"""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from chalicelib.core import clock
from tests.groupbuy.conftest import paid, quota_of

REUSED = "this Idempotency-Key was used for a different request; use a new key"


def first_release_fingerprint(*values: str) -> str:
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()


def key_record(record_id: str):
    from chalicelib.core.models import IdempotencyRecord

    return IdempotencyRecord.get(record_id, consistent_read=True)


def keyed(buyer, path: str, body: dict, key: str):
    return buyer.api.post(path, body, headers={"Idempotency-Key": key})


def test_opening_and_joining_write_their_key_records_as_a_live_table_holds_them(campaign, buyers, frozen_clock):
    running = campaign()
    leader, friend = buyers(2)
    opened = keyed(leader, "/groupbuy/groups", {"campaign_id": running["campaign_id"],
                                                "address_id": leader.address_id}, "open-pin-0001")
    assert opened.status_code == 201, opened.data
    group_id = opened.data["group_id"]
    paid(opened.data["order"]["order_id"])  # the group opens to others
    joined = keyed(friend, f"/groupbuy/groups/{group_id}/join", {"address_id": friend.address_id}, "join-pin-0001")
    assert joined.status_code == 201, joined.data

    for buyer, key, answer, values in [
            (leader, "open-pin-0001", opened, ("open", running["campaign_id"], leader.address_id)),
            (friend, "join-pin-0001", joined, ("join", group_id, friend.address_id))]:
        record = key_record(f"groupbuy#{buyer.user_id}#{key}")
        assert (record.status, record.data, record.validation) == (
            "COMPLETED", answer.data["order"]["order_id"], first_release_fingerprint(*values)), key
        kept_until = clock.parse_iso(answer.data["order"]["created_at"]) + timedelta(hours=24)
        assert int(record.expiration.timestamp()) == int(kept_until.timestamp()), "24 h from the order's creation"


def test_a_key_record_an_earlier_release_wrote_answers_the_retry_with_its_group_and_order(campaign, buyers):
    from chalicelib.core.models import IdempotencyRecord

    running = campaign()
    (leader,) = buyers(1)
    body = {"campaign_id": running["campaign_id"], "address_id": leader.address_id}
    opened = keyed(leader, "/groupbuy/groups", body, "today-key-0001")
    assert opened.status_code == 201, opened.data
    IdempotencyRecord(f"groupbuy#{leader.user_id}#release-key-0001", expiration=clock.now() + timedelta(hours=24),
                      status="COMPLETED", data=opened.data["order"]["order_id"],
                      validation=first_release_fingerprint("open", running["campaign_id"], leader.address_id)).save()

    retried = keyed(leader, "/groupbuy/groups", body, "release-key-0001")
    assert retried.status_code == 201, retried.data
    assert (retried.data["group_id"], retried.data["order"]["order_id"]) == (
        opened.data["group_id"], opened.data["order"]["order_id"])
    other = keyed(leader, "/groupbuy/groups", {**body, "address_id": "01JOTHERADDRESS00000000000"}, "release-key-0001")
    assert (other.status_code, other.data["error"]) == (422, {"code": "IDEMPOTENCY_KEY_REUSED", "message": REUSED})
    assert quota_of(running["campaign_id"], leader.user_id) == 1, "one order, however the key came back"


def test_a_blank_key_is_400_malformed_not_an_order_without_a_key(campaign, buyers):
    """The key is optional on these routes, but a header sent blank is a malformed key, as it always was here
    (a coupon claim takes a blank key for none)."""
    running = campaign()
    (leader,) = buyers(1)
    body = {"campaign_id": running["campaign_id"], "address_id": leader.address_id}
    for blank in ("", "   "):
        refused = keyed(leader, "/groupbuy/groups", body, blank)
        assert (refused.status_code, refused.data["error"]["code"]) == (400, "INVALID_IDEMPOTENCY_KEY"), refused.data
    assert quota_of(running["campaign_id"], leader.user_id) == 0
