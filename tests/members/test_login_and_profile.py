"""POST /auth/login and GET /me over HTTP, and the first-login race on the service."""
from __future__ import annotations

import pytest

from chalicelib.core import auth
from chalicelib.members import service, wechat
from chalicelib.members.models import OpenidClaim, UserModel
from chalicelib.members.wechat import Session
from tests.conftest import buyer_token, staff_token

USER_FIELDS = {"user_id", "openid", "nickname", "level", "level_name", "discount_percent", "growth", "points",
               "frozen_points", "created_at"}


def login(client, name="alice"):
    response = client.post("/auth/login", {"code": f"dev:{name}"})
    assert response.status_code == 200, response.data
    return response.data


class ScriptedWeChat:
    """A WeChat client that hands out the sessions a test lists, one per login."""

    def __init__(self, *sessions: Session):
        self.sessions = list(sessions)

    def code2session(self, code: str) -> Session:
        return self.sessions.pop(0)


# --- POST /auth/login --------------------------------------------------------------

def test_first_login_creates_a_new_member(client):
    data = login(client)
    assert set(data["user"]) == USER_FIELDS
    assert data["user"]["openid"] == "sandbox-openid-alice"
    assert (data["user"]["level"], data["user"]["growth"], data["user"]["points"]) == (1, 0, 0)
    assert data["expires_in"] == auth.BUYER_TOKEN_SECONDS
    assert UserModel.count() == 1


def test_second_login_with_the_same_wechat_user_returns_the_same_member(client):
    first, second = login(client), login(client)
    assert second["user"] == first["user"]
    assert UserModel.count() == 1 and OpenidClaim.count() == 1


def test_different_wechat_users_become_different_members(client):
    assert login(client, "alice")["user"]["user_id"] != login(client, "bob")["user"]["user_id"]
    assert UserModel.count() == 2


def test_login_token_authenticates_the_member_on_me(client):
    data = login(client)
    response = client.as_token(data["token"]).get("/me")
    assert response.status_code == 200, response.data
    assert response.data == data["user"]


def test_session_key_is_stored_but_never_in_a_response(client):
    data = login(client)
    session_key = wechat.SandboxWeChat().code2session("dev:alice").session_key
    assert UserModel.get(data["user"]["user_id"]).session_key == session_key
    me = client.as_token(data["token"]).get("/me")
    for response in (client.post("/auth/login", {"code": "dev:alice"}), me):
        assert session_key not in response.body.decode()
        assert "session_key" not in response.body.decode()


def test_each_login_keeps_the_newest_session_key(aws, frozen_clock):
    scripted = ScriptedWeChat(Session("o-1", "key-one"), Session("o-1", "key-two", unionid="u-1"))
    first = service.login("code-1", scripted)
    frozen_clock.advance(60)
    service.login("code-2", scripted)
    stored = UserModel.get(first.user.user_id)
    assert (stored.session_key, stored.unionid) == ("key-two", "u-1")
    assert stored.last_login_at == frozen_clock.now()


@pytest.mark.parametrize("code", ["alice", "dev:", "dev:" + "x" * 33, "dev:al!ce", "wx-real-looking-code"])
def test_login_with_an_invalid_code_is_401(client, code):
    response = client.post("/auth/login", {"code": code})
    assert response.status_code == 401, response.data
    assert response.data["error"]["code"] == "INVALID_CODE"
    assert UserModel.count() == 0


@pytest.mark.parametrize("body", [{}, {"code": ""}, {"code": "   "}, {"code": 123}, {"code": None},
                                  {"code": ["dev:alice"]}, {"code": "dev:alice", "unionid": "x"},
                                  {"code": "x" * 129}])
