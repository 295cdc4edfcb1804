"""Alipay gateway calls against a fake gateway on 127.0.0.1 that checks each request's RSA2 signature with the
app public key and signs its answers with the Alipay key; request signing also matches python-alipay-sdk's."""
from __future__ import annotations

import datetime as dt
import json
import socket
from urllib.parse import parse_qsl, urlsplit

import pytest
from alipay import AliPay as SdkAliPay

from chalicelib.core import config
from chalicelib.payments.providers import HttpTransport, PrepayRequest, ProviderError, RefundRequest, provider
from chalicelib.payments.providers.alipay import Alipay
from tests.payments.conftest import alipay, form, public_pem_of, sign_rsa, verify_rsa

EXPIRES = dt.datetime(2026, 11, 25, 4, 15, tzinfo=dt.UTC)


def gateway_answer(keys, method: str, inner: dict, *, signed=True, signing_pem=None) -> bytes:
    """An answer as the gateway writes it; the signature covers the raw text of the response object."""
    inner_text = json.dumps(inner, ensure_ascii=False)  # Alipay's spacing, not ours: the raw text is what counts
    document = f'{{"{method.replace(".", "_")}_response": {inner_text}'
    if signed:
        document += f', "sign": "{sign_rsa(signing_pem or keys.alipay.alipay_private_key_pem, inner_text.encode())}"'
    return (document + "}").encode()


class Gateway:
    """Scripted answers by Alipay method; every request must be signed by the app key."""

    def __init__(self, keys, fake):
        self.keys, self.fake, self.answers, self.calls = keys, fake, {}, []
        fake.responder = self.respond

    def answer(self, method: str, inner: dict, **options) -> None:
        self.answers[method] = gateway_answer(self.keys, method, inner, **options)

    def respond(self, request):
        params = form(request["body"])
        self.calls.append(params)
        content = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")
        if not verify_rsa(public_pem_of(self.keys.alipay.app_private_key_pem), content.encode(), params["sign"]):
            return 200, {}, gateway_answer(self.keys, "error", {"code": "40002", "sub_code": "isv.invalid-signature"})
        return 200, {"Content-Type": "application/json;charset=utf-8"}, self.answers[params["method"]]

    def biz(self, index: int = 0) -> dict:
        return json.loads(self.calls[index]["biz_content"])


@pytest.fixture
def gateway(keys, fake_api):
    return Gateway(keys, fake_api)


@pytest.fixture
def ali(keys, fake_api):
    return alipay(keys, fake_api.base_url)


SUCCESS = {"code": "10000", "msg": "Success"}
TRADE = {**SUCCESS, "trade_no": "2026112522001400000000000001", "out_trade_no": "ORDER0001",
         "buyer_logon_id": "159****5620", "trade_status": "TRADE_SUCCESS", "total_amount": "12.30",
         "buyer_pay_amount": "12.30", "send_pay_date": "2026-11-25 12:00:00", "buyer_user_id": "2088102122524333"}


# --- request signing --------------------------------------------------------------------------

def test_a_refund_is_a_signed_gateway_call(keys, ali, gateway, fake_api):
    gateway.answer("alipay.trade.refund", {**SUCCESS, "fund_change": "Y", "refund_fee": "2.30"})
    ali.refund(RefundRequest("ORDER0001", "RF0001", 230, 1230, "退货"))
    params = gateway.calls[0]
    assert fake_api.requests[0]["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert {k: params[k] for k in ("app_id", "method", "charset", "sign_type", "version", "format")} == {
        "app_id": keys.alipay.app_id, "method": "alipay.trade.refund", "charset": "utf-8", "sign_type": "RSA2",
        "version": "1.0", "format": "JSON"}
    assert gateway.biz() == {"out_trade_no": "ORDER0001", "refund_amount": "2.30", "out_request_no": "RF0001",
                             "refund_reason": "退货"}


def test_request_signatures_equal_the_sdks(keys, ali):
    params = ali.signed_params("alipay.trade.query", {"out_trade_no": "ORDER0001"})
    sdk = SdkAliPay(appid=keys.alipay.app_id, app_notify_url=None,
                    app_private_key_string=keys.alipay.app_private_key_pem,
                    alipay_public_key_string=keys.alipay.alipay_public_key_pem(), sign_type="RSA2")
    sdk_signed = dict(parse_qsl(sdk.sign_data({k: v for k, v in params.items() if k != "sign"})))
    assert params["sign"] == sdk_signed["sign"]


def test_the_timestamp_is_beijing_time(ali, frozen_clock):
    assert ali.signed_params("alipay.trade.query", {})["timestamp"] == "2026-11-25 12:00:00"


