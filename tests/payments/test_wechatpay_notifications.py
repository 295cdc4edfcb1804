"""WeChat Pay v3 notifications: verification in the spec's order, every rejection with its reason, key rotation,
parsing; and the wechatpayv3 SDK's callback handling as an oracle on genuine and tampered notifications."""
from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
import wechatpayv3.core
from wechatpayv3 import WeChatPay as SdkWeChatPay
from wechatpayv3 import WeChatPayType

from chalicelib.core import config
from chalicelib.payments.providers import NotificationRejected
from chalicelib.payments.providers.wechatpay import parse_transaction
from tests.payments.conftest import (
    certificate_pem,
    encrypted_resource,
    notification_body,
    public_pem_of,
    transaction,
    wechat_headers,
    wechat_pay,
)

OLD_CERT_SERIAL = 0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1


@pytest.fixture
def wechat(keys):
    return wechat_pay(keys, "http://127.0.0.1:9")


def signed(keys, body: bytes, **kwargs) -> dict[str, str]:
    return wechat_headers(body, keys.wechatpay.platform_private_key_pem, keys.wechatpay.platform_serial, **kwargs)


def payment_body(keys, resource_changes=None, **envelope) -> bytes:
    plaintext = json.dumps(transaction(keys, **(resource_changes or {})), ensure_ascii=False).encode()
    return notification_body(encrypted_resource(keys.wechatpay.apiv3_key, plaintext), **envelope)


def refund_body(keys, status="SUCCESS") -> bytes:
    resource = {"mchid": keys.wechatpay.mchid, "transaction_id": "4200000000202611250000000001",
                "out_trade_no": "ORDER0001", "refund_id": "50300000000000000000000000001", "out_refund_no": "RF0001",
                "refund_status": status, "success_time": "2026-11-25T13:00:00+08:00",
                "user_received_account": "支付用户零钱",
                "amount": {"total": 1230, "refund": 230, "payer_total": 1230, "payer_refund": 230}}
    plaintext = json.dumps(resource, ensure_ascii=False).encode()
    return notification_body(encrypted_resource(keys.wechatpay.apiv3_key, plaintext, associated_data="refund"),
                             event_type=f"REFUND.{status}", event_id="EV-REFUND-1")


def rejection(wechat, headers, body) -> NotificationRejected:
    with pytest.raises(NotificationRejected) as caught:
        wechat.parse_notification(headers, body)
    return caught.value


# --- genuine notifications --------------------------------------------------------------

def test_a_genuine_payment_notification_is_verified_and_parsed(keys, wechat):
    body = payment_body(keys)
    note = wechat.parse_notification(signed(keys, body), body)
    assert (note.provider, note.event_id, note.kind, note.out_trade_no, note.status) == \
        ("wechat", "EV-1", "PAYMENT", "ORDER0001", "PAID")
    assert (note.amount_total, note.transaction_id, note.payer_id) == (1230, "4200000000202611250000000001", "o-buyer")
    assert (note.app_id, note.merchant_id) == (keys.wechatpay.appid, keys.wechatpay.mchid)
    assert note.paid_at == dt.datetime(2026, 11, 25, 4, 0, tzinfo=dt.UTC)
    assert note.raw["trade_type"] == "JSAPI"


@pytest.mark.parametrize("status", ["SUCCESS", "ABNORMAL", "CLOSED"])
def test_a_genuine_refund_notification_is_parsed(keys, wechat, status):
    body = refund_body(keys, status)
    note = wechat.parse_notification(signed(keys, body), body)
    assert (note.kind, note.status, note.event_id, note.out_refund_no) == ("REFUND", status, "EV-REFUND-1", "RF0001")
    assert (note.refund_id, note.refund_amount, note.amount_total) == ("50300000000000000000000000001", 230, 1230)
    assert note.merchant_id == keys.wechatpay.mchid and note.app_id is None


@pytest.mark.parametrize("name_case", [str.lower, str.upper, lambda name: name])
def test_header_names_are_case_insensitive(keys, wechat, name_case):
    body = payment_body(keys)
    headers = {name_case(name): value for name, value in signed(keys, body).items()}
    assert wechat.parse_notification(headers, body).status == "PAID"


def test_a_notification_without_signature_type_is_still_verified_by_its_signature(keys, wechat):
    body = payment_body(keys)
    headers = signed(keys, body)
    del headers["Wechatpay-Signature-Type"]
    assert wechat.parse_notification(headers, body).status == "PAID"


