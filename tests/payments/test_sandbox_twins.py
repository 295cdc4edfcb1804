"""The sandbox twins: what they sign passes the mall's real verifiers (and the SDKs), their trades answer queries
from the file beside the keys, refunds arrive through the deliver callback."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
from urllib.parse import parse_qsl, urlencode

import pytest
import wechatpayv3.core
from alipay import AliPay as SdkAliPay
from wechatpayv3 import WeChatPay as SdkWeChatPay
from wechatpayv3 import WeChatPayType

from chalicelib.payments.providers import (
    NotificationRejected,
    PrepayRequest,
    ProviderError,
    RefundRequest,
    provider,
    sandbox,
)
from chalicelib.payments.providers.alipay import Alipay
from chalicelib.payments.providers.sandbox import SandboxAlipay, SandboxWeChatPay
from chalicelib.payments.providers.wechatpay import WeChatPay
from tests.payments.conftest import public_pem_of, verify_rsa

OPENID = "sandbox-openid-alice"


@pytest.fixture(autouse=True)
def sandbox_mode(monkeypatch):
    monkeypatch.setenv("MALL_PROVIDERS", "sandbox")


class Inbox:
    """Stands in for the mall's webhook: verifies and parses with a fresh provider, as a new request would."""

    def __init__(self, name: str):
        self.name, self.received = name, []

    def __call__(self, headers, raw_body):
        self.received.append(provider(self.name).parse_notification(headers, raw_body))


def prepay(wechat, out_trade_no="ORDER0001", amount=1230):
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)
    return wechat.prepay(PrepayRequest(out_trade_no, "云南小粒咖啡", amount, OPENID, expires))


def pay_wechat(out_trade_no="ORDER0001", amount=1230):
    headers, body = sandbox.twin("wechat").build_payment_notification(out_trade_no, amount, OPENID)
    return provider("wechat").parse_notification(headers, body)


# --- wiring --------------------------------------------------------------------------------------

def test_sandbox_providers_are_the_real_classes_wired_to_the_twins(keys):
    wechat, ali = provider("wechat"), provider("alipay")
    assert isinstance(wechat, WeChatPay) and isinstance(wechat.transport, SandboxWeChatPay)
    assert isinstance(ali, Alipay) and isinstance(ali.transport, SandboxAlipay)
    assert (wechat.app_id, wechat.merchant_id) == (keys.wechatpay.appid, keys.wechatpay.mchid)
    assert (ali.app_id, ali.merchant_id) == (keys.alipay.app_id, keys.alipay.seller_id)


def test_the_twins_keep_their_trades_beside_the_keys(keys_dir):
    prepay(provider("wechat"))
    trades = json.loads((keys_dir / sandbox.TRADES_FILE).read_text())
    assert trades["wechatpay"]["ORDER0001"]["trade_state"] == "NOTPAY"


# --- WeChat Pay: prepay, pay, query ----------------------------------------------------------------------

def test_prepay_answers_signed_parameters_with_a_wx_prepay_id(keys):
    params = prepay(provider("wechat"))
    assert params["package"].startswith("prepay_id=wx") and len(params["package"]) == len("prepay_id=wx") + 26
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
    assert verify_rsa(public_pem_of(keys.wechatpay.merchant_private_key_pem), message, params["paySign"])


def test_the_same_prepay_twice_is_the_same_prepay_id():
    assert prepay(provider("wechat"))["package"] == prepay(provider("wechat"))["package"]


def test_a_prepay_with_another_amount_for_the_same_trade_is_refused():
    prepay(provider("wechat"))
    with pytest.raises(ProviderError) as caught:
        prepay(provider("wechat"), amount=999)
    assert caught.value.provider_code == "INVALID_REQUEST"


def test_a_paid_trade_cannot_be_prepaid_again():
    prepay(provider("wechat"))
    pay_wechat()
    with pytest.raises(ProviderError) as caught:
        prepay(provider("wechat"))
    assert caught.value.provider_code == "ORDERPAID"


def test_a_sandbox_payment_notification_passes_the_real_verifier(keys):
    prepay(provider("wechat"))
    note = pay_wechat()
    assert (note.kind, note.status, note.out_trade_no, note.amount_total, note.payer_id) == \
        ("PAYMENT", "PAID", "ORDER0001", 1230, OPENID)
    assert (note.app_id, note.merchant_id) == (keys.wechatpay.appid, keys.wechatpay.mchid)
    assert note.transaction_id.startswith("4200") and note.paid_at is not None


