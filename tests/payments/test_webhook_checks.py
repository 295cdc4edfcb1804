"""What a genuine notification must also say before the mall applies it: whom it is for (app and merchant,
never missing), the currency, and for a refund the amounts the mall asked for."""
from __future__ import annotations

import json

import pytest

from tests.checkout.conftest import stock_of
from tests.payments.conftest import encrypted_resource, notification_body, transaction, wechat_headers
from tests.payments.test_refund_lifecycle import approved, order_of, paid, twin


def post(client, headers, body: bytes, provider: str = "wechat"):
    return client._client.http.request("POST", f"/payments/{provider}/notify", headers=headers, body=body)


def signed(keys, resource: dict, *, event_type="TRANSACTION.SUCCESS", original_type="transaction"):
    body = notification_body(encrypted_resource(keys.wechatpay.apiv3_key, json.dumps(resource).encode(),
                                                associated_data=original_type), event_type=event_type)
    headers = wechat_headers(body, keys.wechatpay.platform_private_key_pem, keys.wechatpay.platform_serial)
    return {**headers, "Content-Type": "application/json"}, body


def anomaly_codes(staff) -> list[str]:
    return [a["code"] for a in staff.get("/admin/payments/anomalies").data["items"]]


@pytest.mark.parametrize("missing", ["appid", "mchid"])
def test_a_wechat_payment_that_does_not_say_whom_it_is_for_is_refused(client, shop, alice, staff, keys, missing):
    sku = shop.sku(stock=3)
    order = alice.placed({sku: 1})
    resource = transaction(keys, out_trade_no=order["order_id"],
                           amount={"total": order["payable"], "payer_total": order["payable"], "currency": "CNY"})
    del resource[missing]
    response = post(client, *signed(keys, resource))
    assert response.status_code == 400 and json.loads(response.body)["code"] == "FAIL"
    assert order_of(order["order_id"]).status == "PENDING_PAYMENT" and stock_of(sku)["sold"] == 0
    assert anomaly_codes(staff) == ["MERCHANT_MISMATCH"]


@pytest.mark.parametrize("missing", ["app_id", "seller_id"])
def test_an_alipay_payment_that_does_not_say_whom_it_is_for_is_refused(client, shop, alice, staff, missing):
    order = alice.placed({shop.sku(): 1})
    headers, body = twin("alipay").build_payment_notification(order["order_id"], order["payable"],
                                                              extra={missing: ""})
    assert post(client, headers, body, "alipay").body == b"fail"
    assert order_of(order["order_id"]).status == "PENDING_PAYMENT"
    # without app_id the form is malformed (refused before it is read); without seller_id it is not ours
    assert anomaly_codes(staff) == ([] if missing == "app_id" else ["MERCHANT_MISMATCH"])


@pytest.mark.parametrize("currency", ["USD", None])
def test_a_payment_in_another_currency_is_refused(client, shop, alice, staff, keys, currency):
    order = alice.placed({shop.sku(): 1})
    amount = {"total": order["payable"], "payer_total": order["payable"]}
    if currency:
        amount["currency"] = currency
    response = post(client, *signed(keys, transaction(keys, out_trade_no=order["order_id"], amount=amount)))
    assert response.status_code == 400 and json.loads(response.body)["code"] == "FAIL"
    assert order_of(order["order_id"]).status == "PENDING_PAYMENT"
    assert anomaly_codes(staff) == ["CURRENCY_MISMATCH"]


def test_an_alipay_payment_in_another_currency_is_refused(client, shop, alice):
    order = alice.placed({shop.sku(): 1})
    headers, body = twin("alipay").build_payment_notification(order["order_id"], order["payable"],
                                                              extra={"trans_currency": "USD"})
    assert post(client, headers, body, "alipay").body == b"fail"
    assert order_of(order["order_id"]).status == "PENDING_PAYMENT"


@pytest.mark.parametrize("change", ["refund", "total"])
def test_a_refund_notification_for_other_amounts_is_refused(client, shop, alice, staff, keys, change):
    _, order = paid(shop, alice, client)
    order_id, payable = order["order_id"], order["payable"]
    approved(alice, staff, order_id, outcome="PENDING")
    amount = {"total": payable, "refund": payable, "payer_total": payable, "payer_refund": payable}
    amount[change] -= 1
    resource = {"mchid": keys.wechatpay.mchid, "out_trade_no": order_id, "transaction_id": "4200000000000000000001",
                "refund_id": "50300000000000000000000000001", "out_refund_no": f"{order_id}-R1",
                "refund_status": "SUCCESS", "success_time": "2026-11-25T12:30:00+08:00", "amount": amount}
    response = post(client, *signed(keys, resource, event_type="REFUND.SUCCESS", original_type="refund"))
    assert response.status_code == 400 and json.loads(response.body)["code"] == "FAIL"
    assert order_of(order_id).status == "REFUNDING"
    assert anomaly_codes(staff) == ["REFUND_AMOUNT_MISMATCH"]
