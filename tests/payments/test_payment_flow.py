"""Applying payments and refunds exactly once, through the real webhook and the sandbox twins."""
from __future__ import annotations

import json

import pytest

from tests.cart.conftest import Shop
from tests.checkout.conftest import Buyer, stock_of
from tests.conftest import staff_token


@pytest.fixture
def shop(app) -> Shop:
    return Shop()


def logged_in(client, name: str) -> Buyer:
    """A buyer who logged in through the sandbox WeChat (prepay needs the openid login stored)."""
    from chalicelib.members import service as members

    return Buyer(client, members.login(f"dev:{name}").user.user_id)


@pytest.fixture
def alice(client) -> Buyer:
    return logged_in(client, "alice")


@pytest.fixture
def bob(client) -> Buyer:
    return logged_in(client, "bob")


@pytest.fixture
def staff(client):
    from chalicelib.admin import service
    from chalicelib.admin.passwords import ScryptCost

    service.create_staff("cashier", "cashier-password", "operator", cost=ScryptCost(n=2**4, r=8, p=1))
    service.update_staff("cashier", grants=["refunds.decide"])  # an operator decides refunds only when granted
    return client.as_token(staff_token("cashier", "operator"))


def wechat():
    from chalicelib.payments.providers import sandbox

    return sandbox.twin("wechat")


def notify(client, headers, body: bytes, path: str = "/payments/wechat/notify"):
    """POST as the provider does: its headers only, the raw body; replies may be JSON, text or empty."""
    response = client._client.http.request("POST", path, headers=headers, body=body)
    is_json = response.body and response.headers.get("Content-Type", "").startswith("application/json")
    response.data = json.loads(response.body) if is_json else None
    return response


def order_of(order_id: str):
    from chalicelib.checkout.orders import load_order

    return load_order(order_id)


def ledger_keys(prefix: str) -> list[str]:
    from chalicelib.payments.models import LedgerEntry

    return sorted(entry.entry_key for entry in LedgerEntry.scan() if entry.entry_key.startswith(prefix))


# --- paying -----------------------------------------------------------------------------

def test_sandbox_pay_moves_the_order_to_paid_and_sells_the_stock(shop, alice):
    sku = shop.sku(price=3000, stock=5)
    order = alice.placed({sku: 2})
    response = alice.api.post("/payments/sandbox/pay", {"order_id": order["order_id"]})
    assert response.status_code == 200, response.data
    assert response.data["status"] == "PAID"
    assert response.data["payment"]["provider"] == "wechat" and response.data["payment"]["amount"] == order["payable"]
    assert stock_of(sku) == {"available": 3, "reserved": 0, "sold": 2}


def test_sandbox_pay_refuses_paid_and_foreign_orders(shop, alice, bob):
    order = alice.placed({shop.sku(): 1})
    assert bob.api.post("/payments/sandbox/pay", {"order_id": order["order_id"]}).status_code == 404
    alice.api.post("/payments/sandbox/pay", {"order_id": order["order_id"]})
    again = alice.api.post("/payments/sandbox/pay", {"order_id": order["order_id"]})
    assert again.status_code == 409 and again.data["error"]["code"] == "ORDER_NOT_PAYABLE"


def test_sandbox_pay_is_404_against_live_providers(shop, alice, monkeypatch):
    order = alice.placed({shop.sku(): 1})
    monkeypatch.setenv("MALL_PROVIDERS", "live")
    response = alice.api.post("/payments/sandbox/pay", {"order_id": order["order_id"]})
    assert response.status_code == 404
    assert order_of(order["order_id"]).status == "PENDING_PAYMENT"


def test_prepay_gives_signed_request_payment_parameters(shop, alice, keys):
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    order = alice.placed({shop.sku(): 1})
    response = alice.api.post("/payments/prepay", {"order_id": order["order_id"], "provider": "wechat"})
    assert response.status_code == 200, response.data
    params = response.data
    assert params["appId"] == keys.wechatpay.appid and params["package"].startswith("prepay_id=")
    signed = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
    public = serialization.load_pem_private_key(keys.wechatpay.merchant_private_key_pem.encode(), None).public_key()
    public.verify(base64.b64decode(params["paySign"]), signed, padding.PKCS1v15(), hashes.SHA256())


def test_prepay_refuses_orders_that_cannot_be_paid(shop, alice, bob):
    order = alice.placed({shop.sku(): 1})
    assert bob.api.post("/payments/prepay", {"order_id": order["order_id"]}).status_code == 404
    alice.api.post(f"/orders/{order['order_id']}/cancel")
    cancelled = alice.api.post("/payments/prepay", {"order_id": order["order_id"]})
    assert cancelled.status_code == 409 and cancelled.data["error"]["code"] == "ORDER_NOT_PAYABLE"
    assert alice.api.post("/payments/prepay", {"order_id": order["order_id"], "provider": "paypal"}).status_code == 400


def test_the_same_notification_twice_applies_once(client, shop, alice):
    sku = shop.sku(stock=5)
    order = alice.placed({sku: 1})
    headers, body = wechat().build_payment_notification(order["order_id"], order["payable"], "openid-alice")
    first, second = notify(client, headers, body), notify(client, headers, body)
    assert (first.status_code, second.status_code) == (204, 204)
    assert stock_of(sku) == {"available": 4, "reserved": 0, "sold": 1}
    assert len(ledger_keys("EVENT#")) == 1 and ledger_keys("PAID#") == [f"PAID#{order['order_id']}"]


def test_a_duplicate_never_moves_a_shipped_order_back(client, shop, alice, staff):
    order = alice.placed({shop.sku(): 1})
    headers, body = wechat().build_payment_notification(order["order_id"], order["payable"], "openid-alice")
    notify(client, headers, body)
    staff.post(f"/admin/orders/{order['order_id']}/ship", {"carrier": "顺丰", "tracking_no": "SF9"})
    assert notify(client, headers, body).status_code == 204
    assert order_of(order["order_id"]).status == "SHIPPED"


def test_amount_mismatch_is_not_paid_and_is_shown_to_the_merchant(client, shop, alice, staff):
    sku = shop.sku(stock=5)
    order = alice.placed({sku: 1})
    headers, body = wechat().build_payment_notification(order["order_id"], order["payable"] - 1, "openid-alice")
    response = notify(client, headers, body)
    assert response.status_code == 204, "acknowledged: a retry cannot fix it, the merchant must look"
    assert order_of(order["order_id"]).status == "PENDING_PAYMENT"
    assert stock_of(sku)["sold"] == 0
    notify(client, headers, body)
    anomalies = staff.get("/admin/payments/anomalies").data["items"]
    assert [(a["code"], a["order_id"], a["amount"]) for a in anomalies] == [
        ("AMOUNT_MISMATCH", order["order_id"], order["payable"] - 1)], "recorded once though delivered twice"


def test_unknown_order_is_refused_and_recorded(client, staff):
    headers, body = wechat().build_payment_notification("01ARZ3NDEKTSV4RRFFQ69G5FAV", 100, "openid-x")
    response = notify(client, headers, body)
    assert response.status_code == 404 and response.data["code"] == "FAIL"
    assert [a["code"] for a in staff.get("/admin/payments/anomalies").data["items"]] == ["UNKNOWN_ORDER"]


def test_forged_notification_is_refused_and_changes_nothing(client, shop, alice):
    order = alice.placed({shop.sku(): 1})
    headers, body = wechat().build_payment_notification(order["order_id"], order["payable"], "openid-alice")
    tampered = body.replace(b'"TRANSACTION.SUCCESS"', b'"TRANSACTION.SUCCESS" ')
    response = notify(client, headers, tampered)
    assert response.status_code == 401 and response.data["code"] == "FAIL"
    assert order_of(order["order_id"]).status == "PENDING_PAYMENT"
    assert ledger_keys("") == []


def test_a_payment_racing_the_sweeper_that_lost_is_refunded(client, shop, alice, frozen_clock):
    """The sweeper cancelled first: the late payment is recorded, refunded in full, and stock is not taken again."""
    from chalicelib.checkout import sweeper

    sku = shop.sku(stock=5)
    order = alice.placed({sku: 2})
    frozen_clock.advance(901)
    assert sweeper.sweep_due_orders().expired == 1
    headers, body = wechat().build_payment_notification(order["order_id"], order["payable"], "openid-alice")
    assert notify(client, headers, body).status_code == 204
    late = order_of(order["order_id"])
    assert late.status == "CANCELLED" and late.payment is None
    assert [(r.amount, r.status) for r in late.refunds] == [(order["payable"], "SUCCESS")], \
        "the sandbox confirms the refund at once"
    assert stock_of(sku) == {"available": 5, "reserved": 0, "sold": 0}
    assert notify(client, headers, body).status_code == 204
    assert len(order_of(order["order_id"]).refunds) == 1, "a replay must not refund twice"


def test_a_second_payment_for_a_paid_order_is_refunded(client, shop, alice):
    from chalicelib.payments.providers import sandbox

    order = alice.placed({shop.sku(): 1})
    alice.api.post("/payments/sandbox/pay", {"order_id": order["order_id"]})
    # the buyer paid again through Alipay
    headers, body = sandbox.twin("alipay").build_payment_notification(order["order_id"], order["payable"])
    response = notify(client, headers, body, "/payments/alipay/notify")
    assert response.status_code == 200 and response.body == b"success"
    paid = order_of(order["order_id"])
    assert paid.status == "PAID" and paid.payment.provider == "wechat"
    assert [r.amount for r in paid.refunds] == [order["payable"]]


def test_alipay_notification_pays_an_order(client, shop, alice):
    from chalicelib.payments.providers import sandbox

    sku = shop.sku(stock=2)
    order = alice.placed({sku: 1})
    headers, body = sandbox.twin("alipay").build_payment_notification(order["order_id"], order["payable"])
    response = notify(client, headers, body, "/payments/alipay/notify")
    assert response.status_code == 200 and response.body == b"success"
    assert order_of(order["order_id"]).payment.provider == "alipay"
    forged = body.replace(b"total_amount=", b"total_amount=1")
    refused = notify(client, headers, forged, "/payments/alipay/notify")
    assert refused.body == b"fail"


# --- refunds ----------------------------------------------------------------------------

def paid_order(shop, buyer, stock=5, quantity=1):
    sku = shop.sku(stock=stock)
    order = buyer.placed({sku: quantity})
    buyer.api.post("/payments/sandbox/pay", {"order_id": order["order_id"]})
    return sku, order["order_id"]


def test_approved_refund_of_an_unshipped_order_returns_the_stock(shop, alice, staff):
    sku, order_id = paid_order(shop, alice, quantity=2)
    alice.api.post(f"/orders/{order_id}/refund", {"reason": "拍错了"})
    response = staff.post(f"/admin/orders/{order_id}/refund/approve")
    assert response.status_code == 200, response.data
    assert response.data["status"] == "REFUNDED", "the sandbox confirms the refund while approving"
    assert [(r["out_refund_no"], r["status"]) for r in response.data["refunds"]] == [(f"{order_id}-R1", "SUCCESS")]
    assert response.data["refund_request"]["decision"] == "APPROVED"
    assert stock_of(sku) == {"available": 5, "reserved": 0, "sold": 0}


def test_refund_of_a_shipped_order_keeps_the_stock_sold(shop, alice, staff):
    sku, order_id = paid_order(shop, alice)
    staff.post(f"/admin/orders/{order_id}/ship", {"carrier": "顺丰", "tracking_no": "SF7"})
    alice.api.post(f"/orders/{order_id}/refund", {"reason": "坏了"})
    assert staff.post(f"/admin/orders/{order_id}/refund/approve").data["status"] == "REFUNDED"
    assert stock_of(sku) == {"available": 4, "reserved": 0, "sold": 1}


