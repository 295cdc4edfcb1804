"""Claiming a coupon under an Idempotency-Key: a retry answers the coupon the first claim gave, never a second.

Templates here allow more than one coupon per buyer, where a retried claim without a key would claim twice.
"""
from __future__ import annotations

from collections import Counter

import pytest

from chalicelib.marketing import service as coupons
from tests.checkout.test_races import race
from tests.faults import reply_lost_after_commit
from tests.marketing.conftest import Buyer, new_template

ROUNDS = 4


def claim(buyer: Buyer, template_id: str, key: str | None):
    return buyer.api.post(f"/marketing/coupons/{template_id}/claim", headers={"Idempotency-Key": key} if key else None)


def held_ids(buyer: Buyer, template_id: str) -> list[str]:
    from chalicelib.marketing.models import CouponModel

    return [coupon.coupon_id for coupon in CouponModel.query(buyer.user_id, consistent_read=True)
            if coupon.template_id == template_id]


def claimed_count(owner, template_id: str) -> int:
    return owner.get(f"/admin/coupon-templates/{template_id}").data["claimed"]


def test_the_same_key_again_answers_the_first_coupon_with_201(owner, alice):
    template_id = new_template(owner, per_user_limit=3)["template_id"]
    first = claim(alice, template_id, "claim-key-0001")
    again = claim(alice, template_id, "claim-key-0001")
    assert (first.status_code, again.status_code) == (201, 201), (first.data, again.data)
    assert again.data == first.data, "a replay answers the coupon the key claimed"
    assert held_ids(alice, template_id) == [first.data["coupon_id"]]
    assert claimed_count(owner, template_id) == 1


def test_a_replay_answers_the_coupon_even_when_the_buyer_is_at_the_limit(owner, alice):
    template_id = new_template(owner, per_user_limit=1)["template_id"]
    first = claim(alice, template_id, "claim-key-0002")
    again = claim(alice, template_id, "claim-key-0002")
    assert again.status_code == 201 and again.data["coupon_id"] == first.data["coupon_id"], again.data
    other = claim(alice, template_id, "claim-key-0003")
    assert other.status_code == 409 and other.data["error"]["code"] == "LIMIT_REACHED", other.data


def test_each_new_key_or_no_key_claims_another_coupon_within_the_limit(owner, alice):
    template_id = new_template(owner, per_user_limit=3)["template_id"]
    answers = [claim(alice, template_id, key) for key in ("claim-key-0004", "claim-key-0005", None)]
    assert [answer.status_code for answer in answers] == [201, 201, 201], [answer.data for answer in answers]
    assert len({answer.data["coupon_id"] for answer in answers}) == 3
    fourth = claim(alice, template_id, "claim-key-0006")
    assert fourth.status_code == 409 and fourth.data["error"]["code"] == "LIMIT_REACHED", fourth.data


def test_a_claim_resent_after_its_lost_reply_is_the_claim(owner, alice):
    template_id = new_template(owner, per_user_limit=3)["template_id"]
    with reply_lost_after_commit("TransactWriteItems") as lost:
        answer = claim(alice, template_id, "claim-key-0007")
    assert lost, "the claim's transaction ran under the fault"
    assert answer.status_code == 201, answer.data
    assert held_ids(alice, template_id) == [answer.data["coupon_id"]], "the SDK's resend claimed nothing more"
    assert claimed_count(owner, template_id) == 1


def test_a_phone_retrying_after_no_reply_gets_the_coupon_it_claimed(owner, alice):
    template_id = new_template(owner, per_user_limit=3)["template_id"]
    with reply_lost_after_commit("TransactWriteItems", resend=False) as lost:
        unanswered = claim(alice, template_id, "claim-key-0008")
    assert lost and unanswered.status_code == 503, unanswered.data
    [committed] = held_ids(alice, template_id)  # the claim committed; only its reply was lost
    retried = claim(alice, template_id, "claim-key-0008")
    assert retried.status_code == 201 and retried.data["coupon_id"] == committed, retried.data
    assert held_ids(alice, template_id) == [committed] and claimed_count(owner, template_id) == 1


