"""WeChat Pay inside WeChat's browser for buyers who logged in on the storefront with the official account:
POST /payments/prepay with scene `wechat_browser` prepays under the official account's appid by the buyer's
official-account openid, signed as getBrandWCPayRequest checks it; a buyer without the scene's identity is 422;
a trade stays in the scene of its first prepay (WeChat binds a prepay_id to its appid and payer); the webhook
takes a payment naming either of the shop's appids and no other; the sandbox pays a getBrandWCPayRequest as
WeChat's browser would, through the twin's signed notification."""
from __future__ import annotations

import dataclasses
import json

import pytest

from chalicelib.members.official_account import SANDBOX_APPID as SANDBOX_OA_APPID
from chalicelib.members.wechat import Session
from tests.checkout.conftest import Buyer
from tests.payments import test_wechatpay_client
from tests.payments.conftest import (
    encrypted_resource,
    notification_body,
    public_pem_of,
    transaction,
    verify_rsa,
    wechat_headers,
    wechat_pay,
)
from tests.payments.test_payment_flow import ledger_keys, notify, order_of

PHONE = {"X-Device-Id": "wechat-phone-1"}
live_env = test_wechatpay_client.live_env  # the fixture: WeChat Pay configured live from the environment
ORDERS = "/pages/orders/orders"
BROWSER = "wechat_browser"


def web_login(client, name: str) -> str:
    """The buyer `name` logs in on the storefront in WeChat's browser (the sandbox official account): user_id."""
    state = client.get(f"/auth/web/wechat/authorize?redirect={ORDERS}", headers=PHONE).data["state"]
    answer = client.post("/auth/web/wechat/login", {"code": f"sandbox.{name}", "state": state, "redirect": ORDERS},
                         headers=PHONE)
    assert answer.status_code == 200, answer.data
    return answer.data["user"]["user_id"]


class OneSession:
    def __init__(self, session: Session):
        self.session = session

    def code2session(self, code: str) -> Session:
        return self.session


@pytest.fixture
def wendy(client) -> Buyer:
    """Logged in on the web in WeChat's browser only."""
    return Buyer(client, web_login(client, "wendy"))


@pytest.fixture
def mia(client) -> Buyer:
    """Logged in both in the mini-program and in WeChat's browser: one buyer through the unionid."""
    from chalicelib.members import service

    web = web_login(client, "mia")
    mini = service.login("c", OneSession(Session("o-mini-mia", "key-1", unionid="sandbox-unionid-mia")))
    assert mini.user.user_id == web
    return Buyer(client, web)


@pytest.fixture
def alice(client) -> Buyer:
    from chalicelib.members import service

    return Buyer(client, service.login("dev:alice").user.user_id)


def prepay(buyer: Buyer, order_id: str, scene: str | None = None, provider: str = "wechat"):
    body = {"order_id": order_id, "provider": provider, **({"scene": scene} if scene else {})}
    return buyer.api.post("/payments/prepay", body)


def trade(order_id: str) -> dict:
    from chalicelib.payments.providers import sandbox

    return sandbox.twin("wechat").book.read("wechatpay", order_id)


def signed_for_the_page(keys, params: dict) -> bool:
    """getBrandWCPayRequest's check: paySign over appId, timeStamp, nonceStr, package with the merchant key."""
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
    return verify_rsa(public_pem_of(keys.wechatpay.merchant_private_key_pem), message, params["paySign"])


def error(response) -> tuple[int, str]:
    return response.status_code, (response.data or {}).get("error", {}).get("code")


# --- prepay per scene ------------------------------------------------------------------------------

def test_prepay_in_wechats_browser_is_signed_for_the_official_account(shop, wendy, keys):
    order = wendy.placed({shop.sku(): 1})
    response = prepay(wendy, order["order_id"], BROWSER)
    assert response.status_code == 200, response.data
    params = response.data
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["appId"] == SANDBOX_OA_APPID != keys.wechatpay.appid
    assert params["signType"] == "RSA" and params["package"].startswith("prepay_id=")
    assert signed_for_the_page(keys, params)
    opened = trade(order["order_id"])
    assert (opened["appid"], opened["payer_openid"]) == (SANDBOX_OA_APPID, "sandbox-oa-openid-wendy")
    assert ledger_keys("PREPAY#") == [f"PREPAY#{order['order_id']}#wechat"]