def test_empty_associated_data_is_allowed(keys, wechat):
    plaintext = json.dumps(transaction(keys)).encode()
    resource = encrypted_resource(keys.wechatpay.apiv3_key, plaintext, associated_data="")
    body = notification_body(resource)
    assert wechat.parse_notification(signed(keys, body), body).out_trade_no == "ORDER0001"


@pytest.mark.parametrize("state, status", [("SUCCESS", "PAID"), ("NOTPAY", "NOT_PAID"), ("USERPAYING", "NOT_PAID"),
                                           ("CLOSED", "CLOSED"), ("REVOKED", "CLOSED"), ("PAYERROR", "CLOSED"),
                                           ("REFUND", "REFUNDED_ELSEWHERE")])
def test_each_trade_state_maps_to_a_mall_status(keys, state, status):
    assert parse_transaction(transaction(keys, trade_state=state), "EV").status == status


def test_an_unpaid_trade_may_come_without_amount_or_transaction_id(keys):
    data = transaction(keys, trade_state="NOTPAY")
    for name in ("amount", "transaction_id", "success_time"):
        del data[name]
    note = parse_transaction(data, "query:ORDER0001")
    assert (note.status, note.amount_total, note.transaction_id, note.paid_at) == ("NOT_PAID", None, None, None)


# --- the replay window ----------------------------------------------------------------------

@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamps_within_300_seconds_either_way_are_accepted(keys, wechat, frozen_clock, offset):
    body = payment_body(keys)
    now = int(frozen_clock.now().timestamp())
    assert wechat.parse_notification(signed(keys, body, timestamp=now + offset), body).status == "PAID"


@pytest.mark.parametrize("offset", [-301, 301, -86400, 86400])
def test_stale_and_future_timestamps_are_rejected(keys, wechat, frozen_clock, offset):
    body = payment_body(keys)
    now = int(frozen_clock.now().timestamp())
    assert rejection(wechat, signed(keys, body, timestamp=now + offset), body).reason == "STALE_TIMESTAMP"


def test_the_window_follows_the_mall_clock(keys, wechat, frozen_clock):
    body = payment_body(keys)
    headers = signed(keys, body)
    frozen_clock.advance(seconds=301)
    assert rejection(wechat, headers, body).reason == "STALE_TIMESTAMP"


@pytest.mark.parametrize("timestamp", ["17000000OO", "-1700000000", "1.7e9", " 1700000000"])
def test_a_timestamp_that_is_not_unix_seconds_is_malformed(keys, wechat, timestamp):
    body = payment_body(keys)
    headers = {**signed(keys, body), "Wechatpay-Timestamp": timestamp}
    assert rejection(wechat, headers, body).reason == "MALFORMED"


# --- rejections ------------------------------------------------------------------------------

@pytest.mark.parametrize("header", ["Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature",
                                    "Wechatpay-Serial"])
def test_a_missing_or_empty_header_is_rejected(keys, wechat, header):
    body = payment_body(keys)
    headers = signed(keys, body)
    assert rejection(wechat, {k: v for k, v in headers.items() if k != header}, body).reason == "MISSING_HEADERS"
    assert rejection(wechat, {**headers, header: ""}, body).reason == "MISSING_HEADERS"


def test_no_headers_at_all_is_rejected(keys, wechat):
    assert rejection(wechat, {}, payment_body(keys)).reason == "MISSING_HEADERS"


def test_a_signature_by_another_key_is_rejected(keys, wechat, other_key_pem):
    body = payment_body(keys)
    headers = wechat_headers(body, other_key_pem, keys.wechatpay.platform_serial)
    assert rejection(wechat, headers, body).reason == "BAD_SIGNATURE"


def test_a_body_changed_after_signing_is_rejected(keys, wechat):
    body = payment_body(keys)
    headers = signed(keys, body)
    assert rejection(wechat, headers, body.replace(b"EV-1", b"EV-2")).reason == "BAD_SIGNATURE"


def test_the_raw_bytes_are_verified_not_a_reserialization(keys, wechat):
    body = payment_body(keys)
    headers = signed(keys, body)
    same_json = json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert same_json != body
    assert rejection(wechat, headers, same_json).reason == "BAD_SIGNATURE"


