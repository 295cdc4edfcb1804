"""Refunds that always finish: every refund stays under reconciliation until final, failures have a way out
(REFUND_FAILED and a retry under a new number), only the buyer's own refund finishes REFUNDING, and the
reconciler backs off, gives up, and is never stopped by one entry."""
from __future__ import annotations

import json

import pytest

from tests.checkout.conftest import stock_of
from tests.conftest import staff_token


def twin(name: str):
    from chalicelib.payments.providers import sandbox

    return sandbox.twin(name)


def notify(client, headers, body: bytes, provider: str = "wechat"):
    response = client._client.http.request("POST", f"/payments/{provider}/notify", headers=headers, body=body)
    assert response.status_code in (200, 204), response.body
    return response


def order_of(order_id: str):
    from chalicelib.checkout.orders import load_order

    return load_order(order_id)


def refunds_of(order_id: str) -> list[tuple[str, int, str]]:
    return [(r.out_refund_no, int(r.amount), r.status) for r in order_of(order_id).refunds]


def reconcile():
    from chalicelib.payments import service

    return service.reconcile()


def metrics_emitted(capsys) -> list[tuple[str, dict[str, str]]]:
    """The embedded-metric-format lines printed so far: (metric name, dimensions)."""
    found = []
    for line in capsys.readouterr().out.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if not isinstance(document, dict) or "_aws" not in document:
            continue
        for directive in document["_aws"]["CloudWatchMetrics"]:
            names = [dimension for group in directive["Dimensions"] for dimension in group]
            for metric in directive["Metrics"]:
                found.append((metric["Name"], {name: document[name] for name in names if name != "service"}))
    return found


def paid(shop, buyer, client, *, provider="wechat", quantity=1, stock=5):
    sku = shop.sku(stock=stock)
    order = buyer.placed({sku: quantity})
    if provider == "wechat":
        buyer.api.post("/payments/sandbox/pay", {"order_id": order["order_id"]})
    else:
        notify(client, *twin("alipay").build_payment_notification(order["order_id"], order["payable"]), "alipay")
    assert order_of(order["order_id"]).status == "PAID"
    return sku, order


def approved(buyer, staff, order_id: str, *, provider="wechat", outcome: str | None = None):
    if outcome is not None:
        twin(provider).script_refunds(order_id, outcome)
    buyer.api.post(f"/orders/{order_id}/refund", {"reason": "拍错了"})
    response = staff.post(f"/admin/orders/{order_id}/refund/approve")
    assert response.status_code == 200, response.data
    return response.data


# --- defect 1: an accepted refund is followed until it is final -------------------------------

def test_a_refund_whose_notification_was_lost_is_settled_by_the_reconciler(client, shop, alice, staff, frozen_clock):
    sku, order = paid(shop, alice, client)
    assert approved(alice, staff, order["order_id"], outcome="LOST")["status"] == "REFUNDING"
    frozen_clock.advance(181)
    report = reconcile()
    assert report.refunds_settled == 1, report
    assert order_of(order["order_id"]).status == "REFUNDED", "the refund query found the success"
    assert stock_of(sku) == {"available": 5, "reserved": 0, "sold": 0}
    frozen_clock.advance(days=3)
    assert reconcile().checked == 0, "a final refund is not asked about again"


def test_alipays_synchronous_refund_success_settles_at_once(client, shop, alice, staff, capsys):
    _, order = paid(shop, alice, client, provider="alipay")
    view = approved(alice, staff, order["order_id"], provider="alipay", outcome="LOST")
    assert view["status"] == "REFUNDED", "Alipay answered SUCCESS synchronously; no notification is needed"
    assert [(r["out_refund_no"], r["status"]) for r in view["refunds"]] == [(f"{order['order_id']}-R1", "SUCCESS")]
    assert ("RefundIssued", {"provider": "alipay"}) in metrics_emitted(capsys)


# --- defect 2: REFUND_FAILED, and a retry under a new number ----------------------------------

