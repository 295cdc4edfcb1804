"""The sender against a fake WeChat API on 127.0.0.1: permanent and transient errors, backoff and
dead-lettering, the shared access token, and a send whose answer is lost."""
from __future__ import annotations

import threading

import boto3
import pytest

from tests.notify.conftest import enable_order_paid, notifications, paid_order, subscribe


@pytest.fixture
def retry_at_once(monkeypatch):
    """Backoff of 0 s: a retried message is visible again at once (the delays are tested on their own)."""
    monkeypatch.setenv("MALL_NOTIFY_RETRY_SECONDS", "0")


def queue_depths() -> tuple[int, int]:
    from chalicelib.core.events import queue_name

    sqs = boto3.client("sqs")
    depths = []
    for name in ("notify-sends", "notify-sends-dlq"):
        url = sqs.get_queue_url(QueueName=queue_name(name))["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        depths.append(int(attributes["ApproximateNumberOfMessages"])
                      + int(attributes["ApproximateNumberOfMessagesNotVisible"]))
    return depths[0], depths[1]


def test_a_permanent_error_is_recorded_failed_and_never_retried(shop, admin, alice, pump, live_wechat, retry_at_once):
    enable_order_paid(admin)
    subscribe(alice, times=2)
    live_wechat.send_answers = [43101]
    order_id = paid_order(shop, alice)

    for _ in range(4):
        pump.drain()

    [paid] = notifications("ORDER_PAID", order_id)
    assert (paid.status, paid.error_code) == ("FAILED", "43101")
    assert len(live_wechat.sends) == 1, "a permanent refusal was sent again"
    assert queue_depths() == (0, 0)
    assert live_wechat.sends[0]["touser"] == "sandbox-openid-alice"
    assert live_wechat.sends[0]["miniprogram_state"] == "formal"


def test_a_transient_error_is_retried_with_the_credit_it_already_spent(shop, admin, alice, pump, live_wechat,
                                                                      retry_at_once):
    enable_order_paid(admin)
    subscribe(alice)  # one credit: the retry must not need a second
    live_wechat.send_answers = [-1, 45009]
    order_id = paid_order(shop, alice)

    for _ in range(4):
        pump.drain()

    [paid] = notifications("ORDER_PAID", order_id)
    assert paid.status == "SENT", paid
    assert len(live_wechat.sends) == 3
    assert alice.api.post("/me/subscriptions", {"results": {"tmpl-order-paid": "reject"}}).data[
        "subscriptions"][0]["credits"] == 0


def test_a_send_that_keeps_failing_transiently_is_dead_lettered_after_five_receives(
        shop, admin, alice, pump, live_wechat, retry_at_once):
    enable_order_paid(admin)
    subscribe(alice)
    live_wechat.send_answers = [-1] * 10
    order_id = paid_order(shop, alice)

    for _ in range(8):
        pump.drain()

    assert len(live_wechat.sends) == 5, "retried more or less often than the redrive policy's 5 receives"
    assert queue_depths() == (0, 1)
    [paid] = notifications("ORDER_PAID", order_id)
    assert (paid.status, paid.error_code) == ("PENDING", "-1")


def test_a_redriven_dead_letter_is_sent_once_wechat_recovers(shop, admin, alice, pump, live_wechat, retry_at_once):
    from chalicelib.core.events import queue_name

    enable_order_paid(admin)
    subscribe(alice)
    live_wechat.send_answers = [-1] * 5
    order_id = paid_order(shop, alice)
    for _ in range(8):
        pump.drain()
    sqs = boto3.client("sqs")
    dead = sqs.get_queue_url(QueueName=queue_name("notify-sends-dlq"))["QueueUrl"]
    source = sqs.get_queue_url(QueueName=queue_name("notify-sends"))["QueueUrl"]
    for message in sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10)["Messages"]:  # what infra redrive does
        sqs.send_message(QueueUrl=source, MessageBody=message["Body"])
        sqs.delete_message(QueueUrl=dead, ReceiptHandle=message["ReceiptHandle"])

    pump.drain()

    assert notifications("ORDER_PAID", order_id)[0].status == "SENT"
    assert len(live_wechat.sends) == 6