def test_login_with_a_bad_body_is_400(client, body):
    response = client.post("/auth/login", body)
    assert response.status_code == 400, response.data
    assert response.data["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("raw", ["{not json", "[]", '"dev:alice"'])
def test_login_with_a_body_that_is_not_a_json_object_is_400(client, raw):
    response = client.post("/auth/login", raw=raw)
    assert response.status_code == 400, response.data
    assert response.data["error"]["code"] == "INVALID_JSON"


# --- login against the live client (fake WeChat on 127.0.0.1) ----------------------

def test_live_login_creates_the_member_from_wechats_answer(client, live_wechat):
    live_wechat.answer("real-code", {"openid": "oLive1", "session_key": "live-key"})
    response = client.post("/auth/login", {"code": "real-code"})
    assert response.status_code == 200, response.data
    assert response.data["user"]["openid"] == "oLive1"
    assert "live-key" not in response.body.decode()
    assert live_wechat.queries[0]["appid"] == "wx-test-appid"
    assert live_wechat.queries[0]["secret"] == "test-app-secret"


def test_live_mode_does_not_accept_sandbox_codes(client, live_wechat):
    live_wechat.answer("dev:alice", {"errcode": 40029, "errmsg": "invalid code"})
    response = client.post("/auth/login", {"code": "dev:alice"})
    assert (response.status_code, response.data["error"]["code"]) == (401, "INVALID_CODE")


@pytest.mark.parametrize("errcode, status, code", [
    (40226, 403, "USER_BLOCKED"), (45011, 429, "LOGIN_RATE_LIMITED"), (-1, 503, "WECHAT_BUSY"),
    (40013, 502, "WECHAT_ERROR"),
])
def test_live_login_answers_wechat_errors_in_the_mall_shape(client, live_wechat, errcode, status, code):
    live_wechat.answer("real-code", {"errcode": errcode, "errmsg": "from wechat"})
    response = client.post("/auth/login", {"code": "real-code"})
    assert response.status_code == status, response.data
    assert response.data["error"]["code"] == code
    assert UserModel.count() == 0


def test_live_login_rate_limit_carries_retry_after(client, live_wechat):
    live_wechat.answer("real-code", {"errcode": 45011, "errmsg": "minute-quota reach limit"})
    response = client.post("/auth/login", {"code": "real-code"})
    assert response.headers.get("Retry-After") == "60"


def test_live_login_when_wechat_answers_junk_is_502(client, live_wechat):
    live_wechat.answer("real-code", raw=b"<html>bad gateway</html>")
    response = client.post("/auth/login", {"code": "real-code"})
    assert (response.status_code, response.data["error"]["code"]) == (502, "WECHAT_ERROR")


# --- first-login race ------------------------------------------------------------------

def test_loser_of_a_first_login_race_gets_the_winners_member(aws, frozen_clock, monkeypatch):
    """Two first logins of one openid: both looked and found nobody, the winner committed first.

    The loser's transaction then finds the openid claim taken; it must not create
    a second member, and must answer with the winner's.
    """
    winner = service.login("dev:alice", wechat.SandboxWeChat())
    real_lookup = service.find_user_id_by_openid
    lookups = []

    def lookup_that_ran_before_the_winner_committed(openid):
        lookups.append(openid)
        return None if len(lookups) == 1 else real_lookup(openid)

    monkeypatch.setattr(service, "find_user_id_by_openid", lookup_that_ran_before_the_winner_committed)
    loser = service.login("dev:alice", ScriptedWeChat(Session("sandbox-openid-alice", "losers-key")))

    assert loser.user == winner.user, "the loser must get the winner's member"
    assert UserModel.count() == 1, "a race of first logins must create exactly one member"
    assert OpenidClaim.get("sandbox-openid-alice").user_id == winner.user.user_id
    assert UserModel.get(winner.user.user_id).session_key == "losers-key", "the latest login's key is kept"
    assert len(lookups) == 2, "the loser looks the claim up again after its transaction failed"


# --- GET /me ----------------------------------------------------------------------

def test_me_shows_the_profile_fields(client):
    data = login(client)
    response = client.as_token(data["token"]).get("/me")
    assert set(response.data) == USER_FIELDS


def test_me_for_a_token_whose_member_does_not_exist_is_404(client):
    response = client.as_token(buyer_token("U-nobody")).get("/me")
    assert (response.status_code, response.data["error"]["code"]) == (404, "USER_NOT_FOUND")


def test_me_without_a_token_is_401(client):
    response = client.get("/me")
    assert (response.status_code, response.data["error"]["code"]) == (401, "UNAUTHENTICATED")


def test_me_with_an_expired_token_is_401(client, frozen_clock):
    token = login(client)["token"]
    frozen_clock.advance(auth.BUYER_TOKEN_SECONDS + 1)
    response = client.as_token(token).get("/me")
    assert (response.status_code, response.data["error"]["code"]) == (401, "TOKEN_EXPIRED")


def test_me_with_a_tampered_token_is_401(client):
    header, claims, signature = login(client)["token"].split(".")
    forged = ".".join([header, claims, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])
    response = client.as_token(forged).get("/me")
    assert (response.status_code, response.data["error"]["code"]) == (401, "INVALID_TOKEN")


def test_me_with_a_staff_token_is_403(client):
    response = client.as_token(staff_token()).get("/me")
    assert response.status_code == 403, response.data