def test_prepay_without_a_scene_is_the_mini_programs_as_before(shop, mia, keys):
    order = mia.placed({shop.sku(): 1})
    params = prepay(mia, order["order_id"]).data
    assert params["appId"] == keys.wechatpay.appid and signed_for_the_page(keys, params)
    assert trade(order["order_id"])["payer_openid"] == "o-mini-mia"
    again = prepay(mia, order["order_id"], "mini_program").data
    assert again["package"] == params["package"], "the same scene's prepay is the same trade"


def test_a_web_buyer_without_a_mini_program_identity_gets_422_saying_so(shop, wendy):
    order = wendy.placed({shop.sku(): 1})
    response = prepay(wendy, order["order_id"])
    assert error(response) == (422, "WECHAT_PAY_UNAVAILABLE")
    assert "mini-program" in response.data["error"]["message"]
    assert ledger_keys("PREPAY#") == [], "nothing is opened for a buyer who cannot pay there"


def test_a_mini_program_buyer_without_an_official_account_identity_gets_422_saying_so(shop, alice):
    order = alice.placed({shop.sku(): 1})
    response = prepay(alice, order["order_id"], BROWSER)
    assert error(response) == (422, "WECHAT_PAY_UNAVAILABLE")
    assert "WeChat's browser" in response.data["error"]["message"]
    assert trade(order["order_id"]) is None


@pytest.mark.parametrize("scene", ["browser", "", "MINI_PROGRAM", 3, None])
def test_an_unknown_scene_is_400(shop, wendy, scene):
    order = wendy.placed({shop.sku(): 1})
    response = wendy.api.post("/payments/prepay", {"order_id": order["order_id"], "scene": scene})
    assert response.status_code == 400, response.data


def test_alipay_ignores_the_scene(shop, wendy):
    order = wendy.placed({shop.sku(): 1})
    response = prepay(wendy, order["order_id"], BROWSER, provider="alipay")
    assert response.status_code == 200 and response.data["pay_url"], response.data


def test_a_second_prepay_in_wechats_browser_reuses_its_own_trade(shop, wendy, keys):
    order = wendy.placed({shop.sku(): 1})
    first = prepay(wendy, order["order_id"], BROWSER).data
    second = prepay(wendy, order["order_id"], BROWSER).data
    assert second["package"] == first["package"] and second["appId"] == SANDBOX_OA_APPID
    assert signed_for_the_page(keys, second)


@pytest.mark.parametrize("first,then", [("mini_program", BROWSER), (BROWSER, "mini_program")])
def test_switching_scene_never_gets_the_other_scenes_prepay_id(shop, mia, first, then):
    order = mia.placed({shop.sku(): 1})
    started = prepay(mia, order["order_id"], first)
    assert started.status_code == 200, started.data
    switched = prepay(mia, order["order_id"], then)
    assert error(switched) == (409, "WECHAT_PAY_STARTED_ELSEWHERE")
    assert switched.data["error"]["details"] == {"scene": first}
    assert "Alipay" in switched.data["error"]["message"], "the buyer is told a way out"
    assert "package" not in (switched.data or {})
    assert trade(order["order_id"])["prepay_id"] == started.data["package"][len("prepay_id="):]
    back = prepay(mia, order["order_id"], first)
    assert back.status_code == 200 and back.data["package"] == started.data["package"]
    assert prepay(mia, order["order_id"], provider="alipay").status_code == 200, "Alipay stays open"


def test_a_prepay_entry_from_before_scenes_counts_as_the_mini_programs(shop, mia):
    from chalicelib.payments.models import LedgerEntry

    order = mia.placed({shop.sku(): 1})
    assert prepay(mia, order["order_id"]).status_code == 200
    entry = LedgerEntry.get(f"PREPAY#{order['order_id']}#wechat")
    entry.update(actions=[LedgerEntry.scene.remove()])  # as written before this field existed
    assert prepay(mia, order["order_id"]).status_code == 200
    assert error(prepay(mia, order["order_id"], BROWSER)) == (409, "WECHAT_PAY_STARTED_ELSEWHERE")


