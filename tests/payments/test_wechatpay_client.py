"""WeChat Pay outbound calls against a fake WeChat Pay on 127.0.0.1 that checks each request's Authorization
signature with the merchant public key and signs its answers with the platform key, as WeChat does."""
from __future__ import annotations

import datetime as dt
import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.core import config
from chalicelib.core.errors import UpstreamError
from chalicelib.payments.providers import (
    HttpTransport,
    PrepayRequest,
    ProviderError,
    RefundRequest,
    provider,
)
from chalicelib.payments.providers.wechatpay import WeChatPay
from tests.payments.conftest import public_pem_of, transaction, verify_rsa, wechat_headers, wechat_pay

JSAPI = "/v3/pay/transactions/jsapi"
REFUNDS = "/v3/refund/domestic/refunds"
EXPIRES = dt.datetime(2026, 11, 25, 4, 15, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parents[2]
AUTH = re.compile(r'WECHATPAY2-SHA256-RSA2048 mchid="([^"]*)",nonce_str="([^"]*)",signature="([^"]*)",'
                  r'timestamp="([^"]*)",serial_no="([^"]*)"')


def answer(fake, keys, method, path, status, payload, *, signed=True, signing_pem=None, timestamp=None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    if signed:
        headers.update(wechat_headers(body, signing_pem or keys.wechatpay.platform_private_key_pem,
                                      keys.wechatpay.platform_serial, timestamp=timestamp))
    fake.reply(method, path, status, body, headers)


def prepay_request(**changes) -> PrepayRequest:
    values = {"out_trade_no": "ORDER0001", "description": "云南小粒咖啡 x2", "amount": 1230, "payer_id": "o-buyer",
              "expires_at": EXPIRES}
    values.update(changes)
    return PrepayRequest(**values)


def check_signed_by_merchant(keys, request) -> dict[str, str]:
    """What WeChat Pay checks on every request: the Authorization signature, with the merchant public key."""
    match = AUTH.fullmatch(request["headers"]["Authorization"])
    assert match, request["headers"]["Authorization"]
    mchid, nonce, signature, timestamp, serial = match.groups()
    message = (f"{request['method']}\n{request['path']}\n{timestamp}\n{nonce}\n".encode() + request["body"] + b"\n")
    assert verify_rsa(public_pem_of(keys.wechatpay.merchant_private_key_pem), message, signature), \
        "the Authorization signature must verify with the merchant public key"
    assert (mchid, serial) == (keys.wechatpay.mchid, keys.wechatpay.merchant_serial)
    return {"nonce": nonce, "timestamp": timestamp}


# --- prepay -----------------------------------------------------------------------------------

def test_prepay_sends_a_signed_jsapi_order(keys, fake_api):
    answer(fake_api, keys, "POST", JSAPI, 200, {"prepay_id": "wx2611250000000000000000000001"})
    wechat_pay(keys, fake_api.base_url).prepay(prepay_request())
    [request] = fake_api.requests
    check_signed_by_merchant(keys, request)
    assert json.loads(request["body"]) == {
        "appid": keys.wechatpay.appid, "mchid": keys.wechatpay.mchid, "description": "云南小粒咖啡 x2",
        "out_trade_no": "ORDER0001", "time_expire": "2026-11-25T12:15:00+08:00",
        "notify_url": "https://mall.example.com/payments/wechat/notify",
        "amount": {"total": 1230, "currency": "CNY"}, "payer": {"openid": "o-buyer"}}


def test_prepay_sends_the_headers_wechat_requires(keys, fake_api):
    answer(fake_api, keys, "POST", JSAPI, 200, {"prepay_id": "wx1"})
    wechat_pay(keys, fake_api.base_url).prepay(prepay_request())
    headers = fake_api.requests[0]["headers"]
    assert headers["Content-Type"] == "application/json" and headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("micromall")
    assert headers["Wechatpay-Serial"] == keys.wechatpay.platform_serial


def test_prepay_answers_the_signed_wx_request_payment_parameters(keys, fake_api):
    answer(fake_api, keys, "POST", JSAPI, 200, {"prepay_id": "wx2611250000000000000000000001"})
    params = wechat_pay(keys, fake_api.base_url).prepay(prepay_request())
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert (params["appId"], params["package"], params["signType"]) == \
        (keys.wechatpay.appid, "prepay_id=wx2611250000000000000000000001", "RSA")
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
    assert verify_rsa(public_pem_of(keys.wechatpay.merchant_private_key_pem), message, params["paySign"])


def test_a_long_description_is_cut_to_wechats_127_characters(keys, fake_api):
    answer(fake_api, keys, "POST", JSAPI, 200, {"prepay_id": "wx1"})
    wechat_pay(keys, fake_api.base_url).prepay(prepay_request(description="咖" * 200))
    assert json.loads(fake_api.requests[0]["body"])["description"] == "咖" * 127


@pytest.mark.parametrize("changes", [{"amount": 0}, {"amount": -5}, {"amount": 12.3}, {"out_trade_no": "T1"},
                                     {"out_trade_no": "ORDER 0001"}, {"expires_at": dt.datetime(2026, 11, 25)}])
def test_an_impossible_prepay_fails_before_calling_wechat(keys, fake_api, changes):
    with pytest.raises(ValueError):
        wechat_pay(keys, fake_api.base_url).prepay(prepay_request(**changes))
    assert fake_api.requests == []


def test_an_answer_without_prepay_id_is_a_provider_error(keys, fake_api):
    answer(fake_api, keys, "POST", JSAPI, 200, {"something": "else"})
    with pytest.raises(ProviderError) as caught:
        wechat_pay(keys, fake_api.base_url).prepay(prepay_request())
    assert not caught.value.retryable


# --- query --------------------------------------------------------------------------------------

def test_query_signs_the_path_with_its_query_string(keys, fake_api):
    path = "/v3/pay/transactions/out-trade-no/ORDER0001"
    answer(fake_api, keys, "GET", path, 200, transaction(keys))
    note = wechat_pay(keys, fake_api.base_url).query("ORDER0001")
    [request] = fake_api.requests
    assert request["path"] == f"{path}?mchid={keys.wechatpay.mchid}" and request["body"] == b""
    check_signed_by_merchant(keys, request)
    assert (note.kind, note.status, note.amount_total) == ("PAYMENT", "PAID", 1230)
    assert note.event_id == "query:4200000000202611250000000001"


def test_query_escapes_the_trade_number_in_the_path(keys, fake_api):
    answer(fake_api, keys, "GET", "/v3/pay/transactions/out-trade-no/A%7CB%2A0001", 200,
           transaction(keys, out_trade_no="A|B*0001"))
    assert wechat_pay(keys, fake_api.base_url).query("A|B*0001").out_trade_no == "A|B*0001"
    check_signed_by_merchant(keys, fake_api.requests[0])


def test_query_of_a_trade_wechat_does_not_know_is_none(keys, fake_api):
    answer(fake_api, keys, "GET", "/v3/pay/transactions/out-trade-no/ORDER0001", 404,
           {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
    assert wechat_pay(keys, fake_api.base_url).query("ORDER0001") is None


def test_query_of_an_unpaid_trade_has_no_amount(keys, fake_api):
    unpaid = transaction(keys, trade_state="NOTPAY")
    for name in ("amount", "transaction_id", "success_time"):
        del unpaid[name]
    answer(fake_api, keys, "GET", "/v3/pay/transactions/out-trade-no/ORDER0001", 200, unpaid)
    note = wechat_pay(keys, fake_api.base_url).query("ORDER0001")
    assert (note.status, note.amount_total, note.event_id) == ("NOT_PAID", None, "query:ORDER0001")


def test_query_answer_that_is_not_a_trade_is_a_provider_error(keys, fake_api):
    answer(fake_api, keys, "GET", "/v3/pay/transactions/out-trade-no/ORDER0001", 200, {"trade_state": "WHATEVER"})
    with pytest.raises(ProviderError):
        wechat_pay(keys, fake_api.base_url).query("ORDER0001")


# --- refund -------------------------------------------------------------------------------------

def test_refund_sends_a_signed_refund_and_returns_what_wechat_accepted(keys, fake_api):
    answer(fake_api, keys, "POST", REFUNDS, 200, {"refund_id": "503000001", "out_refund_no": "RF0001",
                                                  "status": "PROCESSING"})
    accepted = wechat_pay(keys, fake_api.base_url).refund(RefundRequest("ORDER0001", "RF0001", 230, 1230, "退货"))
    check_signed_by_merchant(keys, fake_api.requests[0])
    assert json.loads(fake_api.requests[0]["body"]) == {
        "out_trade_no": "ORDER0001", "out_refund_no": "RF0001", "reason": "退货",
        "notify_url": "https://mall.example.com/payments/wechat/notify",
        "amount": {"refund": 230, "total": 1230, "currency": "CNY"}}
    assert (accepted.out_refund_no, accepted.refund_id, accepted.status) == ("RF0001", "503000001", "PROCESSING")


def test_a_refund_without_reason_sends_none(keys, fake_api):
    answer(fake_api, keys, "POST", REFUNDS, 200, {"refund_id": "5", "out_refund_no": "RF0001", "status": "SUCCESS"})
    wechat_pay(keys, fake_api.base_url).refund(RefundRequest("ORDER0001", "RF0001", 230, 1230))
    assert "reason" not in json.loads(fake_api.requests[0]["body"])


@pytest.mark.parametrize("refund, total", [(0, 1230), (1231, 1230), (-1, 1230), (10, 10.5)])
def test_an_impossible_refund_fails_before_calling_wechat(keys, fake_api, refund, total):
    with pytest.raises(ValueError):
        wechat_pay(keys, fake_api.base_url).refund(RefundRequest("ORDER0001", "RF0001", refund, total))
    assert fake_api.requests == []


def test_a_refund_answer_with_an_unknown_status_is_a_provider_error(keys, fake_api):
    answer(fake_api, keys, "POST", REFUNDS, 200, {"refund_id": "5", "status": "DONE"})
    with pytest.raises(ProviderError):
        wechat_pay(keys, fake_api.base_url).refund(RefundRequest("ORDER0001", "RF0001", 230, 1230))


# --- answers are verified like notifications ---------------------------------------------------

def test_an_unsigned_answer_is_refused(keys, fake_api):
    answer(fake_api, keys, "POST", JSAPI, 200, {"prepay_id": "wx1"}, signed=False)
    with pytest.raises(ProviderError) as caught:
        wechat_pay(keys, fake_api.base_url).prepay(prepay_request())
    assert caught.value.provider_code == "MISSING_HEADERS" and not caught.value.retryable


def test_an_answer_signed_by_another_key_is_refused(keys, fake_api, other_key_pem):
    answer(fake_api, keys, "POST", JSAPI, 200, {"prepay_id": "wx1"}, signing_pem=other_key_pem)
    with pytest.raises(ProviderError) as caught:
        wechat_pay(keys, fake_api.base_url).prepay(prepay_request())
    assert caught.value.provider_code == "BAD_SIGNATURE"


def test_a_replayed_old_answer_is_refused(keys, fake_api):
    answer(fake_api, keys, "POST", JSAPI, 200, {"prepay_id": "wx1"}, timestamp=1500000000)
    with pytest.raises(ProviderError) as caught:
        wechat_pay(keys, fake_api.base_url).prepay(prepay_request())
    assert caught.value.provider_code == "STALE_TIMESTAMP"


# --- failures --------------------------------------------------------------------------------------

@pytest.mark.parametrize("status, payload, retryable", [
    (500, {"code": "SYSTEM_ERROR", "message": "系统错误"}, True),
    (502, b"<html>bad gateway</html>", True),
    (429, {"code": "FREQUENCY_LIMITED", "message": "频率超限"}, True),
    (400, {"code": "PARAM_ERROR", "message": "参数错误"}, False),
    (401, {"code": "SIGN_ERROR", "message": "签名错误"}, False),
    (403, {"code": "NOT_ENOUGH", "message": "余额不足"}, False),
    (404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"}, False),
])
def test_error_answers_are_provider_errors_retryable_only_when_a_retry_can_help(keys, fake_api, status, payload,
                                                                                retryable):
    answer(fake_api, keys, "POST", REFUNDS, status, payload, signed=False)
    with pytest.raises(ProviderError) as caught:
        wechat_pay(keys, fake_api.base_url).refund(RefundRequest("ORDER0001", "RF0001", 230, 1230))
    error = caught.value
    assert (error.retryable, error.http_status, error.provider) == (retryable, status, "wechat")
    if isinstance(payload, dict):
        assert error.provider_code == payload["code"] and payload["message"] in error.message


def test_a_query_error_other_than_not_found_is_raised(keys, fake_api):
    answer(fake_api, keys, "GET", "/v3/pay/transactions/out-trade-no/ORDER0001", 404,
           {"code": "RESOURCE_NOT_EXISTS", "message": "?"})
    with pytest.raises(ProviderError):
        wechat_pay(keys, fake_api.base_url).query("ORDER0001")


def test_a_slow_wechat_times_out_as_a_retryable_error(keys, fake_api):
    body = json.dumps({"prepay_id": "wx1"}).encode()
    fake_api.reply("POST", JSAPI, 200, body, {}, delay=1.0)
    with pytest.raises(ProviderError) as caught:
        wechat_pay(keys, fake_api.base_url, timeout=0.2).prepay(prepay_request())
    assert caught.value.retryable


def test_an_unreachable_wechat_is_a_retryable_error(keys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ProviderError) as caught:
        wechat_pay(keys, f"http://127.0.0.1:{port}", timeout=1).query("ORDER0001")
    assert caught.value.retryable


def test_a_provider_error_escaping_a_service_is_a_502_in_the_malls_shape():
    error = ProviderError("WeChat Pay answered HTTP 500", provider="wechat", retryable=True)
    assert isinstance(error, UpstreamError) and error.status == 502
    assert error.to_body()["error"]["code"] == "PAYMENT_PROVIDER_ERROR"


# --- configuration -----------------------------------------------------------------------------------

@pytest.fixture
def live_env(keys, monkeypatch):
    wechat = keys.wechatpay
    monkeypatch.setenv("MALL_PROVIDERS", "live")
    for name, value in {"MALL_WECHAT_APPID": wechat.appid, "MALL_WECHATPAY_MCHID": wechat.mchid,
                        "MALL_WECHATPAY_MERCHANT_SERIAL": wechat.merchant_serial,
                        "MALL_WECHATPAY_MERCHANT_PRIVATE_KEY": wechat.merchant_private_key_pem,
                        "MALL_WECHATPAY_APIV3_KEY": wechat.apiv3_key,
                        "MALL_WECHATPAY_PLATFORM_KEYS": json.dumps(
                            {wechat.platform_serial: wechat.platform_public_key_pem()}),
                        "MALL_WECHATPAY_NOTIFY_URL": "https://mall.example.com/payments/wechat/notify"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MALL_WECHATPAY_API_BASE", raising=False)
    config.secret.cache_clear()
    yield monkeypatch
    config.secret.cache_clear()


def test_the_live_provider_is_configured_from_the_environment(keys, live_env):
    wechat = provider("wechat")
    assert isinstance(wechat, WeChatPay) and isinstance(wechat.transport, HttpTransport)
    assert (wechat.app_id, wechat.merchant_id, wechat.transport.base_url) == \
        (keys.wechatpay.appid, keys.wechatpay.mchid, "https://api.mch.weixin.qq.com")


def test_the_live_provider_calls_the_configured_api_base(keys, live_env, fake_api):
    live_env.setenv("MALL_WECHATPAY_API_BASE", fake_api.base_url)
    answer(fake_api, keys, "POST", JSAPI, 200, {"prepay_id": "wx1"})
    assert provider("wechat").prepay(prepay_request())["package"] == "prepay_id=wx1"
    check_signed_by_merchant(keys, fake_api.requests[0])


@pytest.mark.parametrize("name, value", [("MALL_WECHATPAY_MCHID", None), ("MALL_WECHATPAY_NOTIFY_URL", None),
                                         ("MALL_WECHATPAY_APIV3_KEY", "too-short"),
                                         ("MALL_WECHATPAY_PLATFORM_KEYS", "not json"),
                                         ("MALL_WECHATPAY_PLATFORM_KEYS", "{}"),
                                         ("MALL_WECHATPAY_PLATFORM_KEYS", '["a"]'),
                                         ("MALL_WECHATPAY_MERCHANT_PRIVATE_KEY", "garbage")])
def test_missing_or_malformed_settings_are_configuration_errors(live_env, name, value):
    if value is None:
        live_env.delenv(name)
    else:
        live_env.setenv(name, value)
    with pytest.raises(config.ConfigError):
        provider("wechat")


def test_an_unknown_provider_name_is_refused():
    with pytest.raises(ValueError):
        provider("paypal")


def test_importing_the_providers_loads_no_cryptography():
    """A cold start that never touches a payment pays nothing for cryptography."""
    probe = ("import sys; import chalicelib.payments.providers.wechatpay, chalicelib.payments.providers.alipay, "
             "chalicelib.payments.providers.sandbox; print(sorted(m for m in sys.modules if m.startswith('cryptography')))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout
