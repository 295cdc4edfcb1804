"""The WeChat login clients: the sandbox twin, and the live client against a fake WeChat on 127.0.0.1."""
from __future__ import annotations

import socket

import pytest

from chalicelib.core import config
from chalicelib.core.errors import (
    Forbidden,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UpstreamError,
)
from chalicelib.members import wechat
from chalicelib.members.wechat import SandboxWeChat, WeChatApiClient

GOOD_ANSWER = {"openid": "oAbc123", "session_key": "c2Vzc2lvbi1rZXktMTIzNA==", "unionid": "uXyz"}


# --- sandbox twin ----------------------------------------------------------------

def test_sandbox_maps_a_dev_code_to_a_stable_openid():
    first = SandboxWeChat().code2session("dev:alice")
    again = SandboxWeChat().code2session("dev:alice")
    assert first.openid == "sandbox-openid-alice"
    assert again == first, "the same dev name must always be the same buyer"
    assert first.session_key and first.unionid is None


def test_sandbox_gives_different_names_different_openids():
    assert SandboxWeChat().code2session("dev:a").openid != SandboxWeChat().code2session("dev:b").openid


@pytest.mark.parametrize("name", ["a", "A_b-9", "x" * 32])
def test_sandbox_accepts_names_of_1_to_32_allowed_characters(name):
    assert SandboxWeChat().code2session(f"dev:{name}").openid == f"sandbox-openid-{name}"


@pytest.mark.parametrize("code", ["", "alice", "dev:", "dev:" + "x" * 33, "dev:a b", "dev:al!ce",
                                  "DEV:alice", "dev:alice\n", "prod:alice", "0a1b2c3d4e5f"])
def test_sandbox_rejects_other_codes_as_invalid(code):
    with pytest.raises(Unauthorized) as caught:
        SandboxWeChat().code2session(code)
    assert caught.value.code == "INVALID_CODE"


def test_client_is_the_sandbox_twin_in_sandbox_mode(monkeypatch):
    monkeypatch.setenv("MALL_PROVIDERS", "sandbox")
    assert isinstance(wechat.client(), SandboxWeChat)


def test_client_is_the_live_client_configured_from_the_environment(monkeypatch):
    monkeypatch.setenv("MALL_PROVIDERS", "live")
    monkeypatch.setenv("MALL_WECHAT_APPID", "wx-appid")
    monkeypatch.setenv("MALL_WECHAT_APP_SECRET", "s3cret")
    monkeypatch.delenv("MALL_WECHAT_API_BASE", raising=False)
    config.secret.cache_clear()
    try:
        live = wechat.client()
    finally:
        config.secret.cache_clear()
    assert isinstance(live, WeChatApiClient)
    assert (live.appid, live.base_url) == ("wx-appid", "https://api.weixin.qq.com")


def test_live_client_without_an_appid_is_a_configuration_error(monkeypatch):
    monkeypatch.setenv("MALL_PROVIDERS", "live")
    monkeypatch.delenv("MALL_WECHAT_APPID", raising=False)
    with pytest.raises(config.ConfigError):
        wechat.client()


# --- live client against the fake WeChat ------------------------------------------

def live_client(fake, timeout: float = 3.0) -> WeChatApiClient:
    return WeChatApiClient("wx-appid", "app-secret", fake.base_url + "/", timeout=timeout)


def test_live_client_sends_appid_secret_code_and_grant_type(fake_wechat):
    fake_wechat.answer("the-code", GOOD_ANSWER)
    live_client(fake_wechat).code2session("the-code")
    assert fake_wechat.queries == [{"path": "/sns/jscode2session", "appid": "wx-appid", "secret": "app-secret",
                                    "js_code": "the-code", "grant_type": "authorization_code"}]


def test_live_client_returns_openid_session_key_and_unionid(fake_wechat):
    fake_wechat.answer("the-code", GOOD_ANSWER)
    session = live_client(fake_wechat).code2session("the-code")
    assert (session.openid, session.session_key, session.unionid) == ("oAbc123", GOOD_ANSWER["session_key"], "uXyz")


def test_live_client_treats_a_missing_unionid_as_none(fake_wechat):
    fake_wechat.answer("the-code", {"openid": "oAbc123", "session_key": "k", "errcode": 0, "errmsg": "ok"})
    assert live_client(fake_wechat).code2session("the-code").unionid is None