def test_approving_twice_refunds_once(shop, alice, staff):
    sku, order_id = paid_order(shop, alice)
    alice.api.post(f"/orders/{order_id}/refund", {"reason": "拍错了"})
    staff.post(f"/admin/orders/{order_id}/refund/approve")
    again = staff.post(f"/admin/orders/{order_id}/refund/approve")
    assert again.status_code == 200 and len(again.data["refunds"]) == 1
    assert stock_of(sku)["available"] == 5


def test_refund_notification_delivered_twice_refunds_once(client, shop, alice, staff):
    sku, order_id = paid_order(shop, alice)
    alice.api.post(f"/orders/{order_id}/refund", {"reason": "拍错了"})
    staff.post(f"/admin/orders/{order_id}/refund/approve")
    headers, body = wechat().build_refund_notification(order_id, f"{order_id}-R1")
    assert notify(client, headers, body).status_code == 204
    assert stock_of(sku)["available"] == 5, "stock returned once, not twice"
    assert order_of(order_id).status == "REFUNDED"


def test_rejected_refund_returns_the_order_to_where_it_was(shop, alice, staff):
    _, order_id = paid_order(shop, alice)
    alice.api.post(f"/orders/{order_id}/refund", {"reason": "拍错了"})
    response = staff.post(f"/admin/orders/{order_id}/refund/reject", {"reason": "已发货"})
    assert response.status_code == 200 and response.data["status"] == "PAID"
    assert response.data["refund_request"]["decision"] == "REJECTED"
    assert staff.post(f"/admin/orders/{order_id}/refund/approve").status_code == 409


def test_refund_decisions_need_a_waiting_request(shop, alice, staff):
    _, order_id = paid_order(shop, alice)
    assert staff.post(f"/admin/orders/{order_id}/refund/approve").status_code == 409
    assert staff.post(f"/admin/orders/{order_id}/refund/reject", {"reason": "x"}).status_code == 409
    assert staff.post(f"/admin/orders/{order_id}/refund/reject", {}).status_code == 400


# --- reconciliation -----------------------------------------------------------------------

def test_reconciliation_applies_a_payment_whose_notification_never_came(shop, alice, frozen_clock):
    from chalicelib.payments import service

    sku = shop.sku(stock=3)
    order = alice.placed({sku: 1})
    alice.api.post("/payments/prepay", {"order_id": order["order_id"]})
    wechat().build_payment_notification(order["order_id"], order["payable"], "openid-alice")  # paid; never delivered
    assert service.reconcile().checked == 0, "too early: the notification may still come"
    frozen_clock.advance(181)
    report = service.reconcile()
    assert (report.checked, report.applied) == (1, 1)
    assert order_of(order["order_id"]).status == "PAID"
    assert stock_of(sku)["sold"] == 1
    frozen_clock.advance(600)
    assert service.reconcile().checked == 0, "a settled order is not asked about again"


def test_reconciliation_keeps_asking_while_the_order_is_unpaid(shop, alice, frozen_clock):
    from chalicelib.payments import service

    order = alice.placed({shop.sku(): 1})
    alice.api.post("/payments/prepay", {"order_id": order["order_id"]})
    frozen_clock.advance(181)
    assert (service.reconcile().checked, order_of(order["order_id"]).status) == (1, "PENDING_PAYMENT")
    frozen_clock.advance(300)
    assert service.reconcile().checked == 1


def test_dynamodb_calls_per_notification_are_at_most_three(client, shop, alice, dynamodb_calls):
    order = alice.placed({shop.sku(): 1})
    headers, body = wechat().build_payment_notification(order["order_id"], order["payable"], "openid-alice")
    dynamodb_calls.clear()
    notify(client, headers, body)
    first = dynamodb_calls.counts()
    dynamodb_calls.clear()
    notify(client, headers, body)
    assert sum(first.values()) <= 3, first
    assert dynamodb_calls.counts() == {"GetItem": 1}, "a duplicate is one read"


def test_webhook_reply_bodies_follow_each_provider(client):
    wechat_reply = notify(client, {"Content-Type": "application/json"}, b"{}")
    assert wechat_reply.status_code == 400 and json.loads(wechat_reply.body)["code"] == "FAIL"
    alipay_reply = notify(client, {"Content-Type": "application/x-www-form-urlencoded"}, b"a=b",
                          "/payments/alipay/notify")
    assert alipay_reply.body == b"fail"


