"""The outbox from the orders stream, driven by real stream records and queue messages through the pump."""
from __future__ import annotations

import json

import boto3

from tests.notify.conftest import (
    PAID_TEMPLATE,
    enable_order_paid,
    notifications,
    paid_order,
    subscribe,
)


def redeliver_every_stream_record(app) -> None:
    """A second pump reads every stream from its start: each record reaches each handler again."""
    from infra.local.pump import EventPump

    EventPump(app, starting_position="TRIM_HORIZON").drain()


def send_queue_message_again(event_key: str) -> None:
    from chalicelib.core.events import queue_name

    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=queue_name("notify-sends"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"event_key": event_key}))


def test_one_paid_order_makes_exactly_one_order_paid_notification_across_redeliveries(
        app, shop, admin, alice, pump, sandbox_wechat):
    enable_order_paid(admin)
    subscribe(alice, times=3)  # credits to spare: a second send would have one to spend
    order_id = paid_order(shop, alice, price=12050)  # free shipping from 99 yuan

    pump.drain()
    redeliver_every_stream_record(app)
    send_queue_message_again(f"ORDER_PAID#{order_id}#{alice.user_id}")
    pump.drain()

    [paid] = notifications("ORDER_PAID", order_id)
    assert paid.status == "SENT" and paid.user_id == alice.user_id and paid.template_id == PAID_TEMPLATE
    assert paid.data["amount3"] == "¥120.50" and paid.data["character_string1"] == order_id
    assert [d["template_id"] for d in sandbox_wechat.deliveries] == [PAID_TEMPLATE], "sent more than once"
    [delivery] = sandbox_wechat.deliveries
    assert delivery["touser"] == "sandbox-openid-alice" and delivery["page"] == "pages/order/detail"
    assert delivery["data"]["thing2"]["value"].startswith("商品")
    mine = alice.api.post("/me/subscriptions", {"results": {PAID_TEMPLATE: "reject"}}).data
    assert mine["subscriptions"] == [{"template_id": PAID_TEMPLATE, "credits": 2, "banned": False}]


def test_without_a_credit_the_notification_is_not_subscribed_and_wechat_is_not_called(
        shop, admin, alice, pump, sandbox_wechat):
    enable_order_paid(admin)
    order_id = paid_order(shop, alice)

    pump.drain()

    [paid] = notifications("ORDER_PAID", order_id)
    assert paid.status == "NOT_SUBSCRIBED"
    assert sandbox_wechat.deliveries == [] and sandbox_wechat.token_fetches == 0


def test_a_banned_template_spends_no_credit_and_sends_nothing(shop, admin, alice, pump, sandbox_wechat):
    enable_order_paid(admin)
    subscribe(alice, times=2)
    banned = alice.api.post("/me/subscriptions", {"results": {PAID_TEMPLATE: "ban"}})
    assert banned.data["subscriptions"] == [{"template_id": PAID_TEMPLATE, "credits": 0, "banned": True}]

    order_id = paid_order(shop, alice)
    pump.drain()

    assert notifications("ORDER_PAID", order_id)[0].status == "NOT_SUBSCRIBED"
    assert sandbox_wechat.deliveries == []


def test_one_credit_sends_one_of_two_paid_orders(shop, admin, alice, pump, sandbox_wechat):
    enable_order_paid(admin)
    subscribe(alice)
    first, second = paid_order(shop, alice), paid_order(shop, alice)

    pump.drain()

    statuses = {notifications("ORDER_PAID", order_id)[0].status for order_id in (first, second)}
    assert statuses == {"SENT", "NOT_SUBSCRIBED"}
    assert len(sandbox_wechat.deliveries) == 1


def test_a_kind_without_a_template_records_nothing(shop, alice, pump, sandbox_wechat):
    subscribe(alice)
    paid_order(shop, alice)

    pump.drain()

    assert notifications() == [] and sandbox_wechat.deliveries == []


