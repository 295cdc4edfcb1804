"""Alipay asynchronous notifications: RSA2 verification (empty values kept), exact yuan -> fen, status mapping,
every rejection; and python-alipay-sdk's `AliPay.verify` as an oracle on genuine and tampered forms."""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl, urlencode

import pytest
from alipay import AliPay as SdkAliPay

from chalicelib.payments.providers import NotificationRejected
from tests.payments.conftest import alipay, sign_rsa

BEIJING = dt.timezone(dt.timedelta(hours=8))


def payment_fields(keys, **changes) -> dict[str, str]:
    fields = {"notify_time": "2026-11-25 12:00:05", "notify_type": "trade_status_sync",
              "notify_id": "ac05099524730693a8b330c5ecf72da9786", "app_id": keys.alipay.app_id, "charset": "utf-8",
              "version": "1.0", "trade_no": "2026112522001400000000000001", "out_trade_no": "ORDER0001",
              "buyer_id": "2088102122524333", "seller_id": keys.alipay.seller_id, "trade_status": "TRADE_SUCCESS",
              "total_amount": "12.30", "receipt_amount": "12.30", "buyer_pay_amount": "12.30",
              "gmt_create": "2026-11-25 11:59:50", "gmt_payment": "2026-11-25 12:00:00", "subject": "云南小粒咖啡 x2"}
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def signed_form(keys, fields, *, drop_empty=False, signing_pem=None, sign_type="RSA2") -> bytes:
    """A notification as Alipay posts it, signed here independently of the mall's code."""
    covered = {k: v for k, v in fields.items() if not (drop_empty and v == "")}
    content = "&".join(f"{k}={covered[k]}" for k in sorted(covered))
    sign = sign_rsa(signing_pem or keys.alipay.alipay_private_key_pem, content.encode())
    return urlencode({**fields, "sign_type": sign_type, "sign": sign}).encode()


@pytest.fixture
def ali(keys):
    return alipay(keys)


def rejection(ali, body) -> NotificationRejected:
    with pytest.raises(NotificationRejected) as caught:
        ali.parse_notification({"Content-Type": "application/x-www-form-urlencoded"}, body)
    return caught.value


# --- genuine notifications --------------------------------------------------------------------

def test_a_genuine_payment_notification_is_verified_and_parsed(keys, ali):
    note = ali.parse_notification({}, signed_form(keys, payment_fields(keys)))
    assert (note.provider, note.event_id, note.kind, note.out_trade_no, note.status) == \
        ("alipay", "ac05099524730693a8b330c5ecf72da9786", "PAYMENT", "ORDER0001", "PAID")
    assert (note.amount_total, note.transaction_id, note.payer_id) == (1230, "2026112522001400000000000001",
                                                                     "2088102122524333")
    assert (note.app_id, note.merchant_id) == (keys.alipay.app_id, keys.alipay.seller_id)
    assert note.paid_at == dt.datetime(2026, 11, 25, 12, 0, tzinfo=BEIJING)
    assert note.raw["subject"] == "云南小粒咖啡 x2"


@pytest.mark.parametrize("yuan, fen", [("12.30", 1230), ("0.01", 1), ("12.3", 1230), ("100000.00", 10000000),
                                       ("0.10", 10), ("19.99", 1999)])
def test_yuan_become_fen_exactly(keys, ali, yuan, fen):
    assert ali.parse_notification({}, signed_form(keys, payment_fields(keys, total_amount=yuan))).amount_total == fen


@pytest.mark.parametrize("trade_status, status", [("TRADE_SUCCESS", "PAID"), ("TRADE_FINISHED", "PAID"),
                                                  ("WAIT_BUYER_PAY", "NOT_PAID"), ("TRADE_CLOSED", "CLOSED")])
def test_each_trade_status_maps_to_a_mall_status(keys, ali, trade_status, status):
    body = signed_form(keys, payment_fields(keys, trade_status=trade_status))
    assert ali.parse_notification({}, body).status == status


def test_a_refund_notification_is_a_refund(keys, ali):
    fields = payment_fields(keys, notify_id="refund-notify-1", out_biz_no="RF0001", refund_fee="2.30",
                            gmt_refund="2026-11-25 13:00:00.123")
    note = ali.parse_notification({}, signed_form(keys, fields))
    assert (note.kind, note.status, note.out_refund_no, note.refund_amount) == ("REFUND", "SUCCESS", "RF0001", 230)
    assert note.paid_at == dt.datetime(2026, 11, 25, 13, 0, 0, 123000, tzinfo=BEIJING)
    assert note.amount_total == 1230 and note.event_id == "refund-notify-1"


def test_values_are_url_decoded_before_verifying(keys, ali):
    fields = payment_fields(keys, subject="咖啡 A&B=C+1 100%", body="a=b&c")
    note = ali.parse_notification({}, signed_form(keys, fields))
    assert (note.raw["subject"], note.raw["body"]) == ("咖啡 A&B=C+1 100%", "a=b&c")


def test_empty_values_are_part_of_what_alipay_signed(keys, ali):
    fields = payment_fields(keys, passback_params="", body="")
    assert ali.parse_notification({}, signed_form(keys, fields)).status == "PAID"
    assert rejection(ali, signed_form(keys, fields, drop_empty=True)).reason == "BAD_SIGNATURE"


def test_headers_do_not_matter(keys, ali):
    body = signed_form(keys, payment_fields(keys))
    assert ali.parse_notification({"X-Anything": "1"}, body) == ali.parse_notification({}, body)


# --- rejections ------------------------------------------------------------------------------------

def tampered(body: bytes, name: str, value: str) -> bytes:
    fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
    fields[name] = value
    return urlencode(fields).encode()


