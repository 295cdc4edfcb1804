"""Staff sessions: each login is one; owners list and end them; a password change or reset ends them all,
so a token issued before it stops working at once (not 12 hours later); staff change their own password."""
from __future__ import annotations

import pytest

from chalicelib.admin import service
from chalicelib.admin.passwords import ScryptCost
from tests.conftest import staff_token
from tests.faults import reply_lost_after_commit

FAST = ScryptCost(n=2**4, r=8, p=1)
CLERK_PASSWORD = "clerk-pass-123"


def error_code(response) -> str | None:
    return (response.data or {}).get("error", {}).get("code")


@pytest.fixture
def owner(client):
    service.create_staff("boss", "boss-pass-123", "owner", cost=FAST)
    service.create_staff("clerk", CLERK_PASSWORD, "operator", cost=FAST)
    return client.as_token(staff_token("boss", "owner"))


def log_in(client, username="clerk", password=CLERK_PASSWORD, agent="console/1.0"):
    response = client.post("/admin/login", {"username": username, "password": password},
                           headers={"User-Agent": agent})
    assert response.status_code == 200, response.data
    return client.as_token(response.data["token"]), response.data


def test_a_password_reset_revokes_a_token_issued_before_it_at_once(client, owner, frozen_clock):
    clerk, _ = log_in(client)
    assert clerk.get("/admin/me").status_code == 200
    frozen_clock.advance(minutes=5)
    assert owner.put("/admin/staff/clerk", {"password": "new-pass-456"}).status_code == 200
    refused = clerk.get("/admin/me")
    assert (refused.status_code, error_code(refused)) == (401, "SESSION_ENDED"), refused.data
    again, _ = log_in(client, password="new-pass-456")
    assert again.get("/admin/me").status_code == 200


def test_a_reset_also_revokes_tokens_that_name_no_session(client, owner, frozen_clock):
    scripted = client.as_token(staff_token("clerk", "operator"))  # minted by a script, not a login
    assert scripted.get("/admin/me").status_code == 200
    frozen_clock.advance(seconds=1)
    assert owner.put("/admin/staff/clerk", {"password": "new-pass-456"}).status_code == 200
    assert error_code(scripted.get("/admin/me")) == "SESSION_ENDED"
    frozen_clock.advance(seconds=1)
    assert client.as_token(staff_token("clerk", "operator")).get("/admin/me").status_code == 200


def test_owners_list_sessions_with_where_they_came_from(client, owner, frozen_clock):
    _, first = log_in(client, agent="console/1.0")
    frozen_clock.advance(minutes=1)
    _, second = log_in(client, agent="console/2.0")
    listed = owner.get("/admin/staff/clerk/sessions")
    assert listed.status_code == 200
    assert [row["session_id"] for row in listed.data] == [second["session_id"], first["session_id"]]
    assert listed.data[0] == {"session_id": second["session_id"], "username": "clerk",
                              "created_at": "2026-11-25T04:01:00.000Z", "expires_at": "2026-11-25T16:01:00.000Z",
                              "source_ip": "127.0.0.1", "user_agent": "console/2.0"}
    everyone = owner.get("/admin/sessions")
    assert {row["session_id"] for row in everyone.data} == {first["session_id"], second["session_id"]}


def test_ending_one_session_revokes_its_token_only(client, owner):
    first, first_login = log_in(client)
    second, _ = log_in(client)
    ended = owner.delete(f"/admin/staff/clerk/sessions/{first_login['session_id']}")
    assert ended.status_code == 204, ended.data
    assert error_code(first.get("/admin/me")) == "SESSION_ENDED"
    assert second.get("/admin/me").status_code == 200
    again = owner.delete(f"/admin/staff/clerk/sessions/{first_login['session_id']}")
    assert (again.status_code, error_code(again)) == (404, "SESSION_NOT_FOUND")


def test_ending_every_session_revokes_every_token(client, owner):
    tokens = [log_in(client)[0] for _ in range(3)]
    ended = owner.delete("/admin/staff/clerk/sessions")
    assert ended.status_code == 200 and ended.data == {"ended": 3}
    assert all(error_code(token.get("/admin/me")) == "SESSION_ENDED" for token in tokens)
    assert owner.get("/admin/staff/clerk/sessions").data == []
    assert log_in(client)[0].get("/admin/me").status_code == 200, "a new login opens a new session"
    missing = owner.delete("/admin/staff/nobody/sessions")
    assert (missing.status_code, error_code(missing)) == (404, "STAFF_NOT_FOUND")


