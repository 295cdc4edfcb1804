"""The segments console over HTTP: what each route answers, its bad inputs, masking and permissions."""
from __future__ import annotations

import pytest

from tests.conftest import buyer_token
from tests.segments.conftest import new_buyers, new_template, run_schedule, start_grant

THRESHOLDS = {"new_days": 14, "active_days": 30, "dormant_days": 120, "high_value_fen": 50_000, "high_value_days": 180}


def error_of(response) -> tuple[int, str]:
    return response.status_code, (response.data or {}).get("error", {}).get("code")


def test_segments_before_the_first_computation_show_the_default_rules_and_no_members(client, owner):
    listed = owner.get("/admin/segments")
    assert listed.status_code == 200, listed.data
    assert listed.data["thresholds"] == {"new_days": 7, "active_days": 30, "dormant_days": 90,
                                         "high_value_fen": 100_000, "high_value_days": 365, "version": 0,
                                         "updated_at": None, "updated_by": None, "refresh_minutes": 60}
    assert [item["segment"] for item in listed.data["items"]] == ["NEW", "ACTIVE", "DORMANT", "HIGH_VALUE"]
    assert all((item["size"], item["computed_at"], item["stale"]) == (0, None, True) for item in listed.data["items"])
    assert listed.data["items"][0]["definition"] == "registered within the last 7 days"


def test_thresholds_are_replaced_whole_and_versioned(client, owner, frozen_clock):
    saved = owner.put("/admin/segments/thresholds", THRESHOLDS)
    assert saved.status_code == 200, saved.data
    assert saved.data == {**THRESHOLDS, "version": 1, "updated_at": "2026-11-25T04:00:00.000Z", "updated_by": "boss",
                          "refresh_minutes": 60}
    again = owner.put("/admin/segments/thresholds", {**THRESHOLDS, "new_days": 3})
    assert (again.data["version"], again.data["new_days"]) == (2, 3)
    listed = owner.get("/admin/segments").data
    assert listed["thresholds"]["new_days"] == 3 and listed["items"][0]["definition"].endswith("last 3 days")


@pytest.mark.parametrize("body, code", [
    ({**THRESHOLDS, "dormant_days": 20}, "INVALID_THRESHOLDS"),  # below active_days: active and dormant at once
    ({key: value for key, value in THRESHOLDS.items() if key != "new_days"}, "VALIDATION_ERROR"),
    ({**THRESHOLDS, "new_days": "7"}, "VALIDATION_ERROR"),
    ({**THRESHOLDS, "new_days": 0}, "VALIDATION_ERROR"),
    ({**THRESHOLDS, "high_value_days": 366}, "VALIDATION_ERROR"),
    ({**THRESHOLDS, "high_value_fen": -1}, "VALIDATION_ERROR"),
    ({**THRESHOLDS, "surprise": 1}, "VALIDATION_ERROR"),
])
def test_bad_thresholds_are_400_and_change_nothing(client, owner, body, code):
    assert error_of(owner.put("/admin/segments/thresholds", body)) == (400, code)
    assert owner.get("/admin/segments").data["thresholds"]["version"] == 0


def test_members_are_paged_in_user_id_order_with_nicknames_masked(app, client, owner, frozen_clock):
    members = new_buyers(app, 3)
    first = owner.get("/admin/segments/NEW/members?limit=2")
    assert first.status_code == 200, first.data
    assert [item["user_id"] for item in first.data["items"]] == members[:2]
    item = first.data["items"][0]
    assert item["nickname"] == "微***", "staff see a nickname as every console list masks names"
    assert (item["account_deleted"], item["paid_orders"], item["paid_total"], item["last_paid_at"]) == \
        (False, 0, 0, None)
    assert item["registered_at"] == item["joined_at"] == "2026-11-25T04:00:00.000Z"
    assert first.data["computed_at"] == "2026-11-25T04:00:00.000Z"
    rest = owner.get(f"/admin/segments/NEW/members?limit=2&cursor={first.data['next_cursor']}")
    assert [item["user_id"] for item in rest.data["items"]] == members[2:] and rest.data["next_cursor"] is None
    assert "openid" not in str(first.data), "no WeChat identity in a console list"


def test_a_member_who_deleted_their_account_shows_as_deleted_until_the_next_refresh(app, client, owner,
                                                                                   frozen_clock):
    [member] = new_buyers(app, 1)
    assert client.as_token(buyer_token(member)).delete("/me").status_code == 204
    [item] = owner.get("/admin/segments/NEW/members").data["items"]
    assert (item["user_id"], item["nickname"], item["account_deleted"]) == (member, None, True)
    frozen_clock.advance(hours=1)
    run_schedule(app)
    assert owner.get("/admin/segments/NEW/members").data["items"] == []


@pytest.mark.parametrize("path, status, code", [
    ("/admin/segments/VIP/members", 404, "SEGMENT_NOT_FOUND"),
    ("/admin/segments/new/members", 404, "SEGMENT_NOT_FOUND"),
    ("/admin/segments/NEW/members?cursor=not-one-of-ours", 400, "INVALID_CURSOR"),
    ("/admin/segments/NEW/members?limit=101", 400, "VALIDATION_ERROR"),
    ("/admin/segments/NEW/members?limit=0", 400, "VALIDATION_ERROR"),
    ("/admin/coupon-grants?limit=51", 400, "VALIDATION_ERROR"),
    ("/admin/coupon-grants/01UNKNOWN0000000000000000", 404, "GRANT_NOT_FOUND"),
    ("/admin/coupon-grants/not%20an%20id", 404, "GRANT_NOT_FOUND"),
])
def test_bad_reads_are_clear_errors(client, owner, path, status, code):
    assert error_of(owner.get(path)) == (status, code)