@pytest.mark.parametrize("name, value", [("total_amount", "0.01"), ("out_trade_no", "ORDER0002"),
                                         ("trade_status", "TRADE_CLOSED"), ("seller_id", "2088000000000000"),
                                         ("notify_id", "another"), ("extra_field", "x")])
def test_a_changed_field_is_a_bad_signature(keys, ali, name, value):
    body = tampered(signed_form(keys, payment_fields(keys)), name, value)
    assert rejection(ali, body).reason == "BAD_SIGNATURE"


def test_a_signature_by_another_key_is_rejected(keys, ali, other_key_pem):
    assert rejection(ali, signed_form(keys, payment_fields(keys), signing_pem=other_key_pem)).reason == "BAD_SIGNATURE"


@pytest.mark.parametrize("sign", ["", "not base64!", "c2lnbmF0dXJl"])
def test_a_missing_empty_or_garbage_sign_is_rejected(keys, ali, sign):
    body = tampered(signed_form(keys, payment_fields(keys)), "sign", sign)
    assert rejection(ali, body).reason == "BAD_SIGNATURE"


def test_an_unsigned_form_is_rejected(keys, ali):
    assert rejection(ali, urlencode(payment_fields(keys)).encode()).reason == "BAD_SIGNATURE"


def test_rsa_with_sha1_is_not_accepted(keys, ali):
    assert rejection(ali, signed_form(keys, payment_fields(keys), sign_type="RSA")).reason == "BAD_SIGNATURE"


@pytest.mark.parametrize("body", [b"", b"\xff\xfe=1", b"subject=%FF%FE&a=1", b"novalue", b"a=1&&b=2", b"a=1&a=2",
                                  b"=1"])
def test_a_body_that_is_not_a_utf8_form_of_distinct_fields_is_malformed(ali, body):
    assert rejection(ali, body).reason == "MALFORMED"


@pytest.mark.parametrize("changes", [{"total_amount": "12.345"}, {"total_amount": "-1.00"}, {"total_amount": "abc"},
                                     {"total_amount": "1e3"}, {"total_amount": "012.30"}, {"total_amount": " 12.30"},
                                     {"total_amount": None}, {"total_amount": ""}, {"notify_id": None},
                                     {"out_trade_no": None}, {"app_id": ""}, {"trade_status": "TRADE_PAID"},
                                     {"trade_status": None}, {"gmt_payment": "2026/11/25 12:00"},
                                     {"gmt_payment": "2026-13-45 12:00:00"}, {"charset": "gbk"},
                                     {"out_biz_no": "RF1", "refund_fee": "2.3.0"}])
def test_a_genuine_signature_over_unusable_fields_is_malformed(keys, ali, changes):
    assert rejection(ali, signed_form(keys, payment_fields(keys, **changes))).reason == "MALFORMED"


# --- webhook replies ----------------------------------------------------------------------------------

def test_accepting_is_the_seven_characters_success(ali):
    assert ali.accept_reply() == (200, "success", "text/plain")


def test_rejecting_is_anything_else_so_alipay_retries(ali):
    status, body, _ = ali.reject_reply("BAD_SIGNATURE", "signature mismatch")
    assert status == 200 and body == "fail"


# --- python-alipay-sdk as an oracle ------------------------------------------------------------------

def sdk_verifies(keys, body: bytes) -> bool:
    sdk = SdkAliPay(appid=keys.alipay.app_id, app_notify_url=None,
                    app_private_key_string=keys.alipay.app_private_key_pem,
                    alipay_public_key_string=keys.alipay.alipay_public_key_pem(), sign_type="RSA2")
    data = dict(parse_qsl(body.decode(), keep_blank_values=True))
    signature = data.pop("sign", "")
    try:
        return sdk.verify(data, signature)
    except Exception:  # the SDK raises on what it cannot read (e.g. base64 padding): a rejection
        return False


def oracle_cases(keys, other_key_pem) -> dict[str, bytes]:
    genuine = signed_form(keys, payment_fields(keys))
    with_empty = payment_fields(keys, passback_params="")
    return {
        "genuine": genuine,
        "genuine refund": signed_form(keys, payment_fields(keys, out_biz_no="RF1", refund_fee="2.30",
                                                          gmt_refund="2026-11-25 13:00:00")),
        "genuine with escapes": signed_form(keys, payment_fields(keys, subject="咖啡 A&B=C+1 100%")),
        "empty value signed": signed_form(keys, with_empty),
        "empty value left out of the signature": signed_form(keys, with_empty, drop_empty=True),
        "amount changed": tampered(genuine, "total_amount", "0.01"),
        "field added": tampered(genuine, "refund_fee", "12.30"),
        "other key": signed_form(keys, payment_fields(keys), signing_pem=other_key_pem),
        "garbage sign": tampered(genuine, "sign", "c2lnbmF0dXJl"),
    }


ORACLE_CASES = ["genuine", "genuine refund", "genuine with escapes", "empty value signed",
                "empty value left out of the signature", "amount changed", "field added", "other key", "garbage sign"]


@pytest.mark.parametrize("case", ORACLE_CASES)
def test_our_verifier_and_the_sdk_agree(keys, ali, other_key_pem, case):
    body = oracle_cases(keys, other_key_pem)[case]
    sdk_accepts = sdk_verifies(keys, body)
    try:
        ali.parse_notification({}, body)
        ours = True
    except NotificationRejected as rejected:
        assert rejected.reason == "BAD_SIGNATURE"
        ours = False
    assert ours == sdk_accepts, f"{case}: we {'accepted' if ours else 'rejected'}, the SDK did not"
    assert ours == case.startswith("genuine") or case == "empty value signed"