def test_a_sandbox_notification_passes_under_a_frozen_clock_and_goes_stale_like_a_real_one(frozen_clock):
    headers, body = sandbox.twin("wechat").build_payment_notification("ORDER0001", 1230, OPENID)
    assert provider("wechat").parse_notification(headers, body).status == "PAID"
    frozen_clock.advance(seconds=301)
    with pytest.raises(NotificationRejected) as caught:
        provider("wechat").parse_notification(headers, body)
    assert caught.value.reason == "STALE_TIMESTAMP"


def test_a_sandbox_notification_tampered_with_is_rejected():
    headers, body = sandbox.twin("wechat").build_payment_notification("ORDER0001", 1230, OPENID)
    with pytest.raises(NotificationRejected) as caught:
        provider("wechat").parse_notification(headers, body.replace(b"TRANSACTION", b"TRANSACTI0N"))
    assert caught.value.reason == "BAD_SIGNATURE"


def test_paying_twice_redelivers_the_same_event():
    first, again = pay_wechat(), pay_wechat()
    assert (again.event_id, again.transaction_id) == (first.event_id, first.transaction_id)


def test_the_sdk_accepts_what_the_twin_sends(keys, monkeypatch):
    monkeypatch.setattr(wechatpayv3.core.Core, "_update_certificates",
                        lambda self: pytest.fail("the SDK tried the network"))
    wechat = keys.wechatpay
    sdk = SdkWeChatPay(wechatpay_type=WeChatPayType.MINIPROG, mchid=wechat.mchid,
                       private_key=wechat.merchant_private_key_pem, cert_serial_no=wechat.merchant_serial,
                       appid=wechat.appid, apiv3_key=wechat.apiv3_key, public_key=wechat.platform_public_key_pem(),
                       public_key_id=wechat.platform_serial)
    headers, body = sandbox.twin("wechat").build_payment_notification("ORDER0001", 1230, OPENID)
    result = sdk.callback(headers, body)
    assert result["event_type"] == "TRANSACTION.SUCCESS"
    assert result["resource"]["out_trade_no"] == "ORDER0001" and result["resource"]["amount"]["total"] == 1230


def test_query_follows_the_trade_from_unknown_to_unpaid_to_paid():
    wechat = provider("wechat")
    assert wechat.query("ORDER0001") is None
    prepay(wechat)
    unpaid = wechat.query("ORDER0001")
    assert (unpaid.status, unpaid.amount_total, unpaid.transaction_id) == ("NOT_PAID", None, None)
    paid = pay_wechat()
    queried = wechat.query("ORDER0001")
    assert (queried.status, queried.amount_total, queried.transaction_id) == ("PAID", 1230, paid.transaction_id)
    assert queried.event_id == f"query:{paid.transaction_id}"


def test_query_answers_from_the_file_for_a_provider_made_later(keys):
    pay_wechat()
    fresh = sandbox.wechat_provider(sandbox.ensure_sandbox_keys(keys.directory))
    assert fresh.query("ORDER0001").status == "PAID"


def test_the_twin_refuses_a_request_signed_by_another_merchant_key(keys, other_key_pem):
    forged_keys = dataclasses.replace(keys, wechatpay=dataclasses.replace(keys.wechatpay,
                                                                          merchant_private_key_pem=other_key_pem))
    impostor = sandbox.wechat_provider(forged_keys)
    impostor.transport.keys = keys.wechatpay  # the twin still knows the real merchant's key
    with pytest.raises(ProviderError) as caught:
        impostor.query("ORDER0001")
    assert (caught.value.provider_code, caught.value.http_status) == ("SIGN_ERROR", 401)


# --- WeChat Pay: refunds -------------------------------------------------------------------------------

def test_a_refund_is_accepted_then_its_success_is_delivered():
    pay_wechat()
    inbox = Inbox("wechat")
    accepted = provider("wechat", deliver=inbox).refund(RefundRequest("ORDER0001", "RF0001", 230, 1230, "退货"))
    assert (accepted.out_refund_no, accepted.status) == ("RF0001", "PROCESSING")
    [note] = inbox.received
    assert (note.kind, note.status, note.out_trade_no, note.out_refund_no) == ("REFUND", "SUCCESS", "ORDER0001",
                                                                               "RF0001")
    assert (note.refund_id, note.refund_amount, note.amount_total) == (accepted.refund_id, 230, 1230)


