"""The sandbox keys: generated once into sandbox.json (0600) in the layout specs/api.md gives, reused after."""
from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from chalicelib.core import config
from chalicelib.payments.providers import NotificationRejected, sandbox
from chalicelib.payments.providers.sandbox import keys as sandbox_keys
from tests.payments.conftest import encrypted_resource, notification_body, transaction, wechat_headers, wechat_pay

LAYOUT = {"wechatpay": {"appid", "mchid", "apiv3_key", "platform_serial", "platform_private_key_pem"},
          "alipay": {"app_id", "seller_id", "alipay_private_key_pem"}}


@pytest.fixture
def fast_generation(session_keys, monkeypatch):
    """Generation without RSA: the session's key material, as the generator would lay it out."""
    document = json.loads((session_keys.directory / sandbox.KEYS_FILE).read_text())
    calls = []

    def generate():
        calls.append(1)
        return document

    monkeypatch.setattr(sandbox_keys, "_generate_keys", generate)
    return calls


def test_the_file_has_the_layout_a_tester_relies_on(session_keys):
    document = json.loads((session_keys.directory / sandbox.KEYS_FILE).read_text())
    assert set(document) == set(LAYOUT)
    for section, names in LAYOUT.items():
        assert names <= set(document[section]), f"{section} lacks {names - set(document[section])}"
        assert all(isinstance(value, str) and value for value in document[section].values())


def test_the_file_is_readable_by_its_owner_only(session_keys):
    mode = stat.S_IMODE((session_keys.directory / sandbox.KEYS_FILE).stat().st_mode)
    assert mode == 0o600, oct(mode)


def test_generated_keys_are_2048_bit_rsa_and_a_32_character_apiv3_key(session_keys):
    for pem in (session_keys.wechatpay.platform_private_key_pem, session_keys.wechatpay.merchant_private_key_pem,
                session_keys.alipay.alipay_private_key_pem, session_keys.alipay.app_private_key_pem):
        assert serialization.load_pem_private_key(pem.encode(), password=None).key_size == 2048
    assert len(session_keys.wechatpay.apiv3_key) == 32 and session_keys.wechatpay.apiv3_key.isalnum()
    assert session_keys.wechatpay.platform_serial.startswith("PUB_KEY_ID_")
    assert session_keys.alipay.seller_id.startswith("2088") and session_keys.wechatpay.appid.startswith("wx")


def test_keys_are_generated_once_and_then_reused(tmp_path, fast_generation):
    first = sandbox.ensure_sandbox_keys(tmp_path / "own")
    written = (tmp_path / "own" / sandbox.KEYS_FILE).read_bytes()
    again = sandbox.ensure_sandbox_keys(tmp_path / "own")
    assert again == first and len(fast_generation) == 1
    assert (tmp_path / "own" / sandbox.KEYS_FILE).read_bytes() == written


def test_real_generation_writes_distinct_keys(tmp_path):
    made = sandbox.ensure_sandbox_keys(tmp_path / "fresh")
    pems = {made.wechatpay.platform_private_key_pem, made.wechatpay.merchant_private_key_pem,
            made.alipay.alipay_private_key_pem, made.alipay.app_private_key_pem}
    assert len(pems) == 4
    assert sandbox.ensure_sandbox_keys(tmp_path / "fresh") == made


def test_concurrent_first_uses_agree_on_one_set_of_keys(tmp_path, session_keys, monkeypatch):
    document = json.loads((session_keys.directory / sandbox.KEYS_FILE).read_text())
    barrier = threading.Barrier(6)

    def generate():  # each caller makes its own keys, all at once: only one set may win
        barrier.wait()
        return {**document, "wechatpay": {**document["wechatpay"], "mchid": str(threading.get_ident())}}

    monkeypatch.setattr(sandbox_keys, "_generate_keys", generate)
    results = []
    threads = [threading.Thread(target=lambda: results.append(sandbox.ensure_sandbox_keys(tmp_path / "k")))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({keys.wechatpay.mchid for keys in results}) == 1, "every caller must end with the same keys"
    assert [path.name for path in (tmp_path / "k").iterdir()] == [sandbox.KEYS_FILE], "no temporary file left"


def test_load_finds_the_directory_from_the_environment(keys_dir, monkeypatch):
    assert sandbox.load_sandbox_keys().directory == keys_dir
    monkeypatch.delenv("MALL_SANDBOX_KEYS_DIR")
    assert sandbox.keys_directory() == Path(".local/keys")


@pytest.mark.parametrize("content", ["not json", "{}", '{"wechatpay": {}, "alipay": {}}', "[]"])
def test_an_unreadable_key_file_is_a_configuration_error_and_is_left_alone(tmp_path, content):
    (tmp_path / sandbox.KEYS_FILE).write_text(content)
    with pytest.raises(config.ConfigError, match="delete it"):
        sandbox.ensure_sandbox_keys(tmp_path)
    assert (tmp_path / sandbox.KEYS_FILE).read_text() == content


def test_a_tester_can_sign_a_notification_with_the_file_alone(keys_dir, keys):
    """What api.md promises: the file holds the provider's side, so anyone can post what the mall accepts."""
    document = json.loads((keys_dir / sandbox.KEYS_FILE).read_text())["wechatpay"]
    plaintext = json.dumps(transaction(keys, appid=document["appid"], mchid=document["mchid"])).encode()
    body = notification_body(encrypted_resource(document["apiv3_key"], plaintext))
    headers = wechat_headers(body, document["platform_private_key_pem"], document["platform_serial"])
    mall = wechat_pay(keys, "http://127.0.0.1:9")
    assert mall.parse_notification(headers, body).status == "PAID"
    with pytest.raises(NotificationRejected):
        mall.parse_notification(headers, body + b" ")