@pytest.mark.parametrize("header, value", [("Wechatpay-Nonce", "another-nonce"),
                                           ("Wechatpay-Timestamp", None),
                                           ("Wechatpay-Signature", "bm90IGEgc2lnbmF0dXJl"),
                                           ("Wechatpay-Signature", "%%% not base64 %%%"),
                                           ("Wechatpay-Signature-Type", "WECHATPAY2-SM2-WITH-SM3")])
def test_a_signature_that_does_not_cover_these_headers_is_rejected(keys, wechat, frozen_clock, header, value):
    body = payment_body(keys)
    headers = signed(keys, body)
    headers[header] = value if value is not None else str(int(headers["Wechatpay-Timestamp"]) + 1)
    assert rejection(wechat, headers, body).reason == "BAD_SIGNATURE"


def test_an_unknown_serial_is_rejected(keys, wechat):
    body = payment_body(keys)
    headers = {**signed(keys, body), "Wechatpay-Serial": "PUB_KEY_ID_0000000000000000000000000000"}
    assert rejection(wechat, headers, body).reason == "UNKNOWN_SERIAL"


def test_a_tampered_ciphertext_is_rejected_even_when_signed(keys, wechat):
    resource = encrypted_resource(keys.wechatpay.apiv3_key, json.dumps(transaction(keys)).encode())
    sealed = bytearray(base64.b64decode(resource["ciphertext"]))
    sealed[5] ^= 1
    resource["ciphertext"] = base64.b64encode(bytes(sealed)).decode()
    body = notification_body(resource)
    assert rejection(wechat, signed(keys, body), body).reason == "BAD_CIPHERTEXT"


def test_wrong_associated_data_is_rejected(keys, wechat):
    resource = encrypted_resource(keys.wechatpay.apiv3_key, json.dumps(transaction(keys)).encode())
    resource["associated_data"] = "refund"
    body = notification_body(resource)
    assert rejection(wechat, signed(keys, body), body).reason == "BAD_CIPHERTEXT"


def test_a_resource_encrypted_with_another_apiv3_key_is_rejected(keys, wechat):
    resource = encrypted_resource("X" * 32, json.dumps(transaction(keys)).encode())
    body = notification_body(resource)
    assert rejection(wechat, signed(keys, body), body).reason == "BAD_CIPHERTEXT"


@pytest.mark.parametrize("change", [{"ciphertext": "@@not-base64@@"}, {"nonce": ""}])
def test_an_undecryptable_resource_is_rejected(keys, wechat, change):
    resource = {**encrypted_resource(keys.wechatpay.apiv3_key, b"{}"), **change}
    body = notification_body(resource)
    assert rejection(wechat, signed(keys, body), body).reason == "BAD_CIPHERTEXT"


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b"[1, 2]", b"\xff\xfe\xfd", b'"a string"'])
def test_a_signed_body_that_is_not_a_json_object_is_malformed(keys, wechat, body):
    assert rejection(wechat, signed(keys, body), body).reason == "MALFORMED"


def envelope_with(keys, **changes) -> bytes:
    envelope = json.loads(payment_body(keys))
    envelope.update(changes)
    return json.dumps({k: v for k, v in envelope.items() if v is not None}).encode()


@pytest.mark.parametrize("changes", [{"id": None}, {"id": ""}, {"event_type": "TRANSACTION.FAILED"},
                                     {"event_type": None}, {"resource_type": "plain"}, {"resource": None},
                                     {"resource": "ciphertext"}])
def test_an_envelope_without_what_a_notification_has_is_malformed(keys, wechat, changes):
    body = envelope_with(keys, **changes)
    assert rejection(wechat, signed(keys, body), body).reason == "MALFORMED"


def test_an_unknown_algorithm_is_malformed(keys, wechat):
    envelope = json.loads(payment_body(keys))
    envelope["resource"]["algorithm"] = "AEAD_SM4_GCM"
    body = json.dumps(envelope).encode()
    assert rejection(wechat, signed(keys, body), body).reason == "MALFORMED"


@pytest.mark.parametrize("plaintext", [b"not json", b"[]", b'{"trade_state": "SUCCESS"}'])
def test_a_decrypted_resource_that_is_not_a_transaction_is_malformed(keys, wechat, plaintext):
    body = notification_body(encrypted_resource(keys.wechatpay.apiv3_key, plaintext))
    assert rejection(wechat, signed(keys, body), body).reason == "MALFORMED"