def test_retrying_a_refund_is_the_same_refund_without_a_second_notification():
    pay_wechat()
    inbox = Inbox("wechat")
    first = provider("wechat", deliver=inbox).refund(RefundRequest("ORDER0001", "RF0001", 230, 1230))
    again = provider("wechat", deliver=inbox).refund(RefundRequest("ORDER0001", "RF0001", 230, 1230))
    assert (again.refund_id, again.status) == (first.refund_id, "SUCCESS")
    assert len(inbox.received) == 1


def test_after_a_refund_the_query_says_refund_as_wechat_does():
    pay_wechat()
    provider("wechat").refund(RefundRequest("ORDER0001", "RF0001", 230, 1230))
    assert provider("wechat").query("ORDER0001").status == "REFUNDED_ELSEWHERE"


def test_without_deliver_the_refund_still_happens():
    pay_wechat()
    assert provider("wechat").refund(RefundRequest("ORDER0001", "RF0001", 1230, 1230)).status == "PROCESSING"
    assert provider("wechat").refund(RefundRequest("ORDER0001", "RF0001", 1230, 1230)).status == "SUCCESS"


@pytest.mark.parametrize("request_, code", [
    (RefundRequest("ORDER0001", "RF0002", 1001, 1230), "INVALID_REQUEST"),  # with RF0001's 230: more than paid
    (RefundRequest("ORDER0001", "RF0001", 231, 1230), "INVALID_REQUEST"),  # same refund number, other amount
    (RefundRequest("ORDER0001", "RF0003", 10, 1000), "PARAM_ERROR"),  # not the trade's total
    (RefundRequest("ORDER0404", "RF0004", 10, 1230), "RESOURCE_NOT_EXISTS"),
])
def test_refunds_wechat_would_refuse_are_refused(request_, code):
    pay_wechat()
    provider("wechat").refund(RefundRequest("ORDER0001", "RF0001", 230, 1230))
    with pytest.raises(ProviderError) as caught:
        provider("wechat").refund(request_)
    assert caught.value.provider_code == code and not caught.value.retryable


def test_an_unpaid_trade_cannot_be_refunded():
    prepay(provider("wechat"))
    with pytest.raises(ProviderError) as caught:
        provider("wechat").refund(RefundRequest("ORDER0001", "RF0001", 230, 1230))
    assert caught.value.provider_code == "INVALID_REQUEST"


@pytest.mark.parametrize("status", ["ABNORMAL", "CLOSED"])
def test_a_tester_can_build_other_refund_outcomes(status):
    pay_wechat()
    provider("wechat").refund(RefundRequest("ORDER0001", "RF0001", 230, 1230))
    headers, body = sandbox.twin("wechat").build_refund_notification("ORDER0001", "RF0001", status=status)
    note = provider("wechat").parse_notification(headers, body)
    assert (note.kind, note.status, note.out_refund_no) == ("REFUND", status, "RF0001")


def test_a_refund_notification_needs_a_refund_the_twin_accepted():
    pay_wechat()
    with pytest.raises(ValueError):
        sandbox.twin("wechat").build_refund_notification("ORDER0001", "RF0404")
    with pytest.raises(ValueError):
        sandbox.twin("wechat").build_refund_notification("ORDER0001", "RF0001", status="PROCESSING")


@pytest.mark.parametrize("out_trade_no, amount", [("T1", 100), ("ORDER0001", 0), ("ORDER0001", 1.5)])
def test_a_sandbox_payment_needs_a_valid_trade_and_amount(out_trade_no, amount):
    with pytest.raises(ValueError):
        sandbox.twin("wechat").build_payment_notification(out_trade_no, amount, OPENID)


# --- Alipay ------------------------------------------------------------------------------------------------

def pay_alipay(out_trade_no="ORDER0001", amount=1230, **kwargs):
    headers, body = sandbox.twin("alipay").build_payment_notification(out_trade_no, amount, **kwargs)
    return provider("alipay").parse_notification(headers, body), body


