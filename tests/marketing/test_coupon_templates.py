"""Coupon templates in the console, and claiming them: validation, limits, edits that spare held coupons."""
from __future__ import annotations

import pytest

from tests.conftest import buyer_token, staff_token
from tests.marketing.conftest import claimed, new_template, operator_of


def test_staff_create_a_template_buyers_see_with_what_is_left(owner, alice):
    template = new_template(owner, total=3)
    assert template["template_id"] and template["status"] == "ACTIVE" and template["claimed"] == 0
    listed = alice.api.get("/marketing/coupons").data["items"]
    assert [(t["template_id"], t["remaining"], t["min_spend"], t["scope"]) for t in listed] == \
        [(template["template_id"], 3, 10000, {"kind": "ALL", "ids": []})]


@pytest.mark.parametrize("fields, problem", [
    ({"kind": "AMOUNT_OFF", "amount_off": 2000, "min_spend": 1000}, "min_spend"),
    ({"kind": "PERCENT_OFF", "amount_off": None, "min_spend": None}, "percent_off"),
    ({"kind": "NO_THRESHOLD", "min_spend": 100}, "min_spend"),
    ({"valid_days": None}, "valid_days"),
    ({"valid_days": None, "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-11-01T00:00:00Z"}, "window"),
    ({"valid_days": 5, "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-31T00:00:00Z"}, "either"),
])
def test_a_template_that_makes_no_sense_is_400(owner, fields, problem):
    body = {"name": "坏券", "kind": "AMOUNT_OFF", "amount_off": 2000, "min_spend": 10000, "total": 10,
            "per_user_limit": 1, "valid_days": 30, **fields}
    response = owner.post("/admin/coupon-templates", {k: v for k, v in body.items() if v is not None})
    assert response.status_code == 400, response.data
    assert response.data["error"]["code"] == "INVALID_TEMPLATE" and problem in response.data["error"]["message"]


@pytest.mark.parametrize("body", [{}, {"name": "x", "kind": "BOGO", "total": 1, "per_user_limit": 1},
                                  {"name": "x", "kind": "AMOUNT_OFF", "amount_off": "10", "total": 1,
                                   "per_user_limit": 1, "valid_days": 1},
                                  {"name": "x", "kind": "AMOUNT_OFF", "amount_off": 10, "min_spend": 10, "total": 0,
                                   "per_user_limit": 1, "valid_days": 1},
                                  {"name": "x", "kind": "NO_THRESHOLD", "amount_off": 10, "total": 1, "per_user_limit": 1,
                                   "valid_days": 1, "scope": {"kind": "PRODUCTS", "ids": []}},
                                  {"name": "x", "kind": "NO_THRESHOLD", "amount_off": 10, "total": 1, "per_user_limit": 1,
                                   "starts_at": "0001-01-01T00:00:00+01:00", "ends_at": "2030-01-01T00:00:00Z"}])
def test_bad_fields_are_400_validation_errors(owner, body):
    response = owner.post("/admin/coupon-templates", body)
    assert response.status_code == 400 and response.data["error"]["code"] == "VALIDATION_ERROR", response.data


def test_template_routes_are_for_staff_only(client, owner):
    body = {"name": "x", "kind": "NO_THRESHOLD", "amount_off": 10, "total": 1, "per_user_limit": 1, "valid_days": 1}
    assert client.post("/admin/coupon-templates", body).status_code == 401
    assert client.as_token(buyer_token()).post("/admin/coupon-templates", body).status_code == 403
    assert client.as_token(buyer_token()).get("/admin/coupon-templates").status_code == 403
    assert client.as_token(staff_token("nobody", "owner")).get("/admin/coupon-templates").status_code == 401
    operator = operator_of(client)
    assert operator.post("/admin/coupon-templates", body).status_code == 201
    assert operator.get("/admin/coupon-templates").data["items"][0]["name"] == "x"