def test_the_access_token_is_fetched_once_for_many_sends(shop, admin, alice, pump, live_wechat):
    enable_order_paid(admin)
    subscribe(alice, times=5)
    for _ in range(5):
        paid_order(shop, alice)

    pump.drain()

    assert [n.status for n in notifications("ORDER_PAID")] == ["SENT"] * 5
    assert len(live_wechat.token_calls) == 1
    assert live_wechat.token_calls[0] == {"grant_type": "client_credential", "appid": "wx-test-appid",
                                          "secret": "test-app-secret", "force_refresh": False}
    assert {send["access_token"] for send in live_wechat.sends} == {"token-1"}


def test_a_token_is_fetched_again_after_its_refresh_time_and_after_wechat_calls_it_invalid(
        shop, admin, alice, pump, live_wechat, frozen_clock, retry_at_once):
    enable_order_paid(admin)
    subscribe(alice, times=3)
    paid_order(shop, alice)
    pump.drain()
    frozen_clock.advance(seconds=7200 - 590)  # less than 10 minutes before WeChat's expiry: refreshed
    paid_order(shop, alice)
    pump.drain()
    live_wechat.send_answers = [40001]  # invalid token: forgotten, fetched again, sent
    paid_order(shop, alice)
    pump.drain()
    pump.drain()

    assert [n.status for n in notifications("ORDER_PAID")] == ["SENT"] * 3
    assert len(live_wechat.token_calls) == 3
    assert [send["access_token"] for send in live_wechat.sends] == ["token-1", "token-2", "token-2", "token-3"]


@pytest.mark.parametrize("round_", range(10))
def test_senders_racing_for_an_expired_token_fetch_it_once(app, live_wechat, atomic_dynamodb, round_):
    from chalicelib.notify import tokens, wechat

    api = wechat.client()
    got: list[str] = []
    start = threading.Barrier(6)

    def sender():
        start.wait()
        got.append(tokens.access_token(api))

    threads = [threading.Thread(target=sender) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert got == ["token-1"] * 6
    assert len(live_wechat.token_calls) == 1, f"{len(live_wechat.token_calls)} senders refreshed the token"


def test_a_send_whose_answer_is_lost_is_failed_and_never_sent_again(shop, admin, alice, pump, live_wechat,
                                                                    retry_at_once, monkeypatch):
    from chalicelib.notify import wechat

    monkeypatch.setattr(wechat, "TIMEOUT_SECONDS", 0.3)
    live_wechat.hang_seconds = 0.6
    enable_order_paid(admin)
    subscribe(alice, times=2)
    live_wechat.send_answers = ["HANG"]
    order_id = paid_order(shop, alice)

    for _ in range(3):
        pump.drain()

    [paid] = notifications("ORDER_PAID", order_id)
    assert (paid.status, paid.error_code) == ("FAILED", "OUTCOME_UNKNOWN")
    assert len(live_wechat.sends) == 1


def test_a_sender_that_died_between_the_call_and_the_mark_is_not_repeated(shop, admin, alice, pump, sandbox_wechat,
                                                                         frozen_clock, retry_at_once, monkeypatch):
    """The claim is written before the call; a crash leaves it. The message's return finds it and gives up."""
    from chalicelib.core.events import queue_name
    from chalicelib.notify import sender

    enable_order_paid(admin)
    subscribe(alice, times=2)
    order_id = paid_order(shop, alice)
    real_finish = sender._finish
    crashed = []

    def crash_once(item, claim, status, **kw):
        if status == "SENT" and not crashed:
            crashed.append(item.event_key)
            raise SystemExit("the sender's Lambda ended here")
        return real_finish(item, claim, status, **kw)

    monkeypatch.setattr(sender, "_finish", crash_once)
    sqs = boto3.client("sqs")  # the crashed receive's message is visible again at once, not after 6 minutes
    sqs.set_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName=queue_name("notify-sends"))["QueueUrl"],
                             Attributes={"VisibilityTimeout": "0"})
    with pytest.raises(SystemExit):
        pump.drain()
    assert len(sandbox_wechat.deliveries) == 1
    pump.poll_once()  # back within the claim's lifetime: left for the attempt that may still be running
    assert notifications("ORDER_PAID", order_id)[0].status == "PENDING"
    frozen_clock.advance(seconds=sender.CLAIM_SECONDS + 1)
    pump.drain()

    [paid] = notifications("ORDER_PAID", order_id)
    assert (paid.status, paid.error_code) == ("FAILED", "OUTCOME_UNKNOWN")
    assert len(sandbox_wechat.deliveries) == 1, "sent twice"