@pytest.mark.parametrize("outcome", ["CLOSED", "ABNORMAL"])
def test_a_failed_refund_fails_the_order_and_a_retry_uses_a_new_number(client, shop, alice, staff, capsys, outcome):
    sku, order = paid(shop, alice, client, quantity=2)
    order_id = order["order_id"]
    view = approved(alice, staff, order_id, outcome=outcome)
    assert view["status"] == "REFUND_FAILED", f"REFUND.{outcome} must not leave the order REFUNDING"
    assert ("RefundFailed", {"provider": "wechat", "reason": outcome}) in metrics_emitted(capsys)
    assert stock_of(sku)["sold"] == 2, "nothing is returned while the money is not"
    retried = staff.post(f"/admin/orders/{order_id}/refund/retry")
    assert retried.status_code == 200, retried.data
    assert retried.data["status"] == "REFUNDED"
    assert refunds_of(order_id) == [(f"{order_id}-R1", order["payable"], outcome),
                                    (f"{order_id}-R2", order["payable"], "SUCCESS")]
    assert stock_of(sku) == {"available": 5, "reserved": 0, "sold": 0}
    assert staff.post(f"/admin/orders/{order_id}/refund/retry").status_code == 409, "nothing failed waits any more"


def test_retry_needs_a_failed_refund(client, shop, alice, staff):
    _, order = paid(shop, alice, client)
    response = staff.post(f"/admin/orders/{order['order_id']}/refund/retry")
    assert response.status_code == 409 and response.data["error"]["code"] == "INVALID_ORDER_STATUS"
    assert alice.api.post(f"/admin/orders/{order['order_id']}/refund/retry").status_code == 403


# --- defect 3: a wrong amount is returned, not kept -----------------------------------------------

def test_a_payment_of_the_wrong_amount_is_returned_automatically(client, shop, alice, staff):
    sku = shop.sku(stock=5)
    order = alice.placed({sku: 1})
    order_id = order["order_id"]
    headers, body = twin("wechat").build_payment_notification(order_id, order["payable"] - 1, "openid-alice")
    notify(client, headers, body)
    notify(client, headers, body)
    assert order_of(order_id).status == "PENDING_PAYMENT" and stock_of(sku)["sold"] == 0
    [(number, amount, status)] = refunds_of(order_id)
    assert (number.startswith(f"{order_id}-L"), amount, status) == (True, order["payable"] - 1, "SUCCESS"), \
        "the whole wrong payment goes back, once"
    assert [a["code"] for a in staff.get("/admin/payments/anomalies").data["items"]] == ["AMOUNT_MISMATCH"]


# --- defect 4: only the buyer's own refund finishes REFUNDING ----------------------------------

def test_a_returned_payment_succeeding_does_not_finish_the_buyers_refund(client, shop, alice, staff):
    sku, order = paid(shop, alice, client)
    order_id = order["order_id"]
    assert approved(alice, staff, order_id, outcome="PENDING")["status"] == "REFUNDING"
    # meanwhile the buyer paid a second time with Alipay: that payment is returned at once
    notify(client, *twin("alipay").build_payment_notification(order_id, order["payable"]), "alipay")
    after = order_of(order_id)
    assert after.status == "REFUNDING", "the buyer's own refund has not finished"
    assert [(r.kind, r.status) for r in after.refunds] == [("BUYER", "PROCESSING"), ("RETURN", "SUCCESS")]
    assert stock_of(sku)["sold"] == 1, "stock comes back with the buyer's refund, not with the returned payment"


# --- defect 5: each refund goes to its own provider, for its own trade ---------------------------

