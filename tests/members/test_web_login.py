"""The web login over HTTP: GET /auth/web/{provider}/authorize and POST /auth/web/{provider}/login. The state's
refusals (tampered, other redirect, provider or device, expired), open redirects, identities (one buyer per
identity, the unionid shared with the mini-program, concurrent first logins on real threads), the login rate
limit, configuration, and what a web buyer may pay with."""
from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.members import service, web_login
from chalicelib.members.models import OpenidClaim, UserModel
from chalicelib.members.wechat import Session
from tests.faults import reply_lost_after_commit

PHONE = {"X-Device-Id": "phone-1"}
ORDERS = "/pages/orders/orders"


def authorize(client, provider="alipay", redirect=ORDERS, headers=PHONE):
    return client.get(f"/auth/web/{provider}/authorize?redirect={redirect}", headers=headers)


def start(client, provider="alipay", redirect=ORDERS, headers=PHONE) -> str:
    response = authorize(client, provider, redirect, headers)
    assert response.status_code == 200, response.data
    return response.data["state"]


def finish(client, provider="alipay", code="sandbox.bob", state=None, redirect=ORDERS, headers=PHONE):
    state = state if state is not None else start(client, provider, redirect, headers)
    return client.post(f"/auth/web/{provider}/login", {"code": code, "state": state, "redirect": redirect},
                       headers=headers)


def logged_in(client, **kw) -> dict:
    response = finish(client, **kw)
    assert response.status_code == 200, response.data
    return response.data


def error(response) -> tuple[int, str]:
    return response.status_code, (response.data or {}).get("error", {}).get("code")


class ScriptedWeChat:
    def __init__(self, *sessions: Session):
        self.sessions = list(sessions)

    def code2session(self, code: str) -> Session:
        return self.sessions.pop(0)


# --- the two steps -------------------------------------------------------------------------------

def test_authorize_answers_the_providers_page_and_a_state_for_the_redirect(client):
    answer = authorize(client).data
    url = urlsplit(answer["authorize_url"])
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert url.path == "/sandbox/web-login/alipay" and query["scope"] == "auth_base"
    assert query["state"] == answer["state"] and answer["state"].isalnum() and len(answer["state"]) <= 128
    assert query["redirect_uri"] == answer["redirect_uri"] == \
        "/shop/pages/login/login?provider=alipay&redirect=%2Fpages%2Forders%2Forders"
    assert (answer["expires_in"], answer["sandbox"]) == (600, True)


def test_a_web_login_answers_the_token_shape_of_auth_login_and_the_redirect(client):
    data = logged_in(client)
    assert set(data) == {"token", "expires_in", "user", "provider", "redirect"}
    assert (data["provider"], data["redirect"]) == ("alipay", ORDERS)
    me = client.as_token(data["token"]).get("/me").data
    assert me["user_id"] == data["user"]["user_id"] and me["openid"] == "" and me["nickname"] == "支付宝用户"


def test_the_redirect_may_carry_a_storefront_query(client):
    redirect = "/pages/orders/orders?status=PAID"
    assert logged_in(client, redirect=redirect)["redirect"] == redirect


def test_an_unknown_provider_is_404(client):
    assert error(authorize(client, "facebook")) == (404, "PROVIDER_NOT_FOUND")
    assert error(finish(client, "facebook", state="0" * 58)) == (404, "PROVIDER_NOT_FOUND")


def test_a_code_the_provider_refuses_is_401(client):
    assert error(finish(client, code="dev:bob")) == (401, "INVALID_CODE")
    assert error(finish(client, "wechat", code="junk")) == (401, "INVALID_CODE")


@pytest.mark.parametrize("body", [{}, {"code": "sandbox.bob", "state": "x"}, {"code": 5, "state": "s", "redirect": ORDERS},
                                  {"code": "c", "state": "s" * 129, "redirect": ORDERS},
                                  {"code": "c", "state": "s", "redirect": ORDERS, "extra": 1}])
def test_a_bad_login_body_is_400(client, body):
    assert error(client.post("/auth/web/alipay/login", body, headers=PHONE))[0] == 400


# --- the state: CSRF -------------------------------------------------------------------------------

def flipped(state: str) -> str:
    return state[:-1] + ("0" if state[-1] != "0" else "1")


def test_a_tampered_or_forged_state_is_refused(client):
    state = start(client)
    for forged in (flipped(state), state[:10] + "f" * 48, "0" * 58, "abc", state.upper()):
        assert error(finish(client, state=forged)) == (403, "INVALID_STATE"), forged
    assert finish(client, state=state).status_code == 200, "the genuine state still works"


def test_a_state_made_for_another_redirect_provider_or_device_is_refused(client):
    state = start(client)
    assert error(finish(client, state=state, redirect="/pages/member/member")) == (403, "INVALID_STATE")
    assert error(finish(client, "wechat", state=state)) == (403, "INVALID_STATE")
    # a login CSRF: the attacker's code and state planted in the victim's browser (another device id)
    assert error(finish(client, state=state, headers={"X-Device-Id": "victim-phone"})) == (403, "INVALID_STATE")