@pytest.mark.parametrize("field,value", [("appid", "wx-someone-else"), ("mchid", "1999999999")])
def test_notification_for_another_merchant_is_refused_and_recorded(client, shop, alice, staff, keys, field, value):
    from tests.payments.conftest import encrypted_resource, notification_body, transaction, wechat_headers

    order = alice.placed({shop.sku(): 1})
    resource = transaction(keys, out_trade_no=order["order_id"], amount={"total": order["payable"],
                                                                          "payer_total": order["payable"],
                                                                          "currency": "CNY"}, **{field: value})
    body = notification_body(encrypted_resource(keys.wechatpay.apiv3_key, json.dumps(resource).encode()))
    headers = wechat_headers(body, keys.wechatpay.platform_private_key_pem, keys.wechatpay.platform_serial)
    response = notify(client, {**headers, "Content-Type": "application/json"}, body)
    assert response.status_code == 400 and response.data["code"] == "FAIL"
    assert order_of(order["order_id"]).status == "PENDING_PAYMENT"
    assert [a["code"] for a in staff.get("/admin/payments/anomalies").data["items"]] == ["MERCHANT_MISMATCH"]


def test_genuine_notification_built_outside_the_sandbox_pays(client, shop, alice, keys):
    """The webhook accepts what WeChat Pay itself would send, signed and encrypted independently of our code."""
    from tests.payments.conftest import encrypted_resource, notification_body, transaction, wechat_headers

    order = alice.placed({shop.sku(): 1})
    resource = transaction(keys, out_trade_no=order["order_id"], amount={"total": order["payable"],
                                                                          "payer_total": order["payable"],
                                                                          "currency": "CNY"})
    body = notification_body(encrypted_resource(keys.wechatpay.apiv3_key, json.dumps(resource).encode()))
    headers = wechat_headers(body, keys.wechatpay.platform_private_key_pem, keys.wechatpay.platform_serial)
    assert notify(client, {**headers, "Content-Type": "application/json"}, body).status_code == 204
    assert order_of(order["order_id"]).payment.transaction_id == resource["transaction_id"]


def _forgeries(keys, order_id: str, payable: int):
    from chalicelib.core import clock
    from tests.payments.conftest import (
        encrypted_resource,
        new_key,
        notification_body,
        pem_of,
        transaction,
        wechat_headers,
    )

    wechat_keys = keys.wechatpay
    plaintext = json.dumps(transaction(keys, out_trade_no=order_id, amount={
        "total": payable, "payer_total": payable, "currency": "CNY"})).encode()
    body = notification_body(encrypted_resource(wechat_keys.apiv3_key, plaintext))
    signer, serial = wechat_keys.platform_private_key_pem, wechat_keys.platform_serial
    now = int(clock.timestamp())
    tampered = json.loads(body)
    tampered["resource"]["ciphertext"] = tampered["resource"]["ciphertext"][:-4] + "AAAA"
    tampered_body = json.dumps(tampered).encode()
    wrong_ad = notification_body(encrypted_resource(wechat_keys.apiv3_key, plaintext, associated_data="refund"))
    wrong_ad_claimed = json.loads(wrong_ad)
    wrong_ad_claimed["resource"]["associated_data"] = "transaction"
    wrong_ad_body = json.dumps(wrong_ad_claimed).encode()
    return {
        "bad_signature": (wechat_headers(body, pem_of(new_key()), serial), body),
        "unknown_serial": (wechat_headers(body, signer, "PUB_KEY_ID_0000000000000000000000000001"), body),
        "stale_timestamp": (wechat_headers(body, signer, serial, timestamp=now - 301), body),
        "future_timestamp": (wechat_headers(body, signer, serial, timestamp=now + 301), body),
        "tampered_ciphertext": (wechat_headers(tampered_body, signer, serial), tampered_body),
        "wrong_associated_data": (wechat_headers(wrong_ad_body, signer, serial), wrong_ad_body),
        "malformed_json": (wechat_headers(b"{not json", signer, serial), b"{not json"),
    }


