"""HTTP: /admin/login, /admin/me and the owner's /admin/staff routes."""
import pytest

from chalicelib.admin import service
from chalicelib.admin.passwords import ScryptCost
from tests.conftest import buyer_token, staff_token

# Accounts arranged directly are hashed cheaply; routes always hash at the default cost.
FAST = ScryptCost(n=2**4, r=8, p=1)
OWNER_PASSWORD = "owner-pass-123"


def add_staff(username, role="operator", password="staff-pass-123"):
    return service.create_staff(username, password, role, cost=FAST)


@pytest.fixture
def owner(client):
    """A client acting as the owner `boss`, whose account exists."""
    add_staff("boss", "owner", OWNER_PASSWORD)
    return client.as_token(staff_token("boss", "owner"))


@pytest.fixture
def operator(client):
    add_staff("clerk", "operator")
    return client.as_token(staff_token("clerk", "operator"))


def error_code(response):
    return (response.data or {}).get("error", {}).get("code")


def assert_status(response, status, code=None):
    assert response.status_code == status, f"expected {status} {code or ''}, got {response.status_code}: {response.data}"
    if code is not None:
        assert error_code(response) == code, f"expected error {code}, got {response.data}"


# --- POST /admin/login --------------------------------------------------------

def test_login_returns_a_token_that_opens_the_console(client, frozen_clock):
    add_staff("boss", "owner", OWNER_PASSWORD)
    response = client.post("/admin/login", {"username": "boss", "password": OWNER_PASSWORD})
    assert_status(response, 200)
    assert response.data["username"] == "boss" and response.data["role"] == "owner"
    assert response.data["expires_in"] == 12 * 3600
    me = client.as_token(response.data["token"]).get("/admin/me")
    assert_status(me, 200)
    assert me.data["last_login_at"] == "2026-11-25T04:00:00.000Z"


def test_login_upgrades_a_hash_made_at_another_cost(client):
    add_staff("boss", "owner", OWNER_PASSWORD)
    assert_status(client.post("/admin/login", {"username": "boss", "password": OWNER_PASSWORD}), 200)
    assert service.get_staff("boss").password_hash.startswith("scrypt$16384$8$1$")
    assert_status(client.post("/admin/login", {"username": "boss", "password": OWNER_PASSWORD}), 200)


def test_wrong_password_and_unknown_user_fail_alike(client):
    add_staff("boss", "owner", OWNER_PASSWORD)
    wrong_password = client.post("/admin/login", {"username": "boss", "password": "not-it"})
    unknown_user = client.post("/admin/login", {"username": "nobody", "password": OWNER_PASSWORD})
    assert_status(wrong_password, 401, "INVALID_CREDENTIALS")
    assert_status(unknown_user, 401, "INVALID_CREDENTIALS")
    assert wrong_password.data == unknown_user.data


@pytest.mark.parametrize("username", ["#active-owners", "BOSS ", "a" * 64, "x"])
def test_a_username_no_account_can_have_is_just_wrong_credentials(client, username):
    add_staff("boss", "owner", OWNER_PASSWORD)
    response = client.post("/admin/login", {"username": username, "password": OWNER_PASSWORD})
    assert_status(response, 401, "INVALID_CREDENTIALS")


def test_a_disabled_account_cannot_log_in(client):
    add_staff("boss", "owner", OWNER_PASSWORD)
    add_staff("clerk", "operator", "clerk-pass-123")
    service.update_staff("clerk", disabled=True, cost=FAST)
    right = client.post("/admin/login", {"username": "clerk", "password": "clerk-pass-123"})
    wrong = client.post("/admin/login", {"username": "clerk", "password": "guess"})
    assert_status(right, 401, "ACCOUNT_DISABLED")
    assert_status(wrong, 401, "INVALID_CREDENTIALS")


