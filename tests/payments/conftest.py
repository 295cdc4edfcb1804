"""payments test fixtures: real RSA keys made once per session, provider-side signing done independently of
the mall's code (with `cryptography` directly), and fake provider APIs on 127.0.0.1.
"""
from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import secrets
import shutil
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from chalicelib.core import clock
from chalicelib.payments.providers import HttpTransport, sandbox
from chalicelib.payments.providers.alipay import Alipay
from chalicelib.payments.providers.sandbox import SandboxKeys
from chalicelib.payments.providers.wechatpay import WeChatPay
from tests.loopback import serve

# --- a shop, a buyer logged in through the sandbox WeChat, a cashier ------------------------------
# (modules that need other ones define their own fixtures of these names)

@pytest.fixture
def shop(app):
    from tests.cart.conftest import Shop

    return Shop()


@pytest.fixture
def alice(client):
    from chalicelib.members import service as members
    from tests.checkout.conftest import Buyer

    return Buyer(client, members.login("dev:alice").user.user_id)


@pytest.fixture
def staff(client):
    from chalicelib.admin import service
    from chalicelib.admin.passwords import ScryptCost

    service.create_staff("cashier", "cashier-password", "operator", cost=ScryptCost(n=2**4, r=8, p=1))
    service.update_staff("cashier", grants=["refunds.decide"])  # an operator decides refunds only when granted
    from tests.conftest import staff_token

    return client.as_token(staff_token("cashier", "operator"))


# --- keys ----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def session_keys(tmp_path_factory) -> SandboxKeys:
    """One generated set of sandbox keys for the whole session (RSA key generation is the slow part)."""
    return sandbox.ensure_sandbox_keys(tmp_path_factory.mktemp("sandbox-keys"))


@pytest.fixture(autouse=True)
def keys_dir(session_keys, tmp_path, monkeypatch) -> Path:
    """This test's copy of the session's sandbox.json: `provider()` reads it, and the twins' trades file
    beside it belongs to this test alone (never the checkout's .local/keys)."""
    directory = tmp_path / "keys"
    directory.mkdir()
    shutil.copy2(session_keys.directory / sandbox.KEYS_FILE, directory / sandbox.KEYS_FILE)
    monkeypatch.setenv("MALL_SANDBOX_KEYS_DIR", str(directory))
    return directory


@pytest.fixture
def keys(keys_dir) -> SandboxKeys:
    return sandbox.ensure_sandbox_keys(keys_dir)


@pytest.fixture(scope="session")
def other_key_pem() -> str:
    return pem_of(new_key())


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_of(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_pem_of(private_pem: str) -> str:
    key = private_key_of(private_pem)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def certificate_pem(private_pem: str, serial: int) -> str:
    """A self-signed certificate, as WeChat Pay's platform certificates were handed out."""
    key = private_key_of(private_pem)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(serial).not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=365)).sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


# --- WeChat Pay's side, done independently ------------------------------------------------

@functools.cache
def private_key_of(private_pem: str) -> rsa.RSAPrivateKey:
    return serialization.load_pem_private_key(private_pem.encode(), password=None)  # slow: 40 ms, so cached


def sign_rsa(private_pem: str, message: bytes) -> str:
    key = private_key_of(private_pem)
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify_rsa(public_pem: str, message: bytes, signature: str) -> bool:
    key = serialization.load_pem_public_key(public_pem.encode())
    try:
        key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        return False
    return True


def wechat_headers(body: bytes, private_pem: str, serial: str, *, timestamp: int | None = None,
                   nonce: str | None = None) -> dict[str, str]:
    """The headers WeChat Pay signs a notification or an answer with."""
    ts = str(int(clock.timestamp()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    message = ts.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"
    return {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce, "Wechatpay-Serial": serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
            "Wechatpay-Signature": sign_rsa(private_pem, message)}


def encrypted_resource(apiv3_key: str, plaintext: bytes, *, associated_data: str = "transaction",
                       nonce: str = "0123456789ab") -> dict[str, str]:
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {"original_type": associated_data, "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ciphertext).decode(), "associated_data": associated_data, "nonce": nonce}


def notification_body(resource: dict, *, event_type: str = "TRANSACTION.SUCCESS", event_id: str = "EV-1") -> bytes:
    return json.dumps({"id": event_id, "create_time": "2026-11-25T12:00:00+08:00", "resource_type": "encrypt-resource",
                       "event_type": event_type, "summary": "支付成功", "resource": resource},
                      ensure_ascii=False).encode()


def transaction(keys: SandboxKeys, **changes) -> dict:
    wechat = keys.wechatpay
    data = {"appid": wechat.appid, "mchid": wechat.mchid, "out_trade_no": "ORDER0001",
            "transaction_id": "4200000000202611250000000001", "trade_type": "JSAPI", "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功", "bank_type": "OTHERS", "attach": "",
            "success_time": "2026-11-25T12:00:00+08:00", "payer": {"openid": "o-buyer"},
            "amount": {"total": 1230, "payer_total": 1230, "currency": "CNY", "payer_currency": "CNY"}}
    data.update(changes)
    return data


# --- providers wired to fakes -------------------------------------------------------------

def wechat_pay(keys: SandboxKeys, base_url: str, *, platform_keys: dict[str, str] | None = None,
               timeout: float = 3.0) -> WeChatPay:
    wechat = keys.wechatpay
    return WeChatPay(app_id=wechat.appid, merchant_id=wechat.mchid, merchant_serial=wechat.merchant_serial,
                     merchant_private_key=wechat.merchant_private_key_pem, apiv3_key=wechat.apiv3_key,
                     platform_keys=platform_keys or {wechat.platform_serial: wechat.platform_public_key_pem()},
                     notify_url="https://mall.example.com/payments/wechat/notify",
                     transport=HttpTransport(base_url, "wechat", timeout=timeout))


def alipay(keys: SandboxKeys, base_url: str = "http://127.0.0.1:9", *, timeout: float = 3.0) -> Alipay:
    ali = keys.alipay
    return Alipay(app_id=ali.app_id, seller_id=ali.seller_id, app_private_key=ali.app_private_key_pem,
                  alipay_public_key=ali.alipay_public_key_pem(), notify_url="https://mall.example.com/payments/alipay/notify",
                  transport=HttpTransport(base_url, "alipay", timeout=timeout), gateway_url=base_url)


class FakeApi:
    """A provider API on 127.0.0.1: answers what a test scripted per (method, path), records every request."""

    def __init__(self):
        self.replies: dict[tuple[str, str], tuple[int, dict[str, str], bytes, float]] = {}
        self.requests: list[dict] = []
        self.responder = None  # or a function(request) -> (status, headers, body), for every request
        self._server = _serve(self)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def reply(self, method: str, path: str, status: int, body: bytes, headers: dict[str, str] | None = None,
              delay: float = 0.0) -> None:
        self.replies[(method, path)] = (status, headers or {}, body, delay)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _serve(fake: FakeApi) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            fake.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                                  "body": body})
            if fake.responder is not None:
                status, headers, payload, delay = (*fake.responder(fake.requests[-1]), 0.0)
            else:
                status, headers, payload, delay = fake.replies.get((self.command, self.path.split("?")[0]),
                                                                   (404, {}, b"", 0.0))
            time.sleep(delay)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting, which is what a timeout test wants

        do_GET = do_POST = _answer  # noqa: N815 - http.server's naming

        def log_message(self, *args):
            pass

    return serve(Handler)


@pytest.fixture
def fake_api():
    fake = FakeApi()
    yield fake
    fake.close()


def form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode(), keep_blank_values=True))