def test_a_state_past_its_time_is_refused(client, frozen_clock):
    state = start(client)
    frozen_clock.advance(seconds=599)
    assert finish(client, state=state).status_code == 200
    state = start(client)
    frozen_clock.advance(seconds=600)
    assert error(finish(client, state=state)) == (403, "STATE_EXPIRED")


def test_the_states_lifetime_is_configurable(client, frozen_clock, monkeypatch):
    monkeypatch.setenv("MALL_WEB_LOGIN_STATE_SECONDS", "120")
    state = start(client)
    frozen_clock.advance(seconds=121)
    assert error(finish(client, state=state)) == (403, "STATE_EXPIRED")


def test_both_steps_need_the_browsers_device_id(client):
    assert error(authorize(client, headers={})) == (400, "DEVICE_ID_REQUIRED")
    assert error(authorize(client, headers={"X-Device-Id": "bad id!"})) == (400, "DEVICE_ID_REQUIRED")
    assert error(finish(client, state=start(client), headers={})) == (400, "DEVICE_ID_REQUIRED")


@pytest.mark.parametrize("redirect", ["https://evil.example/", "//evil.example/pages/x", "/shop/pages/orders/orders",
                                      "/pages/../../evil", "/pages//evil.example", "javascript:alert(1)",
                                      "/pages/a?next=https://evil.example", "/pages/a\\b", "pages/orders/orders",
                                      "/pages/" + "a" * 121])
def test_a_redirect_off_the_storefront_is_refused(client, redirect):
    from urllib.parse import quote

    assert error(authorize(client, redirect=quote(redirect, safe=""))) == (400, "INVALID_REDIRECT")
    response = client.post("/auth/web/alipay/login", {"code": "sandbox.bob", "state": "0" * 58, "redirect": redirect},
                           headers=PHONE)
    assert error(response) == (400, "INVALID_REDIRECT")


# --- identities ---------------------------------------------------------------------------------------

def test_a_second_web_login_finds_the_same_buyer(client):
    first, second = logged_in(client), logged_in(client)
    assert first["user"]["user_id"] == second["user"]["user_id"]
    assert logged_in(client, code="sandbox.carol")["user"]["user_id"] != first["user"]["user_id"]
    assert UserModel.count() == 2


def test_alipay_and_wechat_are_separate_buyers(client):
    alipay = logged_in(client, code="sandbox.bob")["user"]["user_id"]
    wechat = logged_in(client, provider="wechat", code="sandbox.bob")["user"]["user_id"]
    assert alipay != wechat


def test_the_wechat_browser_and_the_mini_program_share_a_buyer_through_the_unionid(client):
    web = logged_in(client, provider="wechat", code="sandbox.mia")["user"]
    assert web["openid"] == ""
    mini = service.login("c", ScriptedWeChat(Session("o-mini-mia", "key-1", unionid="sandbox-unionid-mia")))
    assert mini.user.user_id == web["user_id"], "one person, one buyer, whichever app came first"
    assert mini.user.openid == "o-mini-mia", "the mini-program openid joins the buyer (WeChat Pay needs it)"
    again = service.login("c", ScriptedWeChat(Session("o-mini-mia", "key-2", unionid="sandbox-unionid-mia")))
    assert again.user.user_id == web["user_id"] and UserModel.count() == 1


def test_a_mini_program_buyer_is_found_by_the_wechat_browser_through_the_unionid(client):
    mini = service.login("c", ScriptedWeChat(Session("o-mini-max", "key", unionid="sandbox-unionid-max")))
    web = logged_in(client, provider="wechat", code="sandbox.max")["user"]
    assert web["user_id"] == mini.user.user_id and web["openid"] == "o-mini-max"


def test_a_mini_program_buyer_from_before_unionid_claims_is_linked_at_their_next_login(client):
    service.login("c", ScriptedWeChat(Session("o-old", "key")))  # no unionid then: no unionid claim
    old = service.login("c", ScriptedWeChat(Session("o-old", "key", unionid="sandbox-unionid-old")))
    assert OpenidClaim.get("unionid:sandbox-unionid-old").user_id == old.user.user_id
    assert logged_in(client, provider="wechat", code="sandbox.old")["user"]["user_id"] == old.user.user_id


def test_without_a_unionid_the_mini_program_and_the_wechat_browser_are_separate_buyers(client):
    mini = service.login("c", ScriptedWeChat(Session("o-mini-ned", "key")))
    web = logged_in(client, provider="wechat", code="sandbox.ned")["user"]
    assert web["user_id"] != mini.user.user_id


def test_a_unionid_held_by_another_buyer_is_left_to_them(client):
    web = logged_in(client, provider="wechat", code="sandbox.zoe")["user"]
    mini = service.login("c", ScriptedWeChat(Session("o-zoe", "key")))  # before the mini-program had a unionid
    service.login("c", ScriptedWeChat(Session("o-zoe", "key", unionid="sandbox-unionid-zoe")))
    assert OpenidClaim.get("unionid:sandbox-unionid-zoe").user_id == web["user_id"] != mini.user.user_id


