"""The address book over HTTP (/me/addresses), and get_address for other features."""
from __future__ import annotations

import pytest

from chalicelib.core import auth
from chalicelib.core.errors import NotFound
from chalicelib.members import service
from chalicelib.members.models import AddressBookModel, AddressModel
from tests.conftest import buyer_token, staff_token

HOME = {"name": "张三", "phone": "13800138000", "province": "广东省", "city": "深圳市",
        "district": "南山区", "detail": "科技园科苑路15号"}
OFFICE = {**HOME, "name": "李四", "phone": "19912345678", "detail": "海天一路8号"}
ADDRESS_FIELDS = {*HOME, "address_id", "is_default", "created_at", "updated_at"}


@pytest.fixture
def alice(client):
    return client.as_token(buyer_token("U-alice"))


@pytest.fixture
def bob(client):
    return client.as_token(buyer_token("U-bob"))


def add(buyer, frozen_clock=None, **overrides):
    if frozen_clock is not None:  # ids and "most recent" follow the clock
        frozen_clock.advance(1)
    response = buyer.post("/me/addresses", {**HOME, **overrides})
    assert response.status_code == 201, response.data
    return response.data


def book(buyer):
    response = buyer.get("/me/addresses")
    assert response.status_code == 200, response.data
    return response.data


def defaults(addresses):
    return [address["address_id"] for address in addresses if address["is_default"]]


# --- POST /me/addresses ---------------------------------------------------------

def test_first_address_becomes_the_default(alice):
    created = add(alice, is_default=False)
    assert set(created) == ADDRESS_FIELDS
    assert created["is_default"] is True
    assert {key: created[key] for key in HOME} == HOME


def test_a_later_address_is_not_the_default_unless_asked(alice, frozen_clock):
    first = add(alice)
    second = add(alice, frozen_clock)
    assert second["is_default"] is False
    assert defaults(book(alice)) == [first["address_id"]]


def test_a_new_default_clears_the_old_one(alice, frozen_clock):
    add(alice)
    second = add(alice, frozen_clock, is_default=True)
    assert defaults(book(alice)) == [second["address_id"]]


def test_text_fields_are_stored_without_surrounding_spaces(alice):
    created = add(alice, name="  王五 ", detail=" 1号楼 ")
    assert (created["name"], created["detail"]) == ("王五", "1号楼")


def test_the_21st_address_is_refused(alice):
    for _ in range(20):
        add(alice)
    response = alice.post("/me/addresses", HOME)
    assert response.status_code == 409, response.data
    assert response.data["error"]["code"] == "ADDRESS_LIMIT"
    assert len(book(alice)) == 20


def test_deleting_one_makes_room_again(alice):
    ids = [add(alice)["address_id"] for _ in range(20)]
    assert alice.delete(f"/me/addresses/{ids[5]}").status_code == 204
    add(alice)
    assert len(book(alice)) == 20


def test_address_limit_is_configurable(alice, monkeypatch):
    monkeypatch.setenv("MALL_ADDRESS_LIMIT", "2")
    add(alice), add(alice)
    assert alice.post("/me/addresses", HOME).status_code == 409


VALID_EDGES = [{"name": "x" * 32}, {"detail": "x" * 120}, {"province": "x" * 32}, {"phone": "19900000000"}]


@pytest.mark.parametrize("overrides", VALID_EDGES)
def test_fields_at_their_limits_are_accepted(alice, overrides):
    assert {key: add(alice, **overrides)[key] for key in overrides} == overrides


BAD_BODIES = [
    pytest.param({"name": ""}, id="empty name"),
    pytest.param({"name": "   "}, id="blank name"),
    pytest.param({"name": "x" * 33}, id="name too long"),
    pytest.param({"name": 5}, id="name a number"),
    pytest.param({"phone": "12800138000"}, id="phone second digit 2"),
    pytest.param({"phone": "1380013800"}, id="phone 10 digits"),
    pytest.param({"phone": "138001380000"}, id="phone 12 digits"),
    pytest.param({"phone": "+8613800138000"}, id="phone with country code"),
    pytest.param({"phone": "1380013800a"}, id="phone with a letter"),
    pytest.param({"phone": "１３８００１３８０００"}, id="phone in full-width digits"),
    pytest.param({"phone": 13800138000}, id="phone a number"),
    pytest.param({"province": ""}, id="empty province"),
    pytest.param({"city": "x" * 33}, id="city too long"),
    pytest.param({"district": None}, id="district null"),
    pytest.param({"detail": "x" * 121}, id="detail too long"),
    pytest.param({"detail": ["科技园"]}, id="detail a list"),
    pytest.param({"is_default": "true"}, id="is_default a string"),
    pytest.param({"is_default": 1}, id="is_default a number"),
    pytest.param({"address_id": "01ABC"}, id="unknown field address_id"),
    pytest.param({"zip": "518000"}, id="unknown field zip"),
]


