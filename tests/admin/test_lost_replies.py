"""A create whose reply is lost after it committed: the SDK's resend finds its own commit and answers it,
never 409/500 and never a second item; with an Idempotency-Key, the client's own retry gets the same item."""
from __future__ import annotations

import pytest

from tests.catalog.helpers import as_staff, error_code, new_category, new_product, sku, skus_for
from tests.faults import reply_lost_after_commit


def products() -> list[str]:
    from chalicelib.catalog.models import ProductModel

    return [product.product_id for product in ProductModel.scan()]


def categories() -> list[str]:
    from chalicelib.catalog.models import CategoryModel
    from chalicelib.catalog.service import CATEGORY_GROUP

    return [row.name for row in CategoryModel.query(CATEGORY_GROUP)]


def many_skus(count: int) -> list[dict]:
    return [{"specs": {"编号": f"{i:03d}"}, "price": 1000 + i, "stock": 1} for i in range(count)]


@pytest.mark.parametrize("count", [2, 60, 99])
def test_a_product_create_resent_after_a_lost_reply_answers_the_product_it_made(client, count):
    staff = as_staff(client)
    category_id = new_category(client)
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = staff.post("/admin/products", {"title": "耳机", "category_id": category_id,
                                                  "skus": many_skus(count)})
    assert lost, "the fault was injected"
    assert response.status_code == 201, response.data
    assert products() == [response.data["product_id"]], "exactly the one product the answer names"
    assert len(response.data["skus"]) == count


def test_a_category_create_resent_after_a_lost_reply_answers_the_category_it_made(client):
    staff = as_staff(client)
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = staff.post("/admin/categories", {"name": "家居"})
    assert lost and response.status_code == 201, response.data
    assert categories() == ["家居"]


def test_a_taken_category_name_is_still_409(client):
    new_category(client, "家居")
    response = as_staff(client).post("/admin/categories", {"name": "家居"})
    assert (response.status_code, error_code(response)) == (409, "CATEGORY_EXISTS")


@pytest.mark.parametrize("path, body", [
    ("/admin/categories", {"name": "食品"}),
    ("/admin/products", None),
])
def test_a_retry_under_the_same_idempotency_key_after_a_lost_reply_gets_the_same_item(client, path, body):
    staff = as_staff(client)
    body = body or {"title": "耳机", "category_id": new_category(client), "skus": skus_for(3)}
    headers = {"Idempotency-Key": "console-create-0001"}
    with reply_lost_after_commit("TransactWriteItems", resend=False):
        first = staff.post(path, body, headers=headers)
    assert first.status_code == 503, "the outcome is unknown: retry with the same request"
    again = staff.post(path, body, headers=headers)
    twice = staff.post(path, body, headers=headers)
    assert (again.status_code, twice.status_code) == (201, 201), (again.data, twice.data)
    made = products() if path.endswith("products") else [c for c in categories() if c == "食品"]
    assert len(made) == 1, f"one item, however often the request came: {made}"
    id_field = "product_id" if path.endswith("products") else "category_id"
    assert again.data[id_field] == twice.data[id_field]


def test_the_same_idempotency_key_for_another_body_is_422(client):
    staff = as_staff(client)
    headers = {"Idempotency-Key": "console-create-0002"}
    assert staff.post("/admin/categories", {"name": "数码"}, headers=headers).status_code == 201
    reused = staff.post("/admin/categories", {"name": "服装"}, headers=headers)
    assert (reused.status_code, error_code(reused)) == (422, "IDEMPOTENCY_KEY_REUSED")
    bad = staff.post("/admin/categories", {"name": "服装"}, headers={"Idempotency-Key": "x"})
    assert (bad.status_code, error_code(bad)) == (400, "INVALID_IDEMPOTENCY_KEY")


def test_a_category_claim_an_earlier_release_wrote_creates_under_the_claimed_id(client):
    """A retry may reach a newer release than its first attempt: the claim's id (`admin#category#<staff>#<key>`)
    and fingerprint (sha256 of the body as pydantic dumps it in JSON mode, canonical JSON) are written here as that
    release did, and the create then takes the id the claim holds."""
    import hashlib
    import json
    from datetime import timedelta

    from chalicelib.core import clock
    from chalicelib.core.models import IdempotencyRecord

    staff = as_staff(client)
    dumped = {"name": "玩具", "parent_id": None, "sort": 0}
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    claimed = "01JRELEASECLAIM00000000001"
    IdempotencyRecord("admin#category#admin#release-key-0001", expiration=clock.now() + timedelta(hours=24),
                      status="CLAIMED", data=claimed, validation=hashlib.sha256(canonical.encode()).hexdigest()).save()
    created = staff.post("/admin/categories", {"name": "玩具"}, headers={"Idempotency-Key": "release-key-0001"})
    assert created.status_code == 201 and created.data["category_id"] == claimed, created.data


def test_without_a_key_two_creates_are_two_products(client):
    staff = as_staff(client)
    category_id = new_category(client)
    for _ in range(2):
        assert staff.post("/admin/products", {"title": "耳机", "category_id": category_id,
                                              "skus": [sku()]}).status_code == 201
    assert len(products()) == 2


def test_a_staff_create_resent_after_a_lost_reply_is_the_account_it_made(client):
    owner = as_staff(client, "boss", "owner")
    body = {"username": "newbie", "password": "a-long-password-1", "role": "operator"}
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = owner.post("/admin/staff", body)
    assert lost and response.status_code == 201, response.data
    again = owner.post("/admin/staff", body)
    assert (again.status_code, error_code(again)) == (409, "STAFF_EXISTS"), "a second create is still refused"


def test_a_category_rename_resent_after_a_lost_reply_is_the_rename(client):
    staff = as_staff(client)
    category_id = new_category(client, "家居")
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = staff.put(f"/admin/categories/{category_id}", {"name": "家居生活", "sort": 3})
    assert lost and response.status_code == 200, response.data
    assert (response.data["name"], response.data["sort"]) == ("家居生活", 3)
    assert categories() == ["家居生活"]
    taken = staff.post("/admin/categories", {"name": "家居生活"})
    assert (taken.status_code, error_code(taken)) == (409, "CATEGORY_EXISTS"), "the new name is claimed"
    assert staff.post("/admin/categories", {"name": "家居"}).status_code == 201, "the old name is free again"


def test_a_product_edit_resent_after_a_lost_reply_adds_its_new_sku_once(client):
    staff = as_staff(client)
    product = new_product(client, new_category(client))
    kept = [{"sku_id": s["sku_id"], "specs": s["specs"], "price": s["price"]} for s in product["skus"]]
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = staff.put(f"/admin/products/{product['product_id']}",
                             {"title": "降噪耳机", "skus": kept + [sku("绿", stock=4)]})
    assert lost and response.status_code == 200, response.data
    stored = staff.get(f"/admin/products/{product['product_id']}").data
    assert len(stored["skus"]) == 3, f"one SKU added, not a second one withdrawn: {stored['skus']}"
    assert all(s["active"] for s in stored["skus"])
    assert (stored["title"], stored["version"]) == ("降噪耳机", 2), "the edit committed once"
    assert response.data["skus"] == stored["skus"]


def test_taking_a_product_off_sale_resent_after_a_lost_reply_commits_once(client):
    staff = as_staff(client)
    product = new_product(client, new_category(client))
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = staff.delete(f"/admin/products/{product['product_id']}")
    assert lost and response.status_code == 200, response.data
    assert response.data["on_sale"] is False
    stored = staff.get(f"/admin/products/{product['product_id']}").data
    assert (stored["on_sale"], stored["version"]) == (False, 2), "taken off sale once"