@pytest.mark.parametrize("body", [
    {},
    {"username": "boss"},
    {"password": OWNER_PASSWORD},
    {"username": "boss", "password": OWNER_PASSWORD, "remember": True},
    {"username": 42, "password": OWNER_PASSWORD},
    {"username": "boss", "password": None},
    {"username": "boss", "password": ["x"]},
    {"username": "", "password": OWNER_PASSWORD},
    {"username": "boss", "password": ""},
])
def test_login_with_bad_fields_is_400(client, body):
    assert_status(client.post("/admin/login", body), 400, "VALIDATION_ERROR")


def test_login_with_a_body_that_is_not_json_is_400(client):
    assert_status(client.post("/admin/login", raw="username=boss"), 400, "INVALID_JSON")


# --- GET /admin/me --------------------------------------------------------------

def test_me_shows_the_callers_username_and_role(operator):
    response = operator.get("/admin/me")
    assert_status(response, 200)
    assert response.data["username"] == "clerk" and response.data["role"] == "operator"
    assert response.data["disabled"] is False and response.data["last_login_at"] is None
    assert "password_hash" not in response.data


def test_me_without_a_token_is_401(client):
    assert_status(client.get("/admin/me"), 401, "UNAUTHENTICATED")


def test_me_with_a_tampered_token_is_401(client):
    add_staff("clerk")
    token = staff_token("clerk", "operator")
    header, claims, signature = token.split(".")
    tampered = ".".join((header, claims, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")))
    assert_status(client.as_token(tampered).get("/admin/me"), 401, "INVALID_TOKEN")


def test_me_with_an_expired_token_is_401(operator, frozen_clock):
    frozen_clock.advance(hours=12, seconds=1)
    assert_status(operator.get("/admin/me"), 401, "TOKEN_EXPIRED")


def test_me_with_a_buyer_token_is_403(client):
    assert_status(client.as_token(buyer_token()).get("/admin/me"), 403, "FORBIDDEN")


def test_a_token_for_an_account_that_does_not_exist_is_401(client):
    assert_status(client.as_token(staff_token("ghost", "owner")).get("/admin/me"), 401, "ACCOUNT_INACTIVE")


def test_disabling_an_account_revokes_its_live_token_at_once(owner, operator):
    assert_status(owner.put("/admin/staff/clerk", {"disabled": True}), 200)
    assert_status(operator.get("/admin/me"), 401, "ACCOUNT_INACTIVE")


# --- GET /admin/staff -------------------------------------------------------------

def test_owner_lists_every_account_sorted_without_secrets(owner, frozen_clock):
    add_staff("zoe")
    add_staff("amy", "owner")
    response = owner.get("/admin/staff")
    assert_status(response, 200)
    assert [row["username"] for row in response.data] == ["amy", "boss", "zoe"]
    from chalicelib.core.permissions import ALL_PERMISSIONS

    assert response.data[0] == {"username": "amy", "role": "owner", "disabled": False,
                                "created_at": "2026-11-25T04:00:00.000Z", "last_login_at": None,
                                "grants": [], "permissions": sorted(ALL_PERMISSIONS)}


def test_owner_routes_refuse_an_operator(operator):
    assert_status(operator.get("/admin/staff"), 403, "PERMISSION_DENIED")
    assert_status(operator.get("/admin/staff/clerk"), 403, "PERMISSION_DENIED")
    assert_status(operator.post("/admin/staff", {"username": "eve", "password": "eve-pass-123",
                                                 "role": "owner"}), 403, "PERMISSION_DENIED")
    assert_status(operator.put("/admin/staff/clerk", {"role": "owner"}), 403, "PERMISSION_DENIED")
    assert operator.get("/admin/staff").data["error"]["details"] == {"permission": "staff.manage"}


def test_staff_routes_refuse_a_buyer(client):
    buyer = client.as_token(buyer_token())
    assert_status(buyer.get("/admin/staff"), 403, "FORBIDDEN")
    assert_status(buyer.get("/admin/staff/boss"), 403, "FORBIDDEN")
    assert_status(buyer.post("/admin/staff", {"username": "eve", "password": "eve-pass-123",
                                              "role": "owner"}), 403, "FORBIDDEN")
    assert_status(buyer.put("/admin/staff/boss", {"role": "operator"}), 403, "FORBIDDEN")


def test_staff_routes_without_a_token_are_401(client):
    assert_status(client.get("/admin/staff"), 401, "UNAUTHENTICATED")
    assert_status(client.get("/admin/staff/boss"), 401, "UNAUTHENTICATED")
    assert_status(client.post("/admin/staff", {"username": "eve", "password": "eve-pass-123",
                                               "role": "owner"}), 401, "UNAUTHENTICATED")
    assert_status(client.put("/admin/staff/boss", {"role": "operator"}), 401, "UNAUTHENTICATED")


def test_an_owner_demoted_since_login_loses_owner_routes_at_once(owner, client):
    add_staff("amy", "owner")
    amy = client.as_token(staff_token("amy", "owner"))
    assert_status(owner.put("/admin/staff/amy", {"role": "operator"}), 200)
    assert_status(amy.get("/admin/staff"), 403, "PERMISSION_DENIED")
    assert_status(amy.get("/admin/me"), 200)


# --- POST /admin/staff ----------------------------------------------------------

def test_owner_creates_an_account_that_can_log_in(owner, client):
    response = owner.post("/admin/staff", {"username": "clerk.2", "password": "clerk-pass-123",
                                           "role": "operator"})
    assert_status(response, 201)
    assert response.data["username"] == "clerk.2" and response.data["role"] == "operator"
    login = client.post("/admin/login", {"username": "clerk.2", "password": "clerk-pass-123"})
    assert_status(login, 200)
    assert login.data["role"] == "operator"


def test_creating_a_taken_username_is_409_and_keeps_the_first(owner, client):
    add_staff("clerk", password="first-pass-123")
    response = owner.post("/admin/staff", {"username": "clerk", "password": "second-pass-123",
                                           "role": "owner"})
    assert_status(response, 409, "STAFF_EXISTS")
    assert service.get_staff("clerk").role == "operator"
    assert_status(client.post("/admin/login", {"username": "clerk", "password": "first-pass-123"}), 200)


@pytest.mark.parametrize("body", [
    {},
    {"username": "eve", "password": "eve-pass-123"},
    {"username": "eve", "password": "eve-pass-123", "role": "admin"},
    {"username": "eve", "password": "eve-pass-123", "role": "buyer"},
    {"username": "eve", "password": "short", "role": "operator"},
    {"username": "Eve", "password": "eve-pass-123", "role": "operator"},
    {"username": "e", "password": "eve-pass-123", "role": "operator"},
    {"username": "#active-owners", "password": "eve-pass-123", "role": "operator"},
    {"username": "eve", "password": "eve-pass-123", "role": "operator", "disabled": False},
    {"username": ["eve"], "password": "eve-pass-123", "role": "operator"},
    {"username": "eve", "password": 12345678, "role": "operator"},
    {"username": "eve", "password": "eve-pass-123", "role": 1},
    {"username": "eve", "password": "x" * 1025, "role": "operator"},
])
def test_creating_with_bad_fields_is_400(owner, body):
    assert_status(owner.post("/admin/staff", body), 400, "VALIDATION_ERROR")


# --- GET /admin/staff/{username} -----------------------------------------------------

def test_owner_reads_one_account(owner):
    add_staff("clerk")
    response = owner.get("/admin/staff/clerk")
    assert_status(response, 200)
    assert response.data["username"] == "clerk" and response.data["role"] == "operator"


@pytest.mark.parametrize("username", ["nobody", "%23active-owners"])
def test_reading_an_unknown_account_is_404(owner, username):
    assert_status(owner.get(f"/admin/staff/{username}"), 404, "STAFF_NOT_FOUND")


# --- PUT /admin/staff/{username} ------------------------------------------------------

def test_promoting_an_operator_opens_owner_routes_to_them(owner, operator):
    response = owner.put("/admin/staff/clerk", {"role": "owner"})
    assert_status(response, 200)
    assert response.data["role"] == "owner"
    # Permissions follow the account's role now, not the role the token was issued with.
    assert_status(operator.get("/admin/staff"), 200)


def test_resetting_a_password_replaces_the_old_one(owner, client):
    add_staff("clerk", password="old-pass-123")
    assert_status(owner.put("/admin/staff/clerk", {"password": "new-pass-456"}), 200)
    assert_status(client.post("/admin/login", {"username": "clerk", "password": "old-pass-123"}),
                  401, "INVALID_CREDENTIALS")
    assert_status(client.post("/admin/login", {"username": "clerk", "password": "new-pass-456"}), 200)


def test_disabling_then_enabling_an_account(owner, client):
    add_staff("clerk", password="clerk-pass-123")
    disabled = owner.put("/admin/staff/clerk", {"disabled": True})
    assert_status(disabled, 200)
    assert disabled.data["disabled"] is True
    login = {"username": "clerk", "password": "clerk-pass-123"}
    assert_status(client.post("/admin/login", login), 401, "ACCOUNT_DISABLED")
    assert_status(owner.put("/admin/staff/clerk", {"disabled": False}), 200)
    assert_status(client.post("/admin/login", login), 200)


def test_the_last_owner_cannot_be_demoted(owner):
    assert_status(owner.put("/admin/staff/boss", {"role": "operator"}), 409, "LAST_OWNER")
    assert service.get_staff("boss").role == "owner"


def test_the_last_owner_cannot_be_disabled(owner):
    assert_status(owner.put("/admin/staff/boss", {"disabled": True, "password": "new-pass-456"}),
                  409, "LAST_OWNER")
    account = service.get_staff("boss")
    assert account.disabled is False
    assert service.login("boss", OWNER_PASSWORD, cost=FAST).role == "owner", "a refused change half-applied"


def test_with_two_owners_one_may_step_down_but_not_the_second(owner):
    add_staff("amy", "owner")
    assert_status(owner.put("/admin/staff/amy", {"role": "operator"}), 200)
    assert_status(owner.put("/admin/staff/boss", {"disabled": True}), 409, "LAST_OWNER")


def test_a_disabled_owner_does_not_count_until_enabled_again(owner, client):
    add_staff("amy", "owner")
    assert_status(owner.put("/admin/staff/amy", {"disabled": True}), 200)
    assert_status(owner.put("/admin/staff/boss", {"role": "operator"}), 409, "LAST_OWNER")
    assert_status(owner.put("/admin/staff/amy", {"disabled": False}), 200)
    assert_status(owner.put("/admin/staff/boss", {"role": "operator"}), 200)
    # boss is an operator now: his owner token no longer opens owner routes.
    assert_status(owner.get("/admin/staff"), 403, "PERMISSION_DENIED")


def test_changing_an_unknown_account_is_404(owner):
    assert_status(owner.put("/admin/staff/nobody", {"role": "owner"}), 404, "STAFF_NOT_FOUND")


@pytest.mark.parametrize("body", [
    {},
    {"role": None, "disabled": None},
    {"disabled": "true"},
    {"disabled": 1},
    {"role": "admin"},
    {"password": "short"},
    {"password": 12345678},
    {"username": "other"},
    {"role": "owner", "note": "promoted"},
])
def test_changing_with_bad_fields_is_400(owner, body):
    add_staff("clerk")
    assert_status(owner.put("/admin/staff/clerk", body), 400, "VALIDATION_ERROR")


def test_staff_routes_are_in_the_openapi_document(client):
    paths = client.get("/openapi.json").data["paths"]
    assert set(paths["/admin/staff/{username}"]) == {"get", "put"}
    assert {"/admin/login", "/admin/me", "/admin/staff"} <= set(paths)