@pytest.mark.parametrize("changes", [{"trade_state": "PAID"}, {"amount": {"total": "1230"}}, {"amount": {}},
                                     {"amount": {"total": -1}}, {"amount": {"total": 12.3}},
                                     {"amount": {"total": True}}, {"out_trade_no": None},
                                     {"transaction_id": None}, {"success_time": "yesterday"},
                                     {"success_time": "2026-11-25T12:00:00"}, {"payer": {"openid": 7}}])
def test_a_transaction_with_a_bad_field_is_malformed(keys, wechat, changes):
    body = payment_body(keys, changes)
    assert rejection(wechat, signed(keys, body), body).reason == "MALFORMED"


def test_a_rejection_carries_its_reason_and_a_message(keys, wechat):
    error = rejection(wechat, {}, b"{}")
    assert error.reason == "MISSING_HEADERS" and "wechatpay-signature" in error.message
    with pytest.raises(ValueError):
        NotificationRejected("NOT_A_REASON", "x")


# --- platform key rotation --------------------------------------------------------------------

@pytest.fixture
def rotating(keys, other_key_pem):
    """WeChat moving the account from an old platform certificate to a public key: both held at once."""
    return wechat_pay(keys, "http://127.0.0.1:9", platform_keys={
        f"{OLD_CERT_SERIAL:X}": certificate_pem(other_key_pem, OLD_CERT_SERIAL),
        keys.wechatpay.platform_serial: keys.wechatpay.platform_public_key_pem()})


def test_both_held_keys_verify_their_own_notifications(keys, rotating, other_key_pem):
    body = payment_body(keys)
    by_certificate = wechat_headers(body, other_key_pem, f"{OLD_CERT_SERIAL:X}")
    assert rotating.parse_notification(by_certificate, body).status == "PAID"
    assert rotating.parse_notification(signed(keys, body), body).status == "PAID"


def test_a_certificate_serial_matches_whatever_its_hex_case(keys, rotating, other_key_pem):
    body = payment_body(keys)
    headers = wechat_headers(body, other_key_pem, f"{OLD_CERT_SERIAL:x}")
    assert rotating.parse_notification(headers, body).status == "PAID"


def test_a_signature_made_with_one_held_key_but_naming_the_other_is_rejected(keys, rotating, other_key_pem):
    body = payment_body(keys)
    headers = wechat_headers(body, other_key_pem, keys.wechatpay.platform_serial)
    assert rejection(rotating, headers, body).reason == "BAD_SIGNATURE"


def test_a_retired_key_is_unknown_once_dropped(keys, other_key_pem):
    only_new = wechat_pay(keys, "http://127.0.0.1:9",
                          platform_keys={keys.wechatpay.platform_serial: keys.wechatpay.platform_public_key_pem()})
    body = payment_body(keys)
    headers = wechat_headers(body, other_key_pem, f"{OLD_CERT_SERIAL:X}")
    assert rejection(only_new, headers, body).reason == "UNKNOWN_SERIAL"


def test_a_certificate_filed_under_another_serial_is_a_configuration_error(keys, other_key_pem):
    with pytest.raises(config.ConfigError):
        wechat_pay(keys, "http://127.0.0.1:9",
                   platform_keys={"ABCDEF": certificate_pem(other_key_pem, OLD_CERT_SERIAL)})


@pytest.mark.parametrize("platform_keys", [{"PUB_KEY_ID_1": "not a key"}, {"PUB_KEY_ID_1": ""}])
def test_an_unreadable_platform_key_is_a_configuration_error(keys, platform_keys):
    with pytest.raises(config.ConfigError):
        wechat_pay(keys, "http://127.0.0.1:9", platform_keys=platform_keys)


# --- webhook replies ------------------------------------------------------------------------------

def test_accepting_is_204_with_no_body(wechat):
    assert wechat.accept_reply()[:2] == (204, "")


@pytest.mark.parametrize("reason, status", [("BAD_SIGNATURE", 401), ("UNKNOWN_SERIAL", 401), ("STALE_TIMESTAMP", 401),
                                            ("MISSING_HEADERS", 400), ("MALFORMED", 400), ("BAD_CIPHERTEXT", 400),
                                            ("ORDER_STORE_DOWN", 500)])
def test_rejecting_is_4xx_or_5xx_with_code_fail(wechat, reason, status):
    code, body, content_type = wechat.reject_reply(reason, "签名错误")
    assert (code, json.loads(body), content_type) == (status, {"code": "FAIL", "message": "签名错误"},
                                                      "application/json")