def test_pending_refunds_are_resubmitted_to_their_own_provider_for_their_own_trade(client, shop, alice, staff):
    _, order = paid(shop, alice, client)
    order_id = order["order_id"]
    twin("alipay").script_refunds(order_id, "DOWN")
    notify(client, *twin("alipay").build_payment_notification(order_id, order["payable"]), "alipay")
    [(returned, _, status)] = refunds_of(order_id)
    assert status == "PROCESSING", "Alipay was down: the returned payment waits"
    approved(alice, staff, order_id, outcome="PENDING")
    again = staff.post(f"/admin/orders/{order_id}/refund/approve")
    assert again.status_code == 200
    statuses = dict((number, status) for number, _, status in refunds_of(order_id))
    assert statuses == {returned: "SUCCESS", f"{order_id}-R1": "PROCESSING"}, \
        "the returned Alipay payment is refunded by Alipay, not sent to WeChat Pay"


# --- defect 7: the reconciler isolates entries, backs off, gives up, and counts it ---------------

def test_one_failing_entry_does_not_stop_the_reconciler(shop, alice, frozen_clock, monkeypatch):
    from chalicelib.payments.providers.wechatpay import WeChatPay

    orders = [alice.placed({shop.sku(): 1}) for _ in range(2)]
    for order in orders:
        alice.api.post("/payments/prepay", {"order_id": order["order_id"]})
        twin("wechat").build_payment_notification(order["order_id"], order["payable"], "openid-alice")
    broken = orders[0]["order_id"]
    real_query = WeChatPay.query

    def query(self, out_trade_no):
        if out_trade_no == broken:
            raise RuntimeError("an answer the mall cannot read")
        return real_query(self, out_trade_no)

    monkeypatch.setattr(WeChatPay, "query", query)
    frozen_clock.advance(181)
    report = reconcile()
    assert (report.checked, report.failed, report.applied) == (2, 1, 1), report
    assert order_of(orders[1]["order_id"]).status == "PAID"
    monkeypatch.setattr(WeChatPay, "query", real_query)
    assert reconcile().checked == 0, "the failed entry backed off"
    frozen_clock.advance(301)
    assert reconcile().applied == 1 and order_of(broken).status == "PAID"


def test_refund_retries_back_off_and_give_up_counted(client, shop, alice, staff, frozen_clock, capsys):
    from chalicelib.payments import ledger

    _, order = paid(shop, alice, client)
    order_id = order["order_id"]
    twin("wechat").script_refunds(order_id, *["DOWN"] * (1 + ledger.REFUND_LOOKS))
    assert approved(alice, staff, order_id)["status"] == "REFUNDING"
    frozen_clock.advance(181)
    assert reconcile().refunds_resubmitted == 1
    frozen_clock.advance(1)
    assert reconcile().checked == 0, "the next look waits for the backoff"
    looks_before_giving_up = 1
    while order_of(order_id).status == "REFUNDING":
        frozen_clock.advance(hours=6, seconds=1)
        assert reconcile().checked == 1
        looks_before_giving_up += 1
        assert looks_before_giving_up <= ledger.REFUND_LOOKS + 1, "retries must stop"
    assert looks_before_giving_up == ledger.REFUND_LOOKS + 1
    assert order_of(order_id).status == "REFUND_FAILED"
    assert refunds_of(order_id) == [(f"{order_id}-R1", order["payable"], "FAILED")]
    assert ("RefundFailed", {"provider": "wechat", "reason": "GAVE_UP"}) in metrics_emitted(capsys)
    frozen_clock.advance(days=7)
    assert reconcile().checked == 0, "a given-up refund is out of reconciliation"
    fresh = staff.as_token(staff_token("cashier", "operator"))  # a week later: the morning's token has expired
    retried = fresh.post(f"/admin/orders/{order_id}/refund/retry")
    assert retried.status_code == 200 and retried.data["status"] == "REFUNDED", retried.data


def test_backoff_doubles_and_is_capped():
    from datetime import timedelta

    from chalicelib.payments.ledger import refund_delay

    assert [refund_delay(n) for n in (1, 2, 3)] == [timedelta(minutes=3), timedelta(minutes=6), timedelta(minutes=12)]
    assert refund_delay(30) == timedelta(hours=6)
