"""WeChat Pay's primitives: the spec's AES-GCM vector, paySign against the documented string, the Authorization
header; each also checked against the wechatpayv3 SDK, whose RSA PKCS#1 v1.5 signatures are deterministic."""
from __future__ import annotations

import pytest
from wechatpayv3 import WeChatPay as SdkWeChatPay
from wechatpayv3 import WeChatPayType
from wechatpayv3 import utils as sdk_utils

from chalicelib.payments.providers import load_private_key
from chalicelib.payments.providers.wechatpay import (
    aes_gcm_decrypt,
    aes_gcm_encrypt,
    authorization,
    parse_authorization,
    signed_message,
)
from tests.payments.conftest import public_pem_of, verify_rsa, wechat_pay

VECTOR_KEY = "0123456789abcdef0123456789abcdef"
VECTOR_NONCE = "abcdef123456"
VECTOR_AD = "transaction"
VECTOR_PLAINTEXT = b'{"out_trade_no":"T0001","trade_state":"SUCCESS","amount":{"total":100}}'
VECTOR_CIPHERTEXT = ("i1is0ebmSkGKa2LQdcBD+t+ee3oA/fO2VTFqVYdtDMg0OdAnBvnJGhiOim5Yy3qgVPmTGiLNEL4g4CzRdfclH8rSRRW296S4a"
                     "2B/dfR/FKFNr13BGs2c")

DOC_APPID = "wx8888888888888888"
DOC_TIMESTAMP = "1414561699"
DOC_NONCE = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
DOC_PREPAY_ID = "wx201410272009395522657a690389285100"
DOC_SIGNED_STRING = ("wx8888888888888888\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n"
                     "prepay_id=wx201410272009395522657a690389285100\n")


def test_the_spec_test_vector_decrypts_to_its_plaintext():
    assert aes_gcm_decrypt(VECTOR_KEY, VECTOR_NONCE, VECTOR_AD, VECTOR_CIPHERTEXT) == VECTOR_PLAINTEXT


def test_encrypting_the_vector_plaintext_gives_the_vector_ciphertext():
    assert aes_gcm_encrypt(VECTOR_KEY, VECTOR_NONCE, VECTOR_AD, VECTOR_PLAINTEXT) == VECTOR_CIPHERTEXT


def test_the_sdk_decrypts_the_vector_the_same():
    assert sdk_utils.aes_decrypt(VECTOR_NONCE, VECTOR_CIPHERTEXT, VECTOR_AD, VECTOR_KEY) == VECTOR_PLAINTEXT.decode()


@pytest.mark.parametrize("key, nonce, ad, ciphertext", [
    ("0123456789abcdef0123456789abcdeF", VECTOR_NONCE, VECTOR_AD, VECTOR_CIPHERTEXT),  # another key
    (VECTOR_KEY, "abcdef123457", VECTOR_AD, VECTOR_CIPHERTEXT),
    (VECTOR_KEY, VECTOR_NONCE, "refund", VECTOR_CIPHERTEXT),
    (VECTOR_KEY, VECTOR_NONCE, "", VECTOR_CIPHERTEXT),
    (VECTOR_KEY, VECTOR_NONCE, VECTOR_AD, "j" + VECTOR_CIPHERTEXT[1:]),
    (VECTOR_KEY, VECTOR_NONCE, VECTOR_AD, VECTOR_CIPHERTEXT[:-4]),  # tag cut short
    (VECTOR_KEY, VECTOR_NONCE, VECTOR_AD, "not base64 !"),
    (VECTOR_KEY, "", VECTOR_AD, VECTOR_CIPHERTEXT),  # a nonce AES-GCM cannot use
])
def test_any_wrong_input_fails_decryption_with_value_error(key, nonce, ad, ciphertext):
    with pytest.raises(ValueError):
        aes_gcm_decrypt(key, nonce, ad, ciphertext)


def test_the_key_is_the_utf8_text_not_hex_or_base64():
    # Taken as hex, this 32-character key would be 16 bytes (AES-128): it must be 32 bytes of text.
    assert len(VECTOR_KEY.encode("utf-8")) == 32
    assert aes_gcm_decrypt(VECTOR_KEY, VECTOR_NONCE, VECTOR_AD, VECTOR_CIPHERTEXT)