def test_shipping_notifies_once_and_a_rejected_refund_back_to_shipped_does_not(
        shop, admin, alice, pump, sandbox_wechat):
    from chalicelib.checkout import lifecycle

    response = admin.put("/admin/notification-templates/ORDER_SHIPPED", {
        "template_id": "tmpl-shipped", "fields": [{"key": "thing1", "source": "product_title"},
                                                  {"key": "character_string2", "source": "tracking_no"},
                                                  {"key": "phrase3", "source": "status_text"}]})
    assert response.status_code == 200, response.data
    subscribe(alice, "tmpl-shipped", times=2)
    order_id = paid_order(shop, alice)
    lifecycle.ship(order_id, "顺丰", "SF1234567890", actor="notifier")
    asked = alice.api.post(f"/orders/{order_id}/refund", {"reason": "不想要了"})
    assert asked.status_code == 200, asked.data
    rejected = admin.post(f"/admin/orders/{order_id}/refund/reject", {"reason": "已签收"})
    assert rejected.status_code == 200 and rejected.data["status"] == "SHIPPED", rejected.data

    pump.drain()

    [shipped] = notifications("ORDER_SHIPPED", order_id)
    assert shipped.status == "SENT"
    assert shipped.data == {"thing1": shipped.data["thing1"], "character_string2": "SF1234567890", "phrase3": "已发货"}
    assert len(sandbox_wechat.deliveries) == 1


def test_refund_settled_is_derived_when_an_order_becomes_refunded_and_only_then():
    from chalicelib.notify.kinds import KINDS

    settled = KINDS["REFUND_SETTLED"]
    order = {"order_id": "O1", "user_id": "U1", "lines": [], "payable": 500,
             "refunds": [{"amount": 500, "status": "SUCCESS", "kind": "BUYER"},
                         {"amount": 300, "status": "SUCCESS", "kind": "RETURN"}]}
    assert settled.happened({"status": "REFUNDING"}, {**order, "status": "REFUNDED"})
    assert settled.happened({"status": "REFUND_FAILED"}, {**order, "status": "REFUNDED"})
    assert not settled.happened({"status": "REFUNDED"}, {**order, "status": "REFUNDED"})
    assert not settled.happened({"status": "PAID"}, {**order, "status": "REFUNDING"})
    assert settled.values({**order, "status": "REFUNDED"})["refund_amount"] == 500
    paid = KINDS["ORDER_PAID"]
    assert paid.happened({"status": "PENDING_PAYMENT"}, {"status": "AWAITING_GROUP"})
    assert not paid.happened({"status": "AWAITING_GROUP"}, {"status": "PAID"}), "a group completing is no payment"


def test_a_lost_reply_to_the_claim_still_sends_once_on_the_credit_it_spent(shop, admin, alice, pump, sandbox_wechat,
                                                                          monkeypatch):
    from chalicelib.notify import sender, wechat
    from tests.faults import reply_lost_after_commit

    enable_order_paid(admin)
    subscribe(alice, times=2)
    order_id = paid_order(shop, alice)
    real_send = sender.send

    def not_yet(key, api):
        raise sender.RetryLater("held back by the test")

    monkeypatch.setattr(sender, "send", not_yet)
    pump.drain()  # derived and queued; the message waits out its backoff
    monkeypatch.setattr(sender, "send", real_send)

    with reply_lost_after_commit("TransactWriteItems") as lost:
        outcome = sender.send(f"ORDER_PAID#{order_id}#{alice.user_id}", wechat.client())

    assert lost == ["TransactWriteItems"]
    assert (outcome.status, outcome.called) == ("SENT", True)
    assert len(sandbox_wechat.deliveries) == 1
    assert alice.api.post("/me/subscriptions", {"results": {PAID_TEMPLATE: "reject"}}).data[
        "subscriptions"][0]["credits"] == 1, "the resent claim spent a second credit"


def test_a_recipient_without_an_openid_is_failed_without_spending_a_credit(client, shop, admin, pump, sandbox_wechat):
    from tests.checkout.conftest import Buyer

    ghost = Buyer(client, "U-never-logged-in")  # a token, but no WeChat login: no openid
    enable_order_paid(admin)
    subscribe(ghost)
    order_id = paid_order(shop, ghost)

    pump.drain()

    [paid] = notifications("ORDER_PAID", order_id)
    assert (paid.status, paid.error_code) == ("FAILED", "NO_OPENID")
    assert sandbox_wechat.deliveries == []
    assert ghost.api.post("/me/subscriptions", {"results": {PAID_TEMPLATE: "reject"}}).data[
        "subscriptions"][0]["credits"] == 1