def test_a_grant_needs_an_idempotency_key_and_the_same_key_answers_the_same_grant(app, client, owner, frozen_clock):
    new_buyers(app, 1)
    template_id = new_template(owner)["template_id"]
    url = "/admin/segments/NEW/coupon-grants"
    assert error_of(owner.post(url, {"template_id": template_id})) == (400, "IDEMPOTENCY_KEY_REQUIRED")
    assert error_of(owner.post(url, {"template_id": template_id}, headers={"Idempotency-Key": "short"})) == \
        (400, "INVALID_IDEMPOTENCY_KEY")
    first = start_grant(owner, template_id, key="campaign-2026-11")
    assert start_grant(owner, template_id, key="campaign-2026-11")["grant_id"] == first["grant_id"]
    other = new_template(owner)["template_id"]
    reused = owner.post(url, {"template_id": other}, headers={"Idempotency-Key": "campaign-2026-11"})
    assert error_of(reused) == (422, "IDEMPOTENCY_KEY_REUSED")
    listed = owner.get("/admin/coupon-grants").data
    assert [item["grant_id"] for item in listed["items"]] == [first["grant_id"]]


@pytest.mark.parametrize("segment, body, status, code", [
    ("VIP", {"template_id": "T"}, 404, "SEGMENT_NOT_FOUND"),
    ("NEW", {"template_id": "01UNKNOWN0000000000000000"}, 404, "COUPON_TEMPLATE_NOT_FOUND"),
    ("NEW", {"template_id": 7}, 400, "VALIDATION_ERROR"),
    ("NEW", {}, 400, "VALIDATION_ERROR"),
    ("NEW", {"template_id": "T", "segment": "ACTIVE"}, 400, "VALIDATION_ERROR"),
])
def test_bad_grants_are_clear_errors(client, owner, segment, body, status, code):
    response = owner.post(f"/admin/segments/{segment}/coupon-grants", body, headers={"Idempotency-Key": "key-000001"})
    assert error_of(response) == (status, code)


def test_a_grant_is_refused_for_a_segment_never_computed_an_ended_or_sold_out_template(app, client, owner,
                                                                                      frozen_clock):
    template_id = new_template(owner)["template_id"]
    url = "/admin/segments/NEW/coupon-grants"
    assert error_of(owner.post(url, {"template_id": template_id}, headers={"Idempotency-Key": "key-000001"})) == \
        (409, "SEGMENT_NOT_COMPUTED")
    run_schedule(app)
    assert owner.post(f"/admin/coupon-templates/{template_id}/end").status_code == 200
    assert error_of(owner.post(url, {"template_id": template_id}, headers={"Idempotency-Key": "key-000002"})) == \
        (409, "COUPON_ENDED")
    sold_out = new_template(owner, total=1, claimable=True)["template_id"]
    assert client.as_token(buyer_token("U-first")).post(f"/marketing/coupons/{sold_out}/claim").status_code == 201
    assert error_of(owner.post(url, {"template_id": sold_out}, headers={"Idempotency-Key": "key-000003"})) == \
        (409, "SOLD_OUT")


def test_an_operator_reads_segments_but_grants_only_when_an_owner_lets_them(app, client, owner, operator,
                                                                           frozen_clock):
    new_buyers(app, 1)
    template_id = new_template(owner)["template_id"]
    grant = start_grant(owner, template_id)
    assert operator.get("/admin/segments").status_code == 200
    assert operator.get("/admin/segments/NEW/members").status_code == 200
    assert operator.put("/admin/segments/thresholds", THRESHOLDS).status_code == 200
    assert operator.get(f"/admin/coupon-grants/{grant['grant_id']}").status_code == 200
    refused = operator.post("/admin/segments/NEW/coupon-grants", {"template_id": template_id},
                            headers={"Idempotency-Key": "clerk-key-01"})
    assert refused.status_code == 403 and refused.data["error"]["details"] == {"permission": "segments.grant"}
    assert error_of(operator.post(f"/admin/coupon-grants/{grant['grant_id']}/cancel")) == (403, "PERMISSION_DENIED")
    assert owner.put("/admin/staff/clerk", {"grants": ["segments.grant"]}).status_code == 200
    allowed = operator.post("/admin/segments/NEW/coupon-grants", {"template_id": template_id},
                            headers={"Idempotency-Key": "clerk-key-01"})
    assert allowed.status_code == 202, allowed.data
    assert allowed.data["created_by"] == "clerk"


def test_a_buyer_is_refused_every_segment_route(client):
    buyer = client.as_token(buyer_token("U-curious"))
    assert buyer.get("/admin/segments").status_code == 403
    assert buyer.get("/admin/segments/NEW/members").status_code == 403
    assert buyer.get("/admin/coupon-grants").status_code == 403