def test_sessions_expire_with_their_tokens_and_are_pruned_at_the_next_login(client, owner, frozen_clock):
    log_in(client)
    frozen_clock.advance(hours=12, seconds=1)
    owner = client.as_token(staff_token("boss", "owner"))  # the morning's token expired too
    assert owner.get("/admin/staff/clerk/sessions").data == []
    log_in(client)
    assert len(service.get_staff("clerk").sessions.as_dict()) == 1, "the expired session was pruned"


def test_logout_ends_the_callers_session(client, owner):
    clerk, _ = log_in(client)
    assert clerk.post("/admin/logout").status_code == 204
    assert error_code(clerk.get("/admin/me")) == "SESSION_ENDED"


# --- one's own password ----------------------------------------------------------------

def test_staff_change_their_own_password_and_get_a_new_token(client, owner):
    clerk, _ = log_in(client)
    other_device, _ = log_in(client)
    changed = clerk.put("/admin/me/password", {"current_password": CLERK_PASSWORD, "new_password": "mine-pass-789"})
    assert changed.status_code == 200, changed.data
    assert client.as_token(changed.data["token"]).get("/admin/me").status_code == 200
    assert error_code(clerk.get("/admin/me")) == "SESSION_ENDED"
    assert error_code(other_device.get("/admin/me")) == "SESSION_ENDED"
    wrong = client.post("/admin/login", {"username": "clerk", "password": CLERK_PASSWORD})
    assert (wrong.status_code, error_code(wrong)) == (401, "INVALID_CREDENTIALS")
    log_in(client, password="mine-pass-789")


def test_changing_ones_password_needs_the_current_one(client, owner):
    clerk, _ = log_in(client)
    refused = clerk.put("/admin/me/password", {"current_password": "a-guess", "new_password": "mine-pass-789"})
    assert (refused.status_code, error_code(refused)) == (403, "WRONG_PASSWORD")
    assert clerk.get("/admin/me").status_code == 200, "a wrong guess ends nothing"
    log_in(client)


@pytest.mark.parametrize("body", [
    {"current_password": CLERK_PASSWORD},
    {"current_password": CLERK_PASSWORD, "new_password": "short"},
    {"current_password": "", "new_password": "mine-pass-789"},
    {"current_password": CLERK_PASSWORD, "new_password": 12345678},
    {"current_password": CLERK_PASSWORD, "new_password": "mine-pass-789", "username": "boss"},
])
def test_a_bad_password_change_body_is_400(client, owner, body):
    clerk, _ = log_in(client)
    assert error_code(clerk.put("/admin/me/password", body)) == "VALIDATION_ERROR"


# --- lost replies ------------------------------------------------------------------------

def test_a_role_change_resent_after_a_lost_reply_answers_the_change(client, owner):
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = owner.put("/admin/staff/clerk", {"role": "owner"})
    assert lost and response.status_code == 200 and response.data["role"] == "owner", response.data
    from chalicelib.admin.models import ActiveOwnerTally

    assert ActiveOwnerTally.get("#active-owners").active_owners == 2, "counted once"
    assert owner.put("/admin/staff/boss", {"role": "operator"}).status_code == 200
    clerk = client.as_token(staff_token("clerk", "owner"))
    assert clerk.put("/admin/staff/clerk", {"role": "operator"}).status_code == 409, "clerk is the last owner now"


def test_a_password_reset_resent_after_a_lost_reply_answers_the_change(client, owner, frozen_clock):
    clerk, _ = log_in(client)
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = owner.put("/admin/staff/clerk", {"password": "new-pass-456"})
    assert lost and response.status_code == 200, response.data
    assert error_code(clerk.get("/admin/me")) == "SESSION_ENDED"
    log_in(client, password="new-pass-456")


def test_an_own_password_change_resent_after_a_lost_reply_answers_the_change(client, owner):
    clerk, _ = log_in(client)
    with reply_lost_after_commit("UpdateItem") as lost:
        changed = clerk.put("/admin/me/password", {"current_password": CLERK_PASSWORD,
                                                   "new_password": "mine-pass-789"})
    assert lost and changed.status_code == 200, changed.data
    assert client.as_token(changed.data["token"]).get("/admin/me").status_code == 200
    log_in(client, password="mine-pass-789")


def test_a_login_resent_after_a_lost_reply_opens_its_session(client, owner):
    with reply_lost_after_commit("UpdateItem") as lost:
        response = client.post("/admin/login", {"username": "clerk", "password": CLERK_PASSWORD})
    assert lost and response.status_code == 200, response.data
    assert client.as_token(response.data["token"]).get("/admin/me").status_code == 200