def test_the_twin_refuses_a_second_prepay_under_another_appid_as_wechat_does(shop, mia):
    """Beneath the ledger's rule: WeChat binds a trade to its first appid and payer; so does the twin."""
    from chalicelib.payments.providers import PrepayRequest, ProviderError, provider

    order = mia.placed({shop.sku(): 1})
    assert prepay(mia, order["order_id"]).status_code == 200
    stored = order_of(order["order_id"])
    request = PrepayRequest(out_trade_no=order["order_id"], description="x", amount=int(stored.payable),
                            payer_id="sandbox-oa-openid-mia", expires_at=stored.expires_at, app_id=SANDBOX_OA_APPID)
    with pytest.raises(ProviderError) as refused:
        provider("wechat").prepay(request)
    assert refused.value.provider_code == "INVALID_REQUEST"
    with pytest.raises(ValueError):
        provider("wechat").prepay(dataclasses.replace(request, app_id="wx-someone-else"))


# --- the live client ---------------------------------------------------------------------------------

def test_the_live_client_prepays_under_the_official_account_and_signs_for_it(keys, fake_api):
    from chalicelib.payments.providers import HttpTransport
    from chalicelib.payments.providers.wechatpay import WeChatPay
    from tests.payments.test_wechatpay_client import JSAPI, answer, check_signed_by_merchant, prepay_request

    answer(fake_api, keys, "POST", JSAPI, 200, {"prepay_id": "wx2611250000000000000000000002"})
    wechat = keys.wechatpay
    client = WeChatPay(app_id=wechat.appid, merchant_id=wechat.mchid, merchant_serial=wechat.merchant_serial,
                       merchant_private_key=wechat.merchant_private_key_pem, apiv3_key=wechat.apiv3_key,
                       platform_keys={wechat.platform_serial: wechat.platform_public_key_pem()},
                       notify_url="https://mall.example.com/payments/wechat/notify",
                       transport=HttpTransport(fake_api.base_url, "wechat"), web_app_id="wx0a0a0a0a0a0a0a0a")
    assert client.app_ids == (wechat.appid, "wx0a0a0a0a0a0a0a0a")
    params = client.prepay(prepay_request(app_id=client.app_id_for(BROWSER)))
    [request] = fake_api.requests
    check_signed_by_merchant(keys, request)
    assert json.loads(request["body"])["appid"] == "wx0a0a0a0a0a0a0a0a"
    assert params["appId"] == "wx0a0a0a0a0a0a0a0a" and signed_for_the_page(keys, params)


def test_without_an_official_account_the_live_client_has_one_appid(keys):
    client = wechat_pay(keys, "http://127.0.0.1:9")
    assert client.app_ids == (keys.wechatpay.appid,)
    assert client.app_id_for(BROWSER) is None and client.app_id_for("mini_program") == keys.wechatpay.appid


# --- the webhook ------------------------------------------------------------------------------------

def payment_notification(keys, order: dict, appid: str) -> tuple[dict, bytes]:
    """As WeChat Pay posts it, built with the test's keys independently of the mall's code."""
    resource = transaction(keys, appid=appid, out_trade_no=order["order_id"], payer={"openid": "sandbox-oa-openid-x"},
                           amount={"total": order["payable"], "payer_total": order["payable"], "currency": "CNY"})
    body = notification_body(encrypted_resource(keys.wechatpay.apiv3_key, json.dumps(resource).encode()))
    headers = wechat_headers(body, keys.wechatpay.platform_private_key_pem, keys.wechatpay.platform_serial)
    return {**headers, "Content-Type": "application/json"}, body


def test_a_payment_in_the_official_accounts_app_pays_the_order(client, shop, wendy, keys):
    order = wendy.placed({shop.sku(): 1})
    headers, body = payment_notification(keys, order, SANDBOX_OA_APPID)
    assert notify(client, headers, body).status_code == 204
    assert order_of(order["order_id"]).status == "PAID"


@pytest.mark.parametrize("appid", ["wx-someone-else", "", SANDBOX_OA_APPID + "x"])
def test_a_payment_naming_another_app_is_refused_and_recorded(client, shop, wendy, keys, staff, appid):
    order = wendy.placed({shop.sku(): 1})
    headers, body = payment_notification(keys, order, appid)
    response = notify(client, headers, body)
    assert response.status_code == 400 and response.data["code"] == "FAIL"
    assert order_of(order["order_id"]).status == "PENDING_PAYMENT"
    assert [a["code"] for a in staff.get("/admin/payments/anomalies").data["items"]] == ["MERCHANT_MISMATCH"]