# --- refund -----------------------------------------------------------------------------------------

def test_a_refund_that_moved_money_succeeded(ali, gateway):
    gateway.answer("alipay.trade.refund", {**SUCCESS, "fund_change": "Y", "refund_fee": "2.30"})
    accepted = ali.refund(RefundRequest("ORDER0001", "RF0001", 230, 1230))
    assert (accepted.out_refund_no, accepted.refund_id, accepted.status) == ("RF0001", None, "SUCCESS")
    assert len(gateway.calls) == 1 and "refund_reason" not in gateway.biz()


@pytest.mark.parametrize("refund_status, status", [("REFUND_SUCCESS", "SUCCESS"), (None, "PROCESSING")])
def test_a_refund_without_fund_change_is_confirmed_by_a_refund_query(ali, gateway, refund_status, status):
    gateway.answer("alipay.trade.refund", {**SUCCESS, "fund_change": "N", "refund_fee": "2.30"})
    confirmed = {**SUCCESS, "out_trade_no": "ORDER0001", "out_request_no": "RF0001", "refund_amount": "2.30"}
    if refund_status:
        confirmed["refund_status"] = refund_status
    gateway.answer("alipay.trade.fastpay.refund.query", confirmed)
    assert ali.refund(RefundRequest("ORDER0001", "RF0001", 230, 1230)).status == status
    assert gateway.calls[1]["method"] == "alipay.trade.fastpay.refund.query"
    assert gateway.biz(1) == {"out_trade_no": "ORDER0001", "out_request_no": "RF0001"}


@pytest.mark.parametrize("refund, total", [(0, 1230), (1231, 1230), (1.5, 1230)])
def test_an_impossible_refund_fails_before_calling_alipay(ali, gateway, refund, total):
    with pytest.raises(ValueError):
        ali.refund(RefundRequest("ORDER0001", "RF0001", refund, total))
    assert gateway.calls == []


# --- query --------------------------------------------------------------------------------------------

def test_query_parses_the_trade(keys, ali, gateway):
    gateway.answer("alipay.trade.query", TRADE)
    note = ali.query("ORDER0001")
    assert gateway.biz() == {"out_trade_no": "ORDER0001"}
    assert (note.kind, note.status, note.amount_total, note.transaction_id, note.payer_id) == \
        ("PAYMENT", "PAID", 1230, "2026112522001400000000000001", "2088102122524333")
    assert note.event_id == "query:2026112522001400000000000001"
    assert (note.app_id, note.merchant_id) == (keys.alipay.app_id, keys.alipay.seller_id)
    assert note.paid_at == dt.datetime(2026, 11, 25, 4, 0, tzinfo=dt.UTC)


def test_query_of_a_trade_alipay_does_not_know_is_none(ali, gateway):
    gateway.answer("alipay.trade.query", {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST",
                                          "sub_msg": "交易不存在"})
    assert ali.query("ORDER0001") is None


def test_an_unsigned_not_found_is_not_trusted(ali, gateway):
    gateway.answer("alipay.trade.query", {"code": "40004", "sub_code": "ACQ.TRADE_NOT_EXIST"}, signed=False)
    with pytest.raises(ProviderError) as caught:
        ali.query("ORDER0001")
    assert caught.value.provider_code == "ACQ.TRADE_NOT_EXIST"


def test_braces_inside_strings_do_not_confuse_the_signed_text(ali, gateway):
    gateway.answer("alipay.trade.query", {**TRADE, "msg": 'Su}cc{ess "quoted"'})
    assert ali.query("ORDER0001").status == "PAID"


@pytest.mark.parametrize("options", [{"signed": False}, {"signing_pem": "other"}])
def test_a_success_answer_that_is_not_signed_by_alipay_is_refused(ali, gateway, other_key_pem, options):
    if options.get("signing_pem"):
        options = {"signing_pem": other_key_pem}
    gateway.answer("alipay.trade.query", TRADE, **options)
    with pytest.raises(ProviderError) as caught:
        ali.query("ORDER0001")
    assert "signature" in caught.value.message and not caught.value.retryable


def test_a_query_answer_that_is_not_a_trade_is_a_provider_error(ali, gateway):
    gateway.answer("alipay.trade.query", {**TRADE, "total_amount": "12.345"})
    with pytest.raises(ProviderError):
        ali.query("ORDER0001")


# --- failures ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("inner, retryable", [
    ({"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error"}, True),
    ({"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.SYSTEM_ERROR"}, True),
    ({"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR"}, False),
    ({"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"}, False),
])
def test_gateway_errors_are_provider_errors(ali, gateway, inner, retryable):
    gateway.answer("alipay.trade.refund", inner)
    with pytest.raises(ProviderError) as caught:
        ali.refund(RefundRequest("ORDER0001", "RF0001", 230, 1230))
    assert (caught.value.retryable, caught.value.provider_code) == (retryable, inner["sub_code"])