# --- the SDK as an oracle -------------------------------------------------------------------------------

@pytest.fixture
def no_sdk_network(monkeypatch):
    def refuse(self):
        raise AssertionError("the SDK tried to download platform certificates")
    monkeypatch.setattr(wechatpayv3.core.Core, "_update_certificates", refuse)


def sdk_for(keys, **key_settings) -> SdkWeChatPay:
    wechat = keys.wechatpay
    return SdkWeChatPay(wechatpay_type=WeChatPayType.MINIPROG, mchid=wechat.mchid,
                        private_key=wechat.merchant_private_key_pem, cert_serial_no=wechat.merchant_serial,
                        appid=wechat.appid, apiv3_key=wechat.apiv3_key, **key_settings)


def sdk_with_public_key(keys) -> SdkWeChatPay:
    return sdk_for(keys, public_key=keys.wechatpay.platform_public_key_pem(),
                   public_key_id=keys.wechatpay.platform_serial)


def cases(keys, other_key_pem) -> dict[str, tuple[dict[str, str], bytes]]:
    body = payment_body(keys)
    resealed = json.loads(body)
    resealed["resource"]["associated_data"] = "refund"
    wrong_ad = json.dumps(resealed).encode()
    flipped = json.loads(body)
    flipped["resource"]["ciphertext"] = "A" + flipped["resource"]["ciphertext"][1:]
    flipped_body = json.dumps(flipped).encode()
    other_apiv3 = notification_body(encrypted_resource("Y" * 32, json.dumps(transaction(keys)).encode()))
    return {
        "genuine": (signed(keys, body), body),
        "genuine refund": (signed(keys, refund_body(keys)), refund_body(keys)),
        "other signing key": (wechat_headers(body, other_key_pem, keys.wechatpay.platform_serial), body),
        "body changed after signing": (signed(keys, body), body.replace(b"ORDER", b"0RDER", 1)),
        "nonce changed": ({**signed(keys, body), "Wechatpay-Nonce": "x"}, body),
        "wrong associated data": (signed(keys, wrong_ad), wrong_ad),
        "tampered ciphertext": (signed(keys, flipped_body), flipped_body),
        "other apiv3 key": (signed(keys, other_apiv3), other_apiv3),
    }


CASES = ["genuine", "genuine refund", "other signing key", "body changed after signing", "nonce changed",
         "wrong associated data", "tampered ciphertext", "other apiv3 key"]


@pytest.mark.parametrize("case", CASES)
def test_our_verifier_and_the_sdk_callback_agree(keys, wechat, other_key_pem, no_sdk_network, case):
    headers, body = cases(keys, other_key_pem)[case]
    sdk_result = sdk_with_public_key(keys).callback(headers, body)
    try:
        ours = wechat.parse_notification(headers, body)
    except NotificationRejected as rejected:
        assert sdk_result is None, f"{case}: we rejected ({rejected.reason}) what the SDK accepted"
        assert case != "genuine"
        return
    assert sdk_result is not None, f"{case}: we accepted what the SDK rejected"
    assert ours.raw == sdk_result["resource"], "both must decrypt the same resource"
    assert sdk_result["id"] == ours.event_id


def test_the_sdk_agrees_with_certificate_serials_too(keys, other_key_pem, no_sdk_network, tmp_path):
    cert = certificate_pem(other_key_pem, OLD_CERT_SERIAL)
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "platform.pem").write_text(cert)
    sdk = sdk_for(keys, cert_dir=str(tmp_path / "certs"))
    ours = wechat_pay(keys, "http://127.0.0.1:9", platform_keys={f"{OLD_CERT_SERIAL:X}": cert})
    body = payment_body(keys)
    good = wechat_headers(body, other_key_pem, f"{OLD_CERT_SERIAL:X}")
    forged = wechat_headers(body, keys.wechatpay.platform_private_key_pem, f"{OLD_CERT_SERIAL:X}")
    assert sdk.callback(good, body)["resource"] == ours.parse_notification(good, body).raw
    assert sdk.callback(forged, body) is None
    assert rejection(ours, forged, body).reason == "BAD_SIGNATURE"


def test_the_oracle_sees_the_public_key_we_hold(keys):
    assert public_pem_of(keys.wechatpay.platform_private_key_pem) == keys.wechatpay.platform_public_key_pem()