# --- the sandbox's stand-in for WeChat's browser --------------------------------------------------------

def test_the_sandbox_pays_a_get_brand_wc_pay_request_through_the_signed_notification(shop, wendy):
    order = wendy.placed({shop.sku(): 1})
    params = prepay(wendy, order["order_id"], BROWSER).data
    response = wendy.api.post("/payments/sandbox/pay", {"order_id": order["order_id"], "wechat_jsapi": params})
    assert response.status_code == 200, response.data
    assert response.data["status"] == "PAID" and response.data["payment"]["provider"] == "wechat"
    paid = trade(order["order_id"])
    assert (paid["trade_state"], paid["appid"], paid["payer_openid"]) == \
        ("SUCCESS", SANDBOX_OA_APPID, "sandbox-oa-openid-wendy")
    assert ledger_keys(f"PAID#{order['order_id']}") == [f"PAID#{order['order_id']}"]


@pytest.mark.parametrize("change", [
    {"paySign": "AAAA"}, {"nonceStr": "another-nonce"}, {"signType": "MD5"},
    {"appId": "wx-mini-program"}, {"package": "prepay_id=wx-unknown"}])
def test_the_sandbox_refuses_parameters_wechat_would_refuse(shop, wendy, keys, change):
    order = wendy.placed({shop.sku(): 1})
    params = prepay(wendy, order["order_id"], BROWSER).data
    if change.get("appId") == "wx-mini-program":
        change = {"appId": keys.wechatpay.appid}  # a genuine appid of ours, not the one this prepay was made under
    response = wendy.api.post("/payments/sandbox/pay", {"order_id": order["order_id"],
                                                         "wechat_jsapi": {**params, **change}})
    assert error(response) == (400, "SANDBOX_PAYMENT_REFUSED")
    assert order_of(order["order_id"]).status == "PENDING_PAYMENT"
    assert trade(order["order_id"])["trade_state"] == "NOTPAY"


def test_the_sandbox_refuses_another_orders_parameters(shop, wendy):
    mine, other = wendy.placed({shop.sku(): 1}), wendy.placed({shop.sku(): 1})
    params = prepay(wendy, other["order_id"], BROWSER).data
    response = wendy.api.post("/payments/sandbox/pay", {"order_id": mine["order_id"], "wechat_jsapi": params})
    assert error(response) == (400, "SANDBOX_PAYMENT_REFUSED")
    assert {order_of(o["order_id"]).status for o in (mine, other)} == {"PENDING_PAYMENT"}
    assert trade(other["order_id"])["trade_state"] == "NOTPAY"


@pytest.mark.parametrize("jsapi", [{"appId": "x"}, "prepay_id=wx1", {"appId": 1, "timeStamp": "1", "nonceStr": "n",
                                                                     "package": "p", "signType": "RSA", "paySign": "s"}])
def test_malformed_wechat_jsapi_is_400(shop, wendy, jsapi):
    order = wendy.placed({shop.sku(): 1})
    response = wendy.api.post("/payments/sandbox/pay", {"order_id": order["order_id"], "wechat_jsapi": jsapi})
    assert response.status_code == 400, response.data


# --- live configuration ----------------------------------------------------------------------------

def test_the_live_provider_takes_the_official_account_the_web_login_uses(keys, live_env):
    from chalicelib.payments.providers import provider

    live_env.setenv("MALL_WECHAT_OA_APPID", "wx0b0b0b0b0b0b0b0b")
    assert provider("wechat").app_ids == (keys.wechatpay.appid, "wx0b0b0b0b0b0b0b0b")
    live_env.delenv("MALL_WECHAT_OA_APPID")
    assert provider("wechat").app_ids == (keys.wechatpay.appid,)


def test_wechat_browser_pay_without_an_official_account_is_503_not_configured(shop, wendy, keys, live_env):
    order = wendy.placed({shop.sku(): 1})
    live_env.delenv("MALL_WECHAT_OA_APPID", raising=False)
    response = prepay(wendy, order["order_id"], BROWSER)
    assert error(response) == (503, "NOT_CONFIGURED"), response.data
    assert ledger_keys("PREPAY#") == []