def test_editing_a_template_never_changes_a_coupon_already_held(owner, alice, bob):
    template = new_template(owner, per_user_limit=1)
    held = claimed(alice, template["template_id"])
    edited = owner.put(f"/admin/coupon-templates/{template['template_id']}",
                       {"amount_off": 500, "min_spend": 5000, "name": "满50减5"})
    assert edited.status_code == 200 and edited.data["version"] == 2, edited.data
    assert (edited.data["amount_off"], edited.data["min_spend"], edited.data["claimed"]) == (500, 5000, 1)
    mine = alice.api.get("/marketing/coupons/mine").data["items"]
    assert [(c["coupon_id"], c["amount_off"], c["min_spend"], c["name"]) for c in mine] == \
        [(held["coupon_id"], 2000, 10000, "满100减20")]
    assert (claimed(bob, template["template_id"])["amount_off"]) == 500, "a new claim takes the new terms"


def test_total_cannot_drop_below_what_is_claimed(owner, alice, bob):
    template = new_template(owner, total=5)
    claimed(alice, template["template_id"])
    claimed(bob, template["template_id"])
    response = owner.put(f"/admin/coupon-templates/{template['template_id']}", {"total": 1})
    assert response.status_code == 409 and response.data["error"]["code"] == "TOTAL_BELOW_CLAIMED"
    assert owner.put(f"/admin/coupon-templates/{template['template_id']}", {"total": 2}).status_code == 200
    assert alice.api.get("/marketing/coupons").data["items"][0]["remaining"] == 0


def test_an_ended_template_takes_no_more_claims_but_held_coupons_stay(owner, alice, bob):
    template = new_template(owner)
    held = claimed(alice, template["template_id"])
    ended = owner.post(f"/admin/coupon-templates/{template['template_id']}/end")
    assert ended.status_code == 200 and ended.data["status"] == "ENDED"
    assert alice.api.get("/marketing/coupons").data["items"] == []
    refused = bob.api.post(f"/marketing/coupons/{template['template_id']}/claim")
    assert refused.status_code == 409 and refused.data["error"]["code"] == "COUPON_ENDED"
    assert alice.api.get("/marketing/coupons/mine?status=AVAILABLE").data["items"][0]["coupon_id"] == held["coupon_id"]
    edit = owner.put(f"/admin/coupon-templates/{template['template_id']}", {"total": 500})
    assert edit.status_code == 409 and edit.data["error"]["code"] == "COUPON_ENDED"


def test_unknown_templates_are_404(owner, alice):
    assert owner.get("/admin/coupon-templates/NOPE").status_code == 404
    assert owner.put("/admin/coupon-templates/NOPE", {"total": 3}).status_code == 404
    assert owner.post("/admin/coupon-templates/NOPE/end").status_code == 404
    claim = alice.api.post("/marketing/coupons/NOPE/claim")
    assert claim.status_code == 404 and claim.data["error"]["code"] == "COUPON_TEMPLATE_NOT_FOUND"
    assert alice.api.post("/marketing/coupons/" + "x" * 80 + "/claim").status_code == 404


# --- claiming --------------------------------------------------------------------------------------------

def test_a_claim_copies_the_terms_and_the_validity_counts_from_the_claim(owner, alice, frozen_clock):
    template = new_template(owner, valid_days=7, scope={"kind": "PRODUCTS", "ids": ["P1", "P2"]})
    coupon = claimed(alice, template["template_id"])
    assert coupon["status"] == "AVAILABLE" and coupon["order_id"] is None
    assert (coupon["valid_from"], coupon["valid_until"]) == ("2026-11-25T04:00:00.000Z", "2026-12-02T04:00:00.000Z")
    assert coupon["scope"] == {"kind": "PRODUCTS", "ids": ["P1", "P2"]}


def test_the_per_buyer_limit_is_409_limit_reached(owner, alice, bob):
    template = new_template(owner, per_user_limit=2)
    claimed(alice, template["template_id"])
    claimed(alice, template["template_id"])
    third = alice.api.post(f"/marketing/coupons/{template['template_id']}/claim")
    assert third.status_code == 409 and third.data["error"]["code"] == "LIMIT_REACHED"
    claimed(bob, template["template_id"])


def test_the_last_coupon_goes_once_then_409_sold_out(owner, alice, bob):
    template = new_template(owner, total=1, per_user_limit=5)
    claimed(alice, template["template_id"])
    late = bob.api.post(f"/marketing/coupons/{template['template_id']}/claim")
    assert late.status_code == 409 and late.data["error"]["code"] == "SOLD_OUT"