def test_a_key_reused_for_another_template_is_refused(owner, alice):
    first_id = new_template(owner, per_user_limit=3)["template_id"]
    second_id = new_template(owner, name="满200减50", amount_off=5000, min_spend=20000, per_user_limit=3)["template_id"]
    assert claim(alice, first_id, "claim-key-0009").status_code == 201
    reused = claim(alice, second_id, "claim-key-0009")
    assert reused.status_code == 422 and reused.data["error"]["code"] == "IDEMPOTENCY_KEY_REUSED", reused.data
    assert held_ids(alice, second_id) == [] and claimed_count(owner, second_id) == 0


def test_one_buyers_key_never_answers_anothers_claim(owner, alice, bob):
    template_id = new_template(owner, per_user_limit=3)["template_id"]
    alices = claim(alice, template_id, "shared-key-0001")
    bobs = claim(bob, template_id, "shared-key-0001")
    assert (alices.status_code, bobs.status_code) == (201, 201), (alices.data, bobs.data)
    assert alices.data["coupon_id"] != bobs.data["coupon_id"]
    assert held_ids(bob, template_id) == [bobs.data["coupon_id"]]
    assert claim(bob, template_id, "shared-key-0001").data["coupon_id"] == bobs.data["coupon_id"]
    assert claimed_count(owner, template_id) == 2


def test_a_claim_key_record_an_earlier_release_wrote_answers_the_retry_with_its_coupon(owner, alice):
    """A retry may reach a newer release than its first claim: the record's id (`marketing#claim#<buyer>#<key>`)
    and fingerprint (sha256 of `{"template_id": ...}` as canonical JSON) are written here as that release did."""
    import hashlib
    import json
    from datetime import timedelta

    from chalicelib.core import clock
    from chalicelib.core.models import IdempotencyRecord

    template_id = new_template(owner, per_user_limit=3)["template_id"]
    first = claim(alice, template_id, "today-key-0001")
    canonical = json.dumps({"template_id": template_id}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    written = IdempotencyRecord.get(f"marketing#claim#{alice.user_id}#today-key-0001", consistent_read=True)
    assert (written.data, written.validation) == (first.data["coupon_id"], hashlib.sha256(canonical.encode()).hexdigest())
    IdempotencyRecord(f"marketing#claim#{alice.user_id}#release-key-0001", expiration=clock.now() + timedelta(hours=24),
                      status="COMPLETED", data=first.data["coupon_id"], validation=written.validation).save()
    retried = claim(alice, template_id, "release-key-0001")
    assert retried.status_code == 201 and retried.data["coupon_id"] == first.data["coupon_id"], retried.data
    assert held_ids(alice, template_id) == [first.data["coupon_id"]]


@pytest.mark.parametrize("key", ["short", "has space 1234", "x" * 65, "semi;colon-1234"])
def test_a_malformed_key_is_400_and_claims_nothing(owner, alice, key):
    template_id = new_template(owner, per_user_limit=3)["template_id"]
    answer = claim(alice, template_id, key)
    assert answer.status_code == 400 and answer.data["error"]["code"] == "INVALID_IDEMPOTENCY_KEY", answer.data
    assert held_ids(alice, template_id) == []


@pytest.mark.parametrize("per_user_limit", [1, 3])
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_claims_racing_under_one_key_give_one_coupon(owner, atomic_dynamodb, per_user_limit, round_):
    template_id = new_template(owner, per_user_limit=per_user_limit)["template_id"]
    buyer = f"U-double-tap-{round_}"
    outcomes = race([lambda: coupons.claim(buyer, template_id, f"tap-key-{round_:04d}") for _ in range(6)])
    refused = Counter(outcome for outcome in outcomes if isinstance(outcome, str))
    assert not refused, f"every racer under the key answers its coupon, got {refused}"
    assert len({outcome.coupon_id for outcome in outcomes}) == 1, outcomes
    view = owner.get(f"/admin/coupon-templates/{template_id}").data
    assert view["claimed"] == 1, f"one coupon claimed, got {view['claimed']}"