def test_backoff_doubles_from_the_configured_base_up_to_fifteen_minutes(monkeypatch):
    from chalicelib.notify.sender import backoff_seconds

    assert [backoff_seconds(n) for n in (1, 2, 3, 4, 5)] == [30, 60, 120, 240, 480]
    assert backoff_seconds(9) == 900
    monkeypatch.setenv("MALL_NOTIFY_RETRY_SECONDS", "5")
    assert backoff_seconds(2) == 10


def test_no_access_token_leaves_the_item_to_retry_without_a_claim(shop, admin, alice, pump, live_wechat, retry_at_once):
    enable_order_paid(admin)
    subscribe(alice)
    live_wechat.token_answers = [{"errcode": 40125, "errmsg": "invalid appsecret"}]
    order_id = paid_order(shop, alice)

    pump.drain()

    [paid] = notifications("ORDER_PAID", order_id)
    assert paid.status == "SENT" and len(live_wechat.sends) == 1, "the send after a failed token fetch never came"
    assert len(live_wechat.token_calls) == 2


@pytest.mark.parametrize("round_", range(5))
def test_senders_racing_on_duplicate_messages_send_once(shop, admin, alice, pump, sandbox_wechat, atomic_dynamodb,
                                                        monkeypatch, round_):
    from chalicelib.notify import sender, wechat

    enable_order_paid(admin)
    subscribe(alice, times=3)
    order_id = paid_order(shop, alice)
    real_send = sender.send
    monkeypatch.setattr(sender, "send", lambda key, api: (_ for _ in ()).throw(sender.RetryLater("held back")))
    pump.drain()  # derived and queued, not sent
    monkeypatch.setattr(sender, "send", real_send)
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def racing_sender():
        start.wait()
        try:
            outcomes.append(sender.send(f"ORDER_PAID#{order_id}#{alice.user_id}", wechat.client()).status)
        except sender.RetryLater:
            outcomes.append("RETRY")

    threads = [threading.Thread(target=racing_sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(sandbox_wechat.deliveries) == 1, f"{len(sandbox_wechat.deliveries)} deliveries: {outcomes}"
    assert "SENT" in outcomes and set(outcomes) <= {"SENT", "RETRY"}, outcomes
    assert notifications("ORDER_PAID", order_id)[0].status == "SENT"
    credits = alice.api.post("/me/subscriptions", {"results": {"tmpl-order-paid": "reject"}}).data
    assert credits["subscriptions"][0]["credits"] == 2, "racing senders spent more than one credit"


def test_a_refresh_lease_left_by_a_dead_sender_lapses(app, frozen_clock, sandbox_wechat):
    from chalicelib.notify import tokens, wechat

    api = wechat.client()
    assert tokens._take_lease(tokens._name(api), "a-sender-that-died")  # and never stored a token
    slept: list[float] = []

    assert tokens.access_token(api, sleep=slept.append) == "sandbox-token-1"  # waited, then asked itself
    assert len(slept) == tokens.WAIT_ROUNDS and sandbox_wechat.token_fetches == 1
    frozen_clock.advance(seconds=tokens.LEASE_SECONDS + 1)
    assert tokens.access_token(api, sleep=slept.append) == "sandbox-token-2"  # the lease lapsed: refreshed and stored
    assert tokens.access_token(api, sleep=slept.append) == "sandbox-token-2"
    assert sandbox_wechat.token_fetches == 2 and len(slept) == tokens.WAIT_ROUNDS