def test_a_granted_only_template_is_hidden_from_buyers_and_staff_grant_it(client, owner, alice):
    from chalicelib.members import service as members

    buyer = members.login("dev:carol").user
    template = new_template(owner, claimable=False, per_user_limit=1)
    assert alice.api.get("/marketing/coupons").data["items"] == []
    assert alice.api.post(f"/marketing/coupons/{template['template_id']}/claim").status_code == 404
    granted = owner.post(f"/admin/coupon-templates/{template['template_id']}/grant", {"user_id": buyer.user_id})
    assert granted.status_code == 201 and granted.data["template_id"] == template["template_id"], granted.data
    again = owner.post(f"/admin/coupon-templates/{template['template_id']}/grant", {"user_id": buyer.user_id})
    assert again.status_code == 409 and again.data["error"]["code"] == "LIMIT_REACHED"
    nobody = owner.post(f"/admin/coupon-templates/{template['template_id']}/grant", {"user_id": "U-nobody"})
    assert nobody.status_code == 404 and nobody.data["error"]["code"] == "USER_NOT_FOUND"


def test_a_window_template_is_valid_in_its_window_and_not_claimable_after_it(owner, alice, bob, frozen_clock):
    template = new_template(owner, valid_days=None, starts_at="2026-11-26T00:00:00Z", ends_at="2026-11-30T00:00:00Z")
    coupon = claimed(alice, template["template_id"])
    assert (coupon["valid_from"], coupon["valid_until"]) == ("2026-11-26T00:00:00.000Z", "2026-11-30T00:00:00.000Z")
    frozen_clock.set("2026-11-30T00:00:01Z")
    assert alice.api.get("/marketing/coupons").data["items"] == []
    late = bob.api.post(f"/marketing/coupons/{template['template_id']}/claim")
    assert late.status_code == 409 and late.data["error"]["code"] == "COUPON_ENDED"


def test_mine_shows_an_unspent_coupon_past_its_validity_as_expired(owner, alice, frozen_clock):
    short = new_template(owner, valid_days=1)
    long = new_template(owner, valid_days=30)
    first = claimed(alice, short["template_id"])
    second = claimed(alice, long["template_id"])
    frozen_clock.advance(days=2)
    expired = alice.api.get("/marketing/coupons/mine?status=EXPIRED").data["items"]
    available = alice.api.get("/marketing/coupons/mine?status=AVAILABLE").data["items"]
    assert [c["coupon_id"] for c in expired] == [first["coupon_id"]]
    assert [c["coupon_id"] for c in available] == [second["coupon_id"]]
    assert alice.api.get("/marketing/coupons/mine?status=WRONG").status_code == 400
    assert alice.api.get("/marketing/coupons/mine?cursor=garbage").status_code == 400


def test_mine_pages_newest_first_and_shows_nobody_elses(owner, alice, bob):
    template = new_template(owner, per_user_limit=5)
    ids = [claimed(alice, template["template_id"])["coupon_id"] for _ in range(5)]
    claimed(bob, template["template_id"])
    first = alice.api.get("/marketing/coupons/mine?limit=3").data
    second = alice.api.get(f"/marketing/coupons/mine?limit=3&cursor={first['next_cursor']}").data
    assert [c["coupon_id"] for c in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None
    assert alice.api.get("/marketing/coupons/mine").status_code == 200
    assert alice.api.as_token(None).get("/marketing/coupons/mine").status_code == 401


def test_the_demo_coupons_are_seeded_once_and_claimable(owner, alice):
    from chalicelib.marketing.demo import DEMO_TEMPLATES, seed_demo_coupons

    assert seed_demo_coupons() == len(DEMO_TEMPLATES)
    assert seed_demo_coupons() == 0
    listed = alice.api.get("/marketing/coupons").data["items"]
    assert sorted(t["kind"] for t in listed) == ["AMOUNT_OFF", "NO_THRESHOLD", "PERCENT_OFF"]
    claimed(alice, listed[0]["template_id"])