@pytest.mark.parametrize("forgery", ["bad_signature", "unknown_serial", "stale_timestamp", "future_timestamp",
                                     "tampered_ciphertext", "wrong_associated_data", "malformed_json"])
def test_rejected_notifications_leave_the_order_unchanged(client, shop, alice, keys, forgery):
    sku = shop.sku(stock=3)
    order = alice.placed({sku: 1})
    headers, body = _forgeries(keys, order["order_id"], order["payable"])[forgery]
    response = notify(client, {**headers, "Content-Type": "application/json"}, body)
    assert 400 <= response.status_code < 500 and response.data["code"] == "FAIL", (response.status_code, response.body)
    assert order_of(order["order_id"]).status == "PENDING_PAYMENT"
    assert stock_of(sku) == {"available": 2, "reserved": 1, "sold": 0}
    assert ledger_keys("") == [], "nothing recorded for a request that is not a genuine notification"


def test_malformed_alipay_form_is_refused(client, shop, alice):
    order = alice.placed({shop.sku(): 1})
    for body in (b"%%%", b"out_trade_no=" + order["order_id"].encode() + b"&trade_status=TRADE_SUCCESS"):
        response = notify(client, {"Content-Type": "application/x-www-form-urlencoded"}, body,
                          "/payments/alipay/notify")
        assert response.body == b"fail"
    assert order_of(order["order_id"]).status == "PENDING_PAYMENT"


def test_alipay_prepay_gives_the_signed_wap_pay_url(shop, alice, keys):
    """The H5 storefront opens `pay_url`: alipay.trade.wap.pay for this order, signed with the app key."""
    from urllib.parse import parse_qsl, urlsplit

    from tests.payments.conftest import public_pem_of, verify_rsa

    order = alice.placed({shop.sku(price=1230): 1})
    response = alice.api.post("/payments/prepay", {"order_id": order["order_id"], "provider": "alipay"})
    assert response.status_code == 200, response.data
    assert set(response.data) == {"pay_url"}
    params = dict(parse_qsl(urlsplit(response.data["pay_url"]).query))
    assert (params["method"], params["app_id"]) == ("alipay.trade.wap.pay", keys.alipay.app_id)
    biz = json.loads(params["biz_content"])
    assert (biz["out_trade_no"], biz["product_code"]) == (order["order_id"], "QUICK_WAP_WAY")
    assert biz["total_amount"] == f"{order['payable'] // 100}.{order['payable'] % 100:02d}"
    content = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign")
    assert verify_rsa(public_pem_of(keys.alipay.app_private_key_pem), content.encode(), params["sign"])
    assert ledger_keys("PREPAY#") == [f"PREPAY#{order['order_id']}#alipay"], "the reconciler will ask Alipay"


def test_a_second_payment_at_the_other_provider_whose_notification_was_lost_is_found_and_returned(
        client, shop, alice, frozen_clock):
    """Found by the money state machine: the buyer opened both cashiers and paid both; Alipay's notification was
    lost and WeChat's paid the order. Each provider's trade is reconciled on its own, so the Alipay money is
    found and returned, not kept."""
    from chalicelib.payments import service
    from chalicelib.payments.providers import sandbox

    order = alice.placed({shop.sku(): 1})
    for provider in ("alipay", "wechat"):
        assert alice.api.post("/payments/prepay", {"order_id": order["order_id"], "provider": provider}).status_code == 200
    sandbox.twin("alipay").build_payment_notification(order["order_id"], order["payable"])  # lost
    notify(client, *wechat().build_payment_notification(order["order_id"], order["payable"], "openid-alice"))
    frozen_clock.advance(181)
    assert service.reconcile().applied == 1
    paid = order_of(order["order_id"])
    assert paid.status == "PAID" and paid.payment.provider == "wechat"
    assert [(r.kind, int(r.amount), r.status) for r in paid.refunds] == [("RETURN", order["payable"], "SUCCESS")]
    frozen_clock.advance(days=1)
    assert service.reconcile().checked == 0, "both trades are settled"