@pytest.mark.parametrize("overrides", BAD_BODIES)
def test_add_with_a_bad_field_is_400(alice, overrides):
    response = alice.post("/me/addresses", {**HOME, **overrides})
    assert response.status_code == 400, response.data
    assert response.data["error"]["code"] == "VALIDATION_ERROR"
    assert book(alice) == []


@pytest.mark.parametrize("missing", sorted(HOME))
def test_add_without_a_required_field_is_400(alice, missing):
    body = {key: value for key, value in HOME.items() if key != missing}
    response = alice.post("/me/addresses", body)
    assert response.status_code == 400, response.data
    assert response.data["error"]["details"][0]["field"] == missing


def test_add_with_a_body_that_is_not_json_is_400(alice):
    response = alice.post("/me/addresses", raw="name=张三")
    assert (response.status_code, response.data["error"]["code"]) == (400, "INVALID_JSON")


# --- GET /me/addresses ------------------------------------------------------------

def test_empty_book_is_an_empty_list(alice):
    assert book(alice) == []


def test_book_lists_the_default_first_then_the_newest(alice, frozen_clock):
    oldest = add(alice)
    middle = add(alice, frozen_clock)
    newest = add(alice, frozen_clock)
    listed = [address["address_id"] for address in book(alice)]
    assert listed == [oldest["address_id"], newest["address_id"], middle["address_id"]]


def test_a_buyer_sees_only_their_own_addresses(alice, bob):
    add(alice)
    assert book(bob) == []


# --- PUT /me/addresses/{address_id} -------------------------------------------------

def test_put_replaces_the_fields(alice, frozen_clock):
    created = add(alice)
    frozen_clock.advance(30)
    response = alice.put(f"/me/addresses/{created['address_id']}", OFFICE)
    assert response.status_code == 200, response.data
    assert {key: response.data[key] for key in OFFICE} == OFFICE
    assert response.data["created_at"] == created["created_at"]
    assert response.data["updated_at"] != created["updated_at"]
    assert book(alice) == [response.data]


def test_put_without_is_default_keeps_the_default(alice):
    created = add(alice)
    response = alice.put(f"/me/addresses/{created['address_id']}", OFFICE)
    assert response.data["is_default"] is True


def test_put_is_default_true_moves_the_default(alice, frozen_clock):
    first = add(alice)
    second = add(alice, frozen_clock)
    response = alice.put(f"/me/addresses/{second['address_id']}", {**HOME, "is_default": True})
    assert response.data["is_default"] is True
    assert defaults(book(alice)) == [second["address_id"]]
    assert service.get_address("U-alice", first["address_id"]).is_default is False


def test_put_is_default_true_on_the_default_changes_nothing_else(alice, frozen_clock):
    first = add(alice)
    add(alice, frozen_clock)
    response = alice.put(f"/me/addresses/{first['address_id']}", {**OFFICE, "is_default": True})
    assert response.status_code == 200, response.data
    assert defaults(book(alice)) == [first["address_id"]]


def test_put_is_default_false_on_the_default_is_refused(alice, frozen_clock):
    first = add(alice)
    add(alice, frozen_clock)
    response = alice.put(f"/me/addresses/{first['address_id']}", {**OFFICE, "is_default": False})
    assert response.status_code == 409, response.data
    assert response.data["error"]["code"] == "DEFAULT_ADDRESS_REQUIRED"
    assert service.get_address("U-alice", first["address_id"]).name == HOME["name"], "nothing was changed"


def test_put_is_default_false_on_another_address_is_fine(alice, frozen_clock):
    first = add(alice)
    second = add(alice, frozen_clock)
    response = alice.put(f"/me/addresses/{second['address_id']}", {**OFFICE, "is_default": False})
    assert response.status_code == 200, response.data
    assert defaults(book(alice)) == [first["address_id"]]


@pytest.mark.parametrize("overrides", BAD_BODIES)
def test_put_with_a_bad_field_is_400(alice, overrides):
    created = add(alice)
    response = alice.put(f"/me/addresses/{created['address_id']}", {**HOME, **overrides})
    assert response.status_code == 400, response.data
    assert book(alice) == [created]


