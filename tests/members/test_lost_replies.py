"""Members' writes whose reply is lost after they committed (botocore then resends them): each finds its own
commit, so the buyer hears what happened, once: one user per first login, one address per add, a delete
that is the delete, an edit that commits once."""
from __future__ import annotations

import pytest

from chalicelib.members.models import AddressBookModel, OpenidClaim, UserModel
from tests.conftest import buyer_token
from tests.faults import reply_lost_after_commit

HOME = {"name": "张三", "phone": "13800138000", "province": "广东省", "city": "深圳市",
        "district": "南山区", "detail": "科技园科苑路15号"}
OFFICE = {**HOME, "name": "李四", "detail": "海天一路8号"}


@pytest.fixture
def alice(client):
    return client.as_token(buyer_token("U-alice"))


def addresses(buyer) -> list[dict]:
    response = buyer.get("/me/addresses")
    assert response.status_code == 200, response.data
    return response.data


def book_version() -> int:
    return int(AddressBookModel.get("U-alice", consistent_read=True).version)


def test_a_first_login_resent_after_a_lost_reply_is_the_user_it_made(client):
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = client.post("/auth/login", {"code": "dev:newcomer"})
    assert lost and response.status_code == 200, response.data
    users = [user.user_id for user in UserModel.scan()]
    assert users == [response.data["user"]["user_id"]], f"one user, the one the answer names: {users}"
    assert [claim.user_id for claim in OpenidClaim.scan()] == users
    again = client.post("/auth/login", {"code": "dev:newcomer"})
    assert again.data["user"]["user_id"] == users[0]


def test_a_login_whose_update_reply_is_lost_still_logs_in(client):
    first = client.post("/auth/login", {"code": "dev:regular"}).data["user"]["user_id"]
    with reply_lost_after_commit("UpdateItem") as lost:
        response = client.post("/auth/login", {"code": "dev:regular"})
    assert lost and response.status_code == 200, response.data
    assert response.data["user"]["user_id"] == first
    assert len(list(UserModel.scan())) == 1


@pytest.mark.parametrize("existing", [0, 1])
def test_an_address_add_resent_after_a_lost_reply_adds_one_address(alice, existing):
    for _ in range(existing):
        assert alice.post("/me/addresses", OFFICE).status_code == 201
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = alice.post("/me/addresses", {**HOME, "is_default": True})
    assert lost and response.status_code == 201, response.data
    book = addresses(alice)
    assert len(book) == existing + 1, f"the resent add must not add a second address: {book}"
    assert response.data["address_id"] in {address["address_id"] for address in book}
    assert [a["address_id"] for a in book if a["is_default"]] == [response.data["address_id"]]


def test_an_address_delete_resent_after_a_lost_reply_is_the_delete(alice):
    home = alice.post("/me/addresses", HOME).data
    office = alice.post("/me/addresses", OFFICE).data
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = alice.delete(f"/me/addresses/{home['address_id']}")
    assert lost and response.status_code == 204, response.data
    book = addresses(alice)
    assert [(a["address_id"], a["is_default"]) for a in book] == [(office["address_id"], True)]
    assert alice.delete(f"/me/addresses/{home['address_id']}").status_code == 404, "a second delete is still 404"


@pytest.mark.parametrize("body", [{**OFFICE}, {**OFFICE, "is_default": True}], ids=["edit", "make-default"])
def test_an_address_edit_resent_after_a_lost_reply_commits_once(alice, body):
    alice.post("/me/addresses", HOME)
    other = alice.post("/me/addresses", HOME).data
    assert book_version() == 2
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = alice.put(f"/me/addresses/{other['address_id']}", body)
    assert lost and response.status_code == 200, response.data
    assert response.data["name"] == "李四"
    assert response.data["is_default"] is bool(body.get("is_default"))
    assert book_version() == 3, "the change committed once, not planned and written again"
    assert len([a for a in addresses(alice) if a["is_default"]]) == 1