def test_a_first_web_login_resent_after_a_lost_reply_is_the_buyer_it_made(client):
    state = start(client)
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = finish(client, state=state)
    assert lost and response.status_code == 200, response.data
    assert [user.user_id for user in UserModel.scan()] == [response.data["user"]["user_id"]]


@pytest.mark.parametrize("round_", range(5))
def test_concurrent_first_logins_of_one_buyer_make_one_buyer(client, atomic_dynamodb, round_):
    states = [start(client, "wechat", headers={"X-Device-Id": f"phone-{n}"}) for n in range(6)]
    answers: list = [None] * len(states)
    barrier = threading.Barrier(len(states))

    def log_in(n: int) -> None:
        barrier.wait()
        answers[n] = web_login.login("wechat", f"sandbox.racer{round_}", states[n], ORDERS, f"phone-{n}")

    threads = [threading.Thread(target=log_in, args=(n,)) for n in range(len(states))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    user_ids = {answer.user.user_id for answer in answers if answer is not None}
    assert len(user_ids) == 1 and None not in answers, f"expected every racer to get one buyer, got {answers}"
    assert UserModel.count() == 1, "two concurrent first logins must create one buyer"
    claims = {claim.openid: claim.user_id for claim in OpenidClaim.scan()}
    assert claims == {f"unionid:sandbox-unionid-racer{round_}": user_ids.pop(),
                      f"wechat-oa:sandbox-oa-openid-racer{round_}": claims[f"wechat-oa:sandbox-oa-openid-racer{round_}"]}
    assert len(set(claims.values())) == 1


def test_deleting_the_account_releases_its_web_identities(client):
    first = logged_in(client, provider="wechat", code="sandbox.eve")
    assert client.as_token(first["token"]).delete("/me").status_code == 204
    assert list(OpenidClaim.scan()) == [], "every claim released"
    again = logged_in(client, provider="wechat", code="sandbox.eve")
    assert again["user"]["user_id"] != first["user"]["user_id"], "the next login is a new buyer"


# --- abuse limits -------------------------------------------------------------------------------

def test_web_logins_share_the_buyer_login_rate_limit(client, monkeypatch):
    monkeypatch.setenv("MALL_RATE_LIMITS", "on")
    monkeypatch.setenv("MALL_LIMIT_BUYER_LOGIN_DEVICE", "3/60")
    states = [start(client) for _ in range(3)]
    assert client.post("/auth/login", {"code": "dev:bob"}, headers=PHONE).status_code == 200
    assert all(finish(client, state=state).status_code == 200 for state in states[:2])
    refused = finish(client, state=states[2])
    assert error(refused) == (429, "RATE_LIMITED") and refused.headers["Retry-After"] == "20"
    assert refused.data["error"]["details"]["limit"] == "buyer_login"


# --- configuration -----------------------------------------------------------------------------

def test_live_without_the_storefronts_address_is_503_not_configured(client, monkeypatch):
    monkeypatch.setenv("MALL_PROVIDERS", "live")
    monkeypatch.delenv("MALL_SHOP_URL", raising=False)
    response = authorize(client)
    assert error(response) == (503, "NOT_CONFIGURED") and "Retry-After" in response.headers


def test_live_without_the_official_account_is_503_not_configured(client, monkeypatch):
    monkeypatch.setenv("MALL_PROVIDERS", "live")
    monkeypatch.setenv("MALL_SHOP_URL", "https://m.shop.example/shop/")
    monkeypatch.delenv("MALL_WECHAT_OA_APPID", raising=False)
    assert error(authorize(client, "wechat")) == (503, "NOT_CONFIGURED")


def test_live_authorize_sends_the_browser_to_wechat_and_back_to_the_storefront(client, monkeypatch):
    monkeypatch.setenv("MALL_PROVIDERS", "live")
    monkeypatch.setenv("MALL_SHOP_URL", "https://m.shop.example/shop/")
    monkeypatch.setenv("MALL_WECHAT_OA_APPID", "wx-oa")
    monkeypatch.setenv("MALL_WECHAT_OA_SECRET", "oa-secret")
    answer = authorize(client, "wechat").data
    assert answer["authorize_url"].startswith("https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx-oa&")
    assert answer["redirect_uri"] == \
        "https://m.shop.example/shop/pages/login/login?provider=wechat&redirect=%2Fpages%2Forders%2Forders"
    assert answer["sandbox"] is False


# --- paying ------------------------------------------------------------------------------------------

def test_a_web_buyer_is_not_offered_wechat_pay_but_alipay(client):
    token = logged_in(client)["token"]
    order_id = "01KB0000000000000000000000"
    wechat = client.as_token(token).post("/payments/prepay", {"order_id": order_id, "provider": "wechat"})
    assert error(wechat) == (422, "WECHAT_PAY_UNAVAILABLE")
    alipay = client.as_token(token).post("/payments/prepay", {"order_id": order_id, "provider": "alipay"})
    assert alipay.status_code == 404, "Alipay goes on to the order (none here)"