def test_put_with_a_missing_field_is_400(alice):
    created = add(alice)
    response = alice.put(f"/me/addresses/{created['address_id']}", {"name": "王五"})
    assert response.status_code == 400, response.data


def test_put_on_an_unknown_address_is_404(alice):
    response = alice.put("/me/addresses/01NOSUCHADDRESS0000000000", HOME)
    assert (response.status_code, response.data["error"]["code"]) == (404, "ADDRESS_NOT_FOUND")


def test_put_on_another_buyers_address_is_404_and_changes_nothing(alice, bob):
    created = add(alice)
    response = bob.put(f"/me/addresses/{created['address_id']}", OFFICE)
    assert (response.status_code, response.data["error"]["code"]) == (404, "ADDRESS_NOT_FOUND")
    assert book(alice) == [created]
    assert book(bob) == []


def test_put_on_an_absurdly_long_id_is_404(alice):
    response = alice.put("/me/addresses/" + "A" * 2000, HOME)
    assert response.status_code == 404, response.data


# --- DELETE /me/addresses/{address_id} -------------------------------------------------

def test_delete_removes_the_address(alice, frozen_clock):
    add(alice)
    second = add(alice, frozen_clock)
    response = alice.delete(f"/me/addresses/{second['address_id']}")
    assert (response.status_code, response.data) == (204, None)
    assert second["address_id"] not in [address["address_id"] for address in book(alice)]


def test_deleting_the_default_promotes_the_most_recent_other(alice, frozen_clock):
    first = add(alice)
    add(alice, frozen_clock)
    newest = add(alice, frozen_clock)
    assert alice.delete(f"/me/addresses/{first['address_id']}").status_code == 204
    assert defaults(book(alice)) == [newest["address_id"]]


def test_deleting_the_only_address_empties_the_book_and_the_next_is_default(alice):
    only = add(alice)
    assert alice.delete(f"/me/addresses/{only['address_id']}").status_code == 204
    assert book(alice) == []
    assert add(alice)["is_default"] is True


def test_delete_twice_is_404_the_second_time(alice):
    created = add(alice)
    alice.delete(f"/me/addresses/{created['address_id']}")
    response = alice.delete(f"/me/addresses/{created['address_id']}")
    assert (response.status_code, response.data["error"]["code"]) == (404, "ADDRESS_NOT_FOUND")


def test_delete_of_another_buyers_address_is_404_and_keeps_it(alice, bob):
    created = add(alice)
    response = bob.delete(f"/me/addresses/{created['address_id']}")
    assert (response.status_code, response.data["error"]["code"]) == (404, "ADDRESS_NOT_FOUND")
    assert book(alice) == [created]


# --- auth on every address route -----------------------------------------------------

ROUTES = [("GET", "/me/addresses", None), ("POST", "/me/addresses", HOME),
          ("PUT", "/me/addresses/01ANYADDRESS", HOME), ("DELETE", "/me/addresses/01ANYADDRESS", None)]


@pytest.mark.parametrize("method, path, body", ROUTES)
def test_address_routes_without_a_token_are_401(client, method, path, body):
    response = client.call(method, path, body)
    assert (response.status_code, response.data["error"]["code"]) == (401, "UNAUTHENTICATED")


@pytest.mark.parametrize("method, path, body", ROUTES)
def test_address_routes_with_an_expired_token_are_401(client, frozen_clock, method, path, body):
    token = buyer_token("U-alice")
    frozen_clock.advance(auth.BUYER_TOKEN_SECONDS)
    response = client.as_token(token).call(method, path, body)
    assert (response.status_code, response.data["error"]["code"]) == (401, "TOKEN_EXPIRED")


@pytest.mark.parametrize("method, path, body", ROUTES)
def test_address_routes_with_a_tampered_token_are_401(client, method, path, body):
    header, _, signature = buyer_token("U-alice").split(".")
    _, claims_of_bob, _ = buyer_token("U-bob").split(".")
    response = client.as_token(f"{header}.{claims_of_bob}.{signature}").call(method, path, body)
    assert (response.status_code, response.data["error"]["code"]) == (401, "INVALID_TOKEN")


@pytest.mark.parametrize("method, path, body", ROUTES)
def test_address_routes_with_a_staff_token_are_403(client, method, path, body):
    response = client.as_token(staff_token()).call(method, path, body)
    assert (response.status_code, response.data["error"]["code"]) == (403, "FORBIDDEN")