def test_an_error_response_is_reported(ali, fake_api):
    fake_api.responder = lambda request: (200, {}, b'{"error_response":{"code":"40002","sub_code":"isv.invalid-app-id",'
                                                   b'"msg":"Invalid Arguments"},"sign":""}')
    with pytest.raises(ProviderError) as caught:
        ali.query("ORDER0001")
    assert caught.value.provider_code == "isv.invalid-app-id"


@pytest.mark.parametrize("status, body, retryable", [(502, b"bad gateway", True), (200, b"<html></html>", False),
                                                     (200, b'{"other_response": {}}', False), (404, b"", False)])
def test_unusable_http_answers_are_provider_errors(ali, fake_api, status, body, retryable):
    fake_api.responder = lambda request: (status, {}, body)
    with pytest.raises(ProviderError) as caught:
        ali.query("ORDER0001")
    assert caught.value.retryable == retryable


def test_an_unreachable_gateway_is_a_retryable_error(keys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ProviderError) as caught:
        alipay(keys, f"http://127.0.0.1:{port}", timeout=1).query("ORDER0001")
    assert caught.value.retryable


# --- prepay: a signed URL, no call ---------------------------------------------------------------------------

def test_prepay_is_a_signed_wap_pay_url_without_calling_alipay(keys, ali, fake_api):
    answer = ali.prepay(PrepayRequest("ORDER0001", "云南小粒咖啡", 1230, "", EXPIRES))
    assert fake_api.requests == []
    url = urlsplit(answer["pay_url"])
    params = dict(parse_qsl(url.query))
    assert f"{url.scheme}://{url.netloc}" == fake_api.base_url and params["method"] == "alipay.trade.wap.pay"
    assert params["notify_url"] == "https://mall.example.com/payments/alipay/notify"
    assert json.loads(params["biz_content"]) == {"out_trade_no": "ORDER0001", "total_amount": "12.30",
                                                 "subject": "云南小粒咖啡", "product_code": "QUICK_WAP_WAY",
                                                 "time_expire": "2026-11-25 12:15:00"}
    content = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign")
    assert verify_rsa(public_pem_of(keys.alipay.app_private_key_pem), content.encode(), params["sign"])


# --- configuration --------------------------------------------------------------------------------------------

@pytest.fixture
def live_env(keys, monkeypatch):
    monkeypatch.setenv("MALL_PROVIDERS", "live")
    for name, value in {"MALL_ALIPAY_APP_ID": keys.alipay.app_id, "MALL_ALIPAY_SELLER_ID": keys.alipay.seller_id,
                        "MALL_ALIPAY_APP_PRIVATE_KEY": keys.alipay.app_private_key_pem,
                        "MALL_ALIPAY_PUBLIC_KEY": bare_base64(keys.alipay.alipay_public_key_pem()),
                        "MALL_ALIPAY_NOTIFY_URL": "https://mall.example.com/payments/alipay/notify"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MALL_ALIPAY_GATEWAY", raising=False)
    config.secret.cache_clear()
    yield monkeypatch
    config.secret.cache_clear()


def bare_base64(pem: str) -> str:
    """As Alipay's console shows keys: base64 without the PEM armour."""
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


def test_the_live_provider_is_configured_from_the_environment(keys, live_env):
    ali = provider("alipay")
    assert isinstance(ali, Alipay) and isinstance(ali.transport, HttpTransport)
    assert (ali.app_id, ali.merchant_id, ali.gateway_url) == \
        (keys.alipay.app_id, keys.alipay.seller_id, "https://openapi.alipay.com/gateway.do")


def test_the_live_provider_calls_the_configured_gateway(keys, live_env, fake_api):
    live_env.setenv("MALL_ALIPAY_GATEWAY", fake_api.base_url)
    Gateway(keys, fake_api).answer("alipay.trade.query", TRADE)
    assert provider("alipay").query("ORDER0001").status == "PAID"


@pytest.mark.parametrize("name, value", [("MALL_ALIPAY_APP_ID", None), ("MALL_ALIPAY_NOTIFY_URL", None),
                                         ("MALL_ALIPAY_PUBLIC_KEY", "bm90IGEga2V5"),
                                         ("MALL_ALIPAY_APP_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\nx\n")])
def test_missing_or_malformed_settings_are_configuration_errors(live_env, name, value):
    if value is None:
        live_env.delenv(name)
    else:
        live_env.setenv(name, value)
    with pytest.raises(config.ConfigError):
        provider("alipay")