def test_live_client_escapes_the_code_in_the_query(fake_wechat):
    code = "a&b=c d"
    fake_wechat.answer(code, GOOD_ANSWER)
    live_client(fake_wechat).code2session(code)
    assert fake_wechat.queries[0]["js_code"] == code


@pytest.mark.parametrize("errcode, error_type, status, code", [
    (40029, Unauthorized, 401, "INVALID_CODE"),
    (40163, Unauthorized, 401, "INVALID_CODE"),
    (45011, TooManyRequests, 429, "LOGIN_RATE_LIMITED"),
    (40226, Forbidden, 403, "USER_BLOCKED"),
    (-1, ServiceUnavailable, 503, "WECHAT_BUSY"),
    (40013, UpstreamError, 502, "WECHAT_ERROR"),  # invalid appid: our configuration, not the buyer
])
def test_live_client_maps_each_errcode(fake_wechat, errcode, error_type, status, code):
    fake_wechat.answer("the-code", {"errcode": errcode, "errmsg": "from wechat"})
    with pytest.raises(error_type) as caught:
        live_client(fake_wechat).code2session("the-code")
    assert (caught.value.status, caught.value.code) == (status, code)


def test_rate_limit_tells_the_client_when_to_retry(fake_wechat):
    fake_wechat.answer("the-code", {"errcode": 45011, "errmsg": "minute-quota reach limit"})
    with pytest.raises(TooManyRequests) as caught:
        live_client(fake_wechat).code2session("the-code")
    assert caught.value.headers["Retry-After"] == "60"


def test_busy_wechat_asks_for_a_retry(fake_wechat):
    fake_wechat.answer("the-code", {"errcode": -1, "errmsg": "system error"})
    with pytest.raises(ServiceUnavailable) as caught:
        live_client(fake_wechat).code2session("the-code")
    assert "Retry-After" in caught.value.headers


@pytest.mark.parametrize("raw", [b"<html>gateway</html>", b"", b"[1, 2]", b"\xff\xfe"])
def test_live_client_refuses_an_answer_that_is_not_a_json_object(fake_wechat, raw):
    fake_wechat.answer("the-code", raw=raw)
    with pytest.raises(UpstreamError) as caught:
        live_client(fake_wechat).code2session("the-code")
    assert caught.value.status == 502


@pytest.mark.parametrize("payload", [{"session_key": "k"}, {"openid": "o"}, {"openid": "", "session_key": "k"},
                                     {"openid": 5, "session_key": "k"}])
def test_live_client_refuses_an_answer_without_openid_or_session_key(fake_wechat, payload):
    fake_wechat.answer("the-code", payload)
    with pytest.raises(UpstreamError):
        live_client(fake_wechat).code2session("the-code")


def test_live_client_maps_an_http_error_status_to_502(fake_wechat):
    fake_wechat.answer("the-code", {"errcode": 0}, status=500)
    with pytest.raises(UpstreamError) as caught:
        live_client(fake_wechat).code2session("the-code")
    assert "500" in caught.value.message


def test_live_client_times_out_as_service_unavailable(fake_wechat):
    fake_wechat.answer("slow-code", GOOD_ANSWER, delay=1.0)
    with pytest.raises(ServiceUnavailable) as caught:
        live_client(fake_wechat, timeout=0.2).code2session("slow-code")
    assert caught.value.code == "WECHAT_UNAVAILABLE"


def test_live_client_maps_a_refused_connection_to_service_unavailable():
    with socket.socket() as probe:  # a port nobody listens on: bind, note it, close
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    live = WeChatApiClient("wx-appid", "app-secret", f"http://127.0.0.1:{port}", timeout=1)
    with pytest.raises(ServiceUnavailable) as caught:
        live.code2session("the-code")
    assert caught.value.code == "WECHAT_UNAVAILABLE"


def test_no_error_message_reveals_the_app_secret(fake_wechat):
    fake_wechat.answer("the-code", {"errcode": 40013, "errmsg": "invalid appid"})
    for code in ("the-code", "unknown-code"):
        with pytest.raises(UpstreamError) as caught:
            live_client(fake_wechat).code2session(code)
        assert "app-secret" not in caught.value.message