# --- get_address, the service other features use -------------------------------------

def test_get_address_returns_the_buyers_address(alice):
    created = add(alice)
    assert service.get_address("U-alice", created["address_id"]).model_dump() == created


def test_get_address_of_another_buyer_is_not_found(alice):
    created = add(alice)
    with pytest.raises(NotFound) as caught:
        service.get_address("U-bob", created["address_id"])
    assert caught.value.code == "ADDRESS_NOT_FOUND"


# --- the book's invariants under interleaved changes -----------------------------------

def interleave(monkeypatch, other_change):
    """Make the next book read return the book as it was, then run `other_change` before the caller commits.

    This is the interleaving a race produces: two requests read the same book,
    the other one commits first. The caller's transaction must fail on the book's
    version and redo its change on the new book.
    """
    real_load_book = service._load_book
    reads = []

    def load_book_then_let_another_request_commit(user_id):
        stale = real_load_book(user_id)
        reads.append(stale.version)
        if len(reads) == 1:
            other_change()
        return stale

    monkeypatch.setattr(service, "_load_book", load_book_then_let_another_request_commit)
    return reads


def stored_book(user_id):
    items = list(AddressModel.query(user_id))
    book_item = AddressBookModel.get(user_id)
    return items, book_item


def test_two_first_addresses_at_once_leave_exactly_one_default(aws, frozen_clock, monkeypatch):
    fields = service.AddressFields(**HOME)
    reads = interleave(monkeypatch, lambda: service.add_address("U-alice", fields))
    service.add_address("U-alice", fields)
    items, book_item = stored_book("U-alice")
    assert len(reads) == 3, "the stale change must be planned again (reads: stale, other's, retry)"
    assert sum(item.is_default for item in items) == 1, "exactly one default"
    assert book_item.address_count == 2 == len(items)
    assert book_item.default_address_id == next(item.address_id for item in items if item.is_default)


def test_two_new_defaults_at_once_leave_exactly_one_default(aws, frozen_clock, monkeypatch):
    fields = service.AddressFields(**HOME)
    service.add_address("U-alice", fields)
    interleave(monkeypatch, lambda: service.add_address("U-alice", fields, make_default=True))
    mine = service.add_address("U-alice", fields, make_default=True)
    items, book_item = stored_book("U-alice")
    assert [item.address_id for item in items if item.is_default] == [mine.address_id]
    assert book_item.default_address_id == mine.address_id


def test_an_add_racing_past_the_limit_is_refused(aws, frozen_clock, monkeypatch):
    monkeypatch.setenv("MALL_ADDRESS_LIMIT", "2")
    fields = service.AddressFields(**HOME)
    service.add_address("U-alice", fields)
    interleave(monkeypatch, lambda: service.add_address("U-alice", fields))
    with pytest.raises(service.Conflict) as caught:
        service.add_address("U-alice", fields)
    assert caught.value.code == "ADDRESS_LIMIT"
    assert len(list(AddressModel.query("U-alice"))) == 2


def test_deleting_the_default_while_another_becomes_default_keeps_one_default(aws, frozen_clock, monkeypatch):
    fields = service.AddressFields(**HOME)
    first = service.add_address("U-alice", fields)
    frozen_clock.advance(1)
    second = service.add_address("U-alice", fields)
    frozen_clock.advance(1)
    third = service.add_address("U-alice", fields)
    interleave(monkeypatch, lambda: service.update_address("U-alice", second.address_id, fields, make_default=True))
    service.delete_address("U-alice", first.address_id)
    items, book_item = stored_book("U-alice")
    assert [item.address_id for item in items if item.is_default] == [second.address_id]
    assert book_item.default_address_id == second.address_id and book_item.address_count == 2
    assert {item.address_id for item in items} == {second.address_id, third.address_id}


def test_a_book_that_never_settles_answers_busy(aws, frozen_clock, monkeypatch):
    fields = service.AddressFields(**HOME)
    service.add_address("U-alice", fields)
    real_load_book = service._load_book

    def always_stale(user_id):
        # Another writer moves the book's version after every read, so no attempt can commit.
        stale = real_load_book(user_id)
        AddressBookModel(user_id).update(actions=[AddressBookModel.version.add(1)])
        return stale

    monkeypatch.setattr(service, "_load_book", always_stale)
    with pytest.raises(service.ServiceUnavailable) as caught:
        service.add_address("U-alice", fields)
    assert caught.value.code == "BUSY"
