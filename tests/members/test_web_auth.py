"""The web authorizers against the providers' documented answers: WeChat's `sns/oauth2/access_token` on a fake WeChat
on 127.0.0.1, Alipay's `alipay.system.oauth.token` through a scripted gateway that signs as Alipay does; their
sandbox twins; and the local stack's authorize page."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest

from chalicelib.core import config
from chalicelib.core.errors import ServiceUnavailable, Unauthorized, UpstreamError
from chalicelib.members import web_auth
from chalicelib.members.web_auth import AlipayWebAuth, SandboxWeChatWebAuth, WebIdentity, WeChatWebAuth
from chalicelib.payments.providers import Reply, load_private_key, rsa_sign, rsa_verify
from chalicelib.payments.providers.alipay import Alipay, request_content
from chalicelib.payments.providers.sandbox import new_private_key_pem, public_pem
from infra.local.web import SANDBOX_BUYER_COOKIE, sandbox_authorize

# --- WeChat: sns/oauth2/access_token -------------------------------------------------------

OAUTH_ANSWER = {"access_token": "ACCESS_TOKEN", "expires_in": 7200, "refresh_token": "REFRESH_TOKEN",
                "openid": "oOfficial123", "scope": "snsapi_base", "is_snapshotuser": 0, "unionid": "oUnion456"}


def wechat_web(fake) -> WeChatWebAuth:
    return WeChatWebAuth("wx-oa-appid", "oa-secret", fake.base_url)


def test_wechat_exchange_sends_appid_secret_code_and_grant_type(fake_wechat):
    fake_wechat.answer("the-code", OAUTH_ANSWER)
    identity = wechat_web(fake_wechat).exchange("the-code")
    assert fake_wechat.queries == [{"path": "/sns/oauth2/access_token", "appid": "wx-oa-appid", "secret": "oa-secret",
                                    "code": "the-code", "grant_type": "authorization_code"}]
    assert identity == WebIdentity("wechat", "oOfficial123", "oUnion456")
    assert identity.claims == ("unionid:oUnion456", "wechat-oa:oOfficial123"), "the unionid is looked up first"


def test_wechat_exchange_without_a_unionid_is_the_official_accounts_openid_alone(fake_wechat):
    fake_wechat.answer("the-code", {k: v for k, v in OAUTH_ANSWER.items() if k != "unionid"})
    identity = wechat_web(fake_wechat).exchange("the-code")
    assert (identity.unionid, identity.claims) == (None, ("wechat-oa:oOfficial123",))


@pytest.mark.parametrize("errcode, error_type, status, code", [
    (40029, Unauthorized, 401, "INVALID_CODE"),  # invalid code
    (40163, Unauthorized, 401, "INVALID_CODE"),  # code been used
    (-1, ServiceUnavailable, 503, "WECHAT_BUSY"),
    (40125, UpstreamError, 502, "WECHAT_ERROR"),  # invalid appsecret: our configuration, not the buyer
])
def test_wechat_exchange_maps_each_errcode(fake_wechat, errcode, error_type, status, code):
    fake_wechat.answer("the-code", {"errcode": errcode, "errmsg": "invalid code, rid: 6571d3bc-1c4d"})
    with pytest.raises(error_type) as caught:
        wechat_web(fake_wechat).exchange("the-code")
    assert (caught.value.status, caught.value.code) == (status, code)


@pytest.mark.parametrize("payload", [{"access_token": "x"}, {"openid": ""}, {"openid": 7}])
def test_wechat_exchange_refuses_an_answer_without_openid(fake_wechat, payload):
    fake_wechat.answer("the-code", payload)
    with pytest.raises(UpstreamError):
        wechat_web(fake_wechat).exchange("the-code")


def test_wechat_authorize_url_is_the_documented_snsapi_base_address():
    url = WeChatWebAuth("wx-oa-appid", "s").authorize_url("https://m.shop.example/shop/pages/login/login?x=1", "abc123")
    assert url.startswith("https://open.weixin.qq.com/connect/oauth2/authorize?") and url.endswith("#wechat_redirect")
    query = dict(parse_qsl(urlsplit(url).query))
    assert query == {"appid": "wx-oa-appid", "redirect_uri": "https://m.shop.example/shop/pages/login/login?x=1",
                     "response_type": "code", "scope": "snsapi_base", "state": "abc123"}


def test_wechat_sandbox_twin_gives_one_buyer_per_name_with_a_unionid():
    twin = SandboxWeChatWebAuth()
    assert twin.exchange("sandbox.alice") == WebIdentity("wechat", "sandbox-oa-openid-alice", "sandbox-unionid-alice")
    for code in ("dev:alice", "sandbox.", "sandbox.a b", "sandbox." + "x" * 33):
        with pytest.raises(Unauthorized):
            twin.exchange(code)


# --- Alipay: alipay.system.oauth.token -------------------------------------------------------

class ScriptedGateway:
    """Answers each call with the next scripted (status, document); signs `<key>` objects as Alipay does."""

    def __init__(self, alipay_private_key_pem: str):
        self._key = load_private_key(alipay_private_key_pem)
        self.answers: list[tuple[int, str]] = []
        self.requests: list[dict[str, str]] = []

    def reply(self, key: str, inner: dict, *, signed: bool = True, status: int = 200) -> None:
        text = json.dumps(inner, ensure_ascii=False, separators=(",", ":"))
        sign = rsa_sign(self._key, text.encode()) if signed else "bm90IGEgc2lnbmF0dXJl"
        self.answers.append((status, f'{{"{key}":{text},"sign":"{sign}"}}'))

    def send(self, method, path, body, headers):
        self.requests.append(dict(parse_qsl(body.decode())))
        status, text = self.answers.pop(0)
        return Reply(status, {"content-type": "application/json"}, text.encode())


@pytest.fixture(scope="module")
def alipay_keys():
    app, alipay = new_private_key_pem(), new_private_key_pem()
    return app, alipay


@pytest.fixture
def gateway(alipay_keys):
    return ScriptedGateway(alipay_keys[1])


@pytest.fixture
def alipay_web(alipay_keys, gateway):
    app, alipay = alipay_keys
    return AlipayWebAuth(Alipay(app_id="2021000000000001", seller_id="2088000000000001", app_private_key=app,
                                alipay_public_key=public_pem(alipay), notify_url="https://m.shop.example/n",
                                transport=gateway))


TOKEN_ANSWER = {"user_id": "2088102150477652", "access_token": "20120823ac6ffaa4d2d84e7384bf983531473993",
                "expires_in": "3600", "refresh_token": "20120823ac6ffdsdf2d84e7384bf983531473993",
                "re_expires_in": "3600"}


def test_alipay_exchange_signs_oauth_token_like_the_malls_other_calls(alipay_web, gateway, alipay_keys):
    gateway.reply("alipay_system_oauth_token_response", TOKEN_ANSWER)
    assert alipay_web.exchange("4b203fe6c11548bcabd8da5bb087a83b") == WebIdentity("alipay", "2088102150477652")
    sent = gateway.requests[0]
    assert (sent["method"], sent["grant_type"], sent["code"], sent["sign_type"]) == (
        "alipay.system.oauth.token", "authorization_code", "4b203fe6c11548bcabd8da5bb087a83b", "RSA2")
    assert "biz_content" not in sent, "oauth.token's parameters are common ones"
    app_public = load_private_key(alipay_keys[0]).public_key()
    assert rsa_verify(app_public, request_content(sent).encode(), sent["sign"])


def test_alipay_exchange_takes_open_id_when_alipay_answers_no_user_id(alipay_web, gateway):
    gateway.reply("alipay_system_oauth_token_response", {"open_id": "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5",
                                                         "access_token": "t", "expires_in": 3600})
    assert alipay_web.exchange("code").subject == "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5"


@pytest.mark.parametrize("error, status, code", [
    ({"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.code-invalid", "sub_msg": "授权码code无效"},
     401, "INVALID_CODE"),
    ({"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.code-expired", "sub_msg": "授权码已过期"},
     401, "INVALID_CODE"),
    ({"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error", "sub_msg": "系统繁忙"},
     503, "ALIPAY_BUSY"),
    ({"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-app-id", "sub_msg": "无效的AppID参数"},
     502, "ALIPAY_ERROR"),
    ({"code": "40006", "msg": "Insufficient Permissions", "sub_code": "isv.insufficient-isv-permissions"},
     502, "ALIPAY_ERROR"),
])
def test_alipay_exchange_maps_each_sub_code(alipay_web, gateway, error, status, code):
    gateway.reply("error_response", error)
    with pytest.raises((Unauthorized, ServiceUnavailable, UpstreamError)) as caught:
        alipay_web.exchange("code")
    assert (caught.value.status, caught.value.code) == (status, code)


def test_alipay_exchange_refuses_an_unsigned_answer(alipay_web, gateway):
    gateway.reply("alipay_system_oauth_token_response", TOKEN_ANSWER, signed=False)
    with pytest.raises(UpstreamError) as caught:
        alipay_web.exchange("code")
    assert caught.value.code == "ALIPAY_ERROR"


def test_alipay_exchange_when_the_gateway_fails_is_503(alipay_web, gateway):
    gateway.answers.append((502, "<html>bad gateway</html>"))
    with pytest.raises(ServiceUnavailable):
        alipay_web.exchange("code")


def test_alipay_authorize_url_is_the_documented_auth_base_address(alipay_web):
    url = alipay_web.authorize_url("https://m.shop.example/shop/pages/login/login?provider=alipay", "s1")
    assert url.startswith("https://openauth.alipay.com/oauth2/publicAppAuthorize.htm?")
    assert dict(parse_qsl(urlsplit(url).query)) == {
        "app_id": "2021000000000001", "scope": "auth_base",
        "redirect_uri": "https://m.shop.example/shop/pages/login/login?provider=alipay", "state": "s1"}


def test_alipay_sandbox_twin_accepts_its_page_codes_and_refuses_others(aws):
    twin = web_auth.authorizer("alipay")
    first, again = twin.exchange("sandbox.bob"), twin.exchange("sandbox.bob")
    assert first == again and first.subject.startswith("2088") and len(first.subject) == 16
    assert twin.exchange("sandbox.carol") != first
    with pytest.raises(Unauthorized) as caught:
        twin.exchange("dev:bob")
    assert caught.value.code == "INVALID_CODE"


# --- configuration --------------------------------------------------------------------------

def test_live_wechat_without_the_official_accounts_settings_is_not_configured(monkeypatch):
    monkeypatch.setenv("MALL_PROVIDERS", "live")
    monkeypatch.delenv("MALL_WECHAT_OA_APPID", raising=False)
    with pytest.raises(ServiceUnavailable) as caught:
        web_auth.authorizer("wechat")
    assert caught.value.code == "NOT_CONFIGURED"
    monkeypatch.setenv("MALL_WECHAT_OA_APPID", "wx-oa")
    monkeypatch.delenv("MALL_WECHAT_OA_SECRET", raising=False)
    monkeypatch.delenv("MALL_SSM_PREFIX", raising=False)
    with pytest.raises(ServiceUnavailable):
        web_auth.authorizer("wechat")


def test_live_wechat_reads_the_secret_like_the_other_provider_secrets(monkeypatch):
    monkeypatch.setenv("MALL_PROVIDERS", "live")
    monkeypatch.setenv("MALL_WECHAT_OA_APPID", "wx-oa")
    monkeypatch.setenv("MALL_WECHAT_OA_SECRET", "oa-secret")
    config.secret.cache_clear()
    try:
        live = web_auth.authorizer("wechat")
    finally:
        config.secret.cache_clear()
    assert isinstance(live, WeChatWebAuth) and live.appid == "wx-oa"


def test_live_alipay_without_its_settings_is_not_configured(monkeypatch):
    monkeypatch.setenv("MALL_PROVIDERS", "live")
    monkeypatch.delenv("MALL_ALIPAY_APP_ID", raising=False)
    with pytest.raises(ServiceUnavailable) as caught:
        web_auth.authorizer("alipay")
    assert caught.value.code == "NOT_CONFIGURED"


# --- the local stack's authorize page ----------------------------------------------------------

def authorize_page(provider: str, redirect_uri: str = "/shop/pages/login/login?provider=x&redirect=%2Fpages%2Fa",
                   cookie: str | None = None, state: str = "st4te"):
    query = f"redirect_uri={redirect_uri.replace('?', '%3F').replace('&', '%26')}&state={state}&app_id=2021x"
    return sandbox_authorize(f"/sandbox/web-login/{provider}?{query}", cookie)


def test_the_sandbox_page_sends_wechat_back_with_code_and_state_and_remembers_the_browser():
    status, headers, _ = authorize_page("wechat")
    assert status == 302
    location = urlsplit(headers["Location"])
    query = parse_qs(location.query)
    assert location.path == "/shop/pages/login/login" and query["state"] == ["st4te"]
    assert query["redirect"] == ["/pages/a"] and query["code"][0].startswith("sandbox.")
    cookie = headers["Set-Cookie"].split(";")[0]
    _, again, _ = authorize_page("wechat", cookie=cookie)
    assert parse_qs(urlsplit(again["Location"]).query)["code"] == query["code"], "the same browser, the same buyer"
    assert "Set-Cookie" not in again


def test_the_sandbox_page_sends_alipay_back_with_auth_code_as_alipay_does():
    status, headers, _ = authorize_page("alipay", cookie=f"{SANDBOX_BUYER_COOKIE}=webabc")
    query = parse_qs(urlsplit(headers["Location"]).query)
    assert status == 302 and query["auth_code"] == ["sandbox.webabc"] and query["scope"] == ["auth_base"]
    assert query["app_id"] == ["2021x"] and "code" not in query


@pytest.mark.parametrize("redirect_uri", ["https://evil.example/x", "//evil.example/shop/", "/console/", "/shop/\\x"])
def test_the_sandbox_page_sends_nobody_off_the_storefront(redirect_uri):
    status, headers, _ = authorize_page("wechat", redirect_uri=redirect_uri)
    assert status == 400 and "Location" not in headers


def test_the_sandbox_page_knows_only_the_two_providers():
    assert authorize_page("facebook")[0] == 404