def test_a_sandbox_alipay_notification_passes_the_real_verifier_and_the_sdk(keys):
    note, body = pay_alipay(buyer_id="2088000000000001")
    assert (note.kind, note.status, note.amount_total, note.payer_id) == ("PAYMENT", "PAID", 1230, "2088000000000001")
    assert (note.app_id, note.merchant_id) == (keys.alipay.app_id, keys.alipay.seller_id)
    sdk = SdkAliPay(appid=keys.alipay.app_id, app_notify_url=None,
                    app_private_key_string=keys.alipay.app_private_key_pem,
                    alipay_public_key_string=keys.alipay.alipay_public_key_pem(), sign_type="RSA2")
    data = dict(parse_qsl(body.decode(), keep_blank_values=True))
    assert sdk.verify(data, data.pop("sign"))


def test_extra_fields_are_signed_too_even_empty_ones():
    note, _ = pay_alipay(extra={"passback_params": "", "body": "note"})
    assert note.raw["passback_params"] == "" and note.raw["body"] == "note"


def test_alipay_query_knows_a_trade_only_once_paid():
    ali = provider("alipay")
    assert ali.query("ORDER0001") is None
    note, _ = pay_alipay()
    queried = ali.query("ORDER0001")
    assert (queried.status, queried.amount_total, queried.transaction_id) == ("PAID", 1230, note.transaction_id)


def test_an_alipay_refund_is_synchronous_and_notified():
    pay_alipay()
    inbox = Inbox("alipay")
    accepted = provider("alipay", deliver=inbox).refund(RefundRequest("ORDER0001", "RF0001", 230, 1230))
    assert (accepted.status, accepted.refund_id) == ("SUCCESS", None)
    [note] = inbox.received
    assert (note.kind, note.status, note.out_refund_no, note.refund_amount) == ("REFUND", "SUCCESS", "RF0001", 230)
    assert provider("alipay").query("ORDER0001").status == "PAID"  # partly refunded: still TRADE_SUCCESS


def test_a_full_alipay_refund_closes_the_trade_and_a_retry_is_confirmed_without_a_second_notice():
    pay_alipay()
    inbox = Inbox("alipay")
    provider("alipay", deliver=inbox).refund(RefundRequest("ORDER0001", "RF0001", 1230, 1230))
    retried = provider("alipay", deliver=inbox).refund(RefundRequest("ORDER0001", "RF0001", 1230, 1230))
    assert retried.status == "SUCCESS" and len(inbox.received) == 1
    assert inbox.received[0].refund_amount == 1230
    assert provider("alipay").query("ORDER0001").status == "CLOSED"


def test_alipay_refunds_beyond_the_total_are_refused():
    pay_alipay()
    provider("alipay").refund(RefundRequest("ORDER0001", "RF0001", 1000, 1230))
    with pytest.raises(ProviderError) as caught:
        provider("alipay").refund(RefundRequest("ORDER0001", "RF0002", 231, 1230))
    assert caught.value.provider_code == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"


def test_the_alipay_twin_refuses_a_request_signed_by_another_app_key(keys, other_key_pem):
    forged = dataclasses.replace(keys, alipay=dataclasses.replace(keys.alipay, app_private_key_pem=other_key_pem))
    impostor = sandbox.alipay_provider(forged)
    impostor.transport.keys = keys.alipay
    with pytest.raises(ProviderError) as caught:
        impostor.query("ORDER0001")
    assert caught.value.provider_code == "isv.invalid-signature"


def test_the_alipay_twin_refuses_a_signed_request_whose_biz_content_is_not_json(keys):
    from chalicelib.payments.providers import load_private_key, rsa_sign
    from chalicelib.payments.providers.alipay import request_content

    params = {"app_id": keys.alipay.app_id, "method": "alipay.trade.query", "charset": "utf-8", "sign_type": "RSA2",
              "version": "1.0", "timestamp": "2026-11-25 12:00:00", "biz_content": "not json"}
    params["sign"] = rsa_sign(load_private_key(keys.alipay.app_private_key_pem), request_content(params).encode())
    reply = sandbox.twin("alipay").send("POST", "", urlencode(params).encode(), {})
    assert json.loads(reply.body)["alipay_trade_query_response"]["sub_code"] == "isv.invalid-parameter"
