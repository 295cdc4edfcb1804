"""The live subscribe-message client's failures, by what the mall can know about the message."""
from __future__ import annotations

import socket

import pytest

from chalicelib.notify.wechat import OutcomeUnknown, Refused, WeChatSubscribeClient

MESSAGE = {"touser": "o-1", "template_id": "t", "data": {"thing1": {"value": "x"}}}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_connection_that_never_opens_is_transient_and_sent_nothing():
    client = WeChatSubscribeClient("wx-app", "secret", f"http://127.0.0.1:{closed_port()}", timeout=1)
    with pytest.raises(Refused) as refused:
        client.send("token", MESSAGE)
    assert refused.value.errcode == "NETWORK" and not refused.value.permanent


@pytest.mark.parametrize(("errcode", "permanent"), [(43101, True), (40003, True), (40037, True), (47003, True),
                                                    (-1, False), (45009, False), (40001, False), (42001, False)])
def test_wechat_errcodes_are_permanent_or_transient(fake_wechat, errcode, permanent):
    fake_wechat.send_answers = [errcode]
    client = WeChatSubscribeClient("wx-app", "secret", fake_wechat.base_url)
    with pytest.raises(Refused) as refused:
        client.send("token-1", MESSAGE)
    assert (refused.value.errcode, refused.value.permanent) == (errcode, permanent)
    assert fake_wechat.sends[0]["access_token"] == "token-1" and fake_wechat.sends[0]["touser"] == "o-1"


def test_an_answer_that_never_comes_is_an_unknown_outcome(fake_wechat):
    fake_wechat.send_answers, fake_wechat.hang_seconds = ["HANG"], 0.5
    client = WeChatSubscribeClient("wx-app", "secret", fake_wechat.base_url, timeout=0.2)
    with pytest.raises(OutcomeUnknown):
        client.send("token", MESSAGE)


def test_stable_token_errors_are_transient_and_never_show_the_secret(fake_wechat):
    fake_wechat.token_answers = [{"errcode": 40125, "errmsg": "invalid appsecret"}, {"unexpected": True}]
    client = WeChatSubscribeClient("wx-app", "top-secret-value", fake_wechat.base_url)
    for _ in range(2):
        with pytest.raises(Refused) as refused:
            client.stable_token()
        assert not refused.value.permanent and "top-secret-value" not in str(refused.value)
    assert client.stable_token().access_token == "token-1"


@pytest.mark.parametrize(("status", "known_not_sent"), [(503, True), (429, True), (404, True),
                                                       (500, False), (502, False), (504, False)])
def test_an_http_error_is_not_sent_when_refused_at_the_door_and_unknown_after_a_gateway(fake_wechat, status,
                                                                                        known_not_sent):
    fake_wechat.send_answers = [f"HTTP{status}"]
    client = WeChatSubscribeClient("wx-app", "secret", fake_wechat.base_url)
    with pytest.raises(Refused if known_not_sent else OutcomeUnknown) as raised:
        client.send("token", MESSAGE)
    if known_not_sent:
        assert not raised.value.permanent