# --- paySign for wx.requestPayment ---------------------------------------------------

def documented_parameters(keys):
    wechat = wechat_pay(keys, "http://127.0.0.1:9")
    wechat.app_id = DOC_APPID
    return wechat.client_parameters(DOC_PREPAY_ID, timestamp=DOC_TIMESTAMP, nonce=DOC_NONCE)


def test_pay_sign_signs_the_documented_string(keys):
    params = documented_parameters(keys)
    merchant_public = public_pem_of(keys.wechatpay.merchant_private_key_pem)
    assert verify_rsa(merchant_public, DOC_SIGNED_STRING.encode(), params["paySign"]), \
        "paySign must verify over appId\\ntimeStamp\\nnonceStr\\npackage\\n"


def test_client_parameters_are_what_wx_request_payment_takes(keys):
    params = documented_parameters(keys)
    assert {k: v for k, v in params.items() if k != "paySign"} == {
        "appId": DOC_APPID, "timeStamp": DOC_TIMESTAMP, "nonceStr": DOC_NONCE,
        "package": f"prepay_id={DOC_PREPAY_ID}", "signType": "RSA"}


def test_pay_sign_equals_the_sdk_signature(keys):
    sdk = SdkWeChatPay(wechatpay_type=WeChatPayType.MINIPROG, mchid=keys.wechatpay.mchid,
                       private_key=keys.wechatpay.merchant_private_key_pem,
                       cert_serial_no=keys.wechatpay.merchant_serial, appid=DOC_APPID,
                       apiv3_key=keys.wechatpay.apiv3_key,
                       public_key=keys.wechatpay.platform_public_key_pem(), public_key_id=keys.wechatpay.platform_serial)
    expected = sdk.sign([DOC_APPID, DOC_TIMESTAMP, DOC_NONCE, f"prepay_id={DOC_PREPAY_ID}"])
    assert documented_parameters(keys)["paySign"] == expected


def test_client_parameters_default_to_now_and_a_fresh_32_character_nonce(keys, frozen_clock):
    wechat = wechat_pay(keys, "http://127.0.0.1:9")
    first, second = wechat.client_parameters("wx1"), wechat.client_parameters("wx1")
    assert first["timeStamp"] == str(int(frozen_clock.now().timestamp()))
    assert len(first["nonceStr"]) == 32 and first["nonceStr"] != second["nonceStr"]


# --- the Authorization header of outbound calls ---------------------------------------

def test_authorization_equals_the_sdk_header(keys, monkeypatch):
    monkeypatch.setattr(sdk_utils.time, "time", lambda: 1700000000.5)
    body = '{"mchid":"1900000001","out_trade_no":"T0001"}'
    merchant_pem = keys.wechatpay.merchant_private_key_pem
    expected = sdk_utils.build_authorization("/v3/pay/transactions/jsapi", "POST", "1900000001", "SERIAL01",
                                             sdk_utils.load_private_key(merchant_pem), data=body, nonce_str="N0NCE")
    ours = authorization(load_private_key(merchant_pem), "1900000001", "SERIAL01", "POST",
                         "/v3/pay/transactions/jsapi", "1700000000", "N0NCE", body.encode())
    assert ours == expected


def test_authorization_signs_method_path_time_nonce_and_body(keys):
    merchant_pem = keys.wechatpay.merchant_private_key_pem
    header = authorization(load_private_key(merchant_pem), "1900000001", "SERIAL01", "GET",
                           "/v3/pay/transactions/out-trade-no/T1?mchid=1900000001", "1700000000", "N0NCE", b"")
    fields = parse_authorization(header)
    assert (fields["mchid"], fields["serial_no"], fields["timestamp"], fields["nonce_str"]) == \
        ("1900000001", "SERIAL01", "1700000000", "N0NCE")
    message = b"GET\n/v3/pay/transactions/out-trade-no/T1?mchid=1900000001\n1700000000\nN0NCE\n\n"
    assert verify_rsa(public_pem_of(merchant_pem), message, fields["signature"])


def test_signed_message_ends_every_part_with_a_newline_and_keeps_body_bytes():
    assert signed_message("1", "n", "体".encode()) == "1\nn\n体\n".encode()


def test_an_authorization_of_another_scheme_is_not_parsed():
    assert parse_authorization('Bearer mchid="1"') is None
