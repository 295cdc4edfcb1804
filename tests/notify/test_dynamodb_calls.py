"""What one notification costs in DynamoDB calls, as sent by the sender with the token cached."""
from __future__ import annotations

from tests.notify.conftest import enable_order_paid, paid_order, subscribe


def held_back_send(pump, monkeypatch):
    from chalicelib.notify import sender

    real_send = sender.send
    monkeypatch.setattr(sender, "send", lambda key, api: (_ for _ in ()).throw(sender.RetryLater("held back")))
    pump.drain()
    monkeypatch.setattr(sender, "send", real_send)


def test_a_send_with_the_token_cached_is_five_calls_and_so_is_no_credit(shop, admin, alice, pump, monkeypatch,
                                                                          dynamodb_calls):
    from chalicelib.notify import sender, tokens, wechat

    enable_order_paid(admin)
    subscribe(alice)
    first, second = paid_order(shop, alice), paid_order(shop, alice)
    held_back_send(pump, monkeypatch)
    api = wechat.client()
    tokens.access_token(api)

    dynamodb_calls.clear()
    assert sender.send(f"ORDER_PAID#{first}#{alice.user_id}", api).status == "SENT"
    assert dynamodb_calls.counts() == {"GetItem": 3, "TransactWriteItems": 1, "UpdateItem": 1}, dynamodb_calls

    dynamodb_calls.clear()
    assert sender.send(f"ORDER_PAID#{second}#{alice.user_id}", api).status == "NOT_SUBSCRIBED"
    # the failed claim reads the item back once: was it our own claim, resent after a lost reply?
    assert dynamodb_calls.counts() == {"GetItem": 3, "TransactWriteItems": 1, "UpdateItem": 1}, dynamodb_calls

    dynamodb_calls.clear()
    assert sender.send(f"ORDER_PAID#{first}#{alice.user_id}", api).status == "SENT"  # a redelivered message
    assert dynamodb_calls.counts() == {"GetItem": 1}, dynamodb_calls
