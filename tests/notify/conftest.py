"""notify test fixtures: a logged-in buyer (so they have an openid), templates, an admin, the event pump as its
triggers run it (a failing batch retried, halved, then to its on-failure queue), and a fake WeChat
subscribe-message API on 127.0.0.1 for the live client (the shop and the pump are tests/conftest.py's)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.conftest import add_staff, staff_token
from tests.loopback import serve

PAID_FIELDS = [{"key": "character_string1", "source": "order_id"}, {"key": "thing2", "source": "product_title"},
               {"key": "amount3", "source": "payable"}, {"key": "time4", "source": "paid_at"}]
PAID_TEMPLATE = "tmpl-order-paid"


@pytest.fixture(autouse=True)
def sandbox_wechat():
    from chalicelib.notify.wechat import SandboxSubscribeApi

    SandboxSubscribeApi.reset()
    yield SandboxSubscribeApi
    SandboxSubscribeApi.reset()


@pytest.fixture
def pump_raises_errors() -> bool:
    return False  # notify's tests see failing sends and batches go where their triggers send them


@pytest.fixture
def admin(client):
    add_staff("notifier", "owner")
    return client.as_token(staff_token("notifier", "owner"))


def logged_in_buyer(client, name: str):
    """A buyer who logged in through the sandbox WeChat (so the mall knows their openid), with an address."""
    from chalicelib.members import service as members
    from tests.checkout.conftest import Buyer

    return Buyer(client, members.login(f"dev:{name}").user.user_id)


@pytest.fixture
def alice(client):
    return logged_in_buyer(client, "alice")


def enable_order_paid(admin, template_id: str = PAID_TEMPLATE) -> None:
    response = admin.put("/admin/notification-templates/ORDER_PAID",
                         {"template_id": template_id, "page": "pages/order/detail", "fields": PAID_FIELDS})
    assert response.status_code == 200, response.data


def subscribe(buyer, template_id: str = PAID_TEMPLATE, times: int = 1) -> dict:
    for _ in range(times):
        response = buyer.api.post("/me/subscriptions", {"results": {template_id: "accept"}})
        assert response.status_code == 200, response.data
    return response.data


def paid_order(shop, buyer, price: int = 1250) -> str:
    from tests.checkout.conftest import pay

    order = buyer.placed({shop.sku(price=price): 1})
    pay(order["order_id"])
    return order["order_id"]


def notifications(kind: str | None = None, order_id: str | None = None) -> list:
    from chalicelib.notify.service import list_notifications

    items = list_notifications(None, 100).items
    return [item for item in items if (kind is None or item.kind == kind)
            and (order_id is None or item.order_id == order_id)]


# --- a fake WeChat API on 127.0.0.1 -----------------------------------------------------

class FakeSubscribeApi:
    """stable_token and subscribe/send as WeChat answers them; each send answers the next scripted errcode."""

    def __init__(self):
        self.token_calls: list[dict] = []
        self.sends: list[dict] = []
        self.send_answers: list[int | str] = []  # errcodes, or "HANG" (answer after the client gave up)
        self.token_answers: list[dict] = []
        self.tokens_issued = 0
        self.hang_seconds = 1.0
        self._lock = threading.Lock()
        self._server = _serve(self)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def handle(self, path: str, query: dict, body: dict) -> tuple[dict, float]:
        with self._lock:
            if path == "/cgi-bin/stable_token":
                self.token_calls.append(body)
                if self.token_answers:
                    return self.token_answers.pop(0), 0.0
                self.tokens_issued += 1
                return {"access_token": f"token-{self.tokens_issued}", "expires_in": 7200}, 0.0
            if path == "/cgi-bin/message/subscribe/send":
                self.sends.append({**body, "access_token": query.get("access_token")})
                answer = self.send_answers.pop(0) if self.send_answers else 0
                if answer == "HANG":
                    return {"errcode": 0, "errmsg": "ok", "msgid": 1}, self.hang_seconds
                if isinstance(answer, str) and answer.startswith("HTTP"):
                    return {"http_status": int(answer[4:])}, 0.0
                return ({"errcode": 0, "errmsg": "ok", "msgid": 1000 + len(self.sends)} if answer == 0
                        else {"errcode": answer, "errmsg": f"fake {answer}"}), 0.0
            return {"errcode": 404, "errmsg": "no such API"}, 0.0

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _serve(fake: FakeSubscribeApi) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            url = urlsplit(self.path)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            answer, delay = fake.handle(url.path, dict(parse_qsl(url.query)), body)
            time.sleep(delay)
            status = answer.pop("http_status", 200)
            payload = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    return serve(Handler)


@pytest.fixture
def fake_wechat():
    fake = FakeSubscribeApi()
    yield fake
    fake.close()


@pytest.fixture
def live_wechat(fake_wechat, monkeypatch):
    """Live mode for the notify sender, with WeChat played by the fake server (logins stay sandboxed:
    the buyers were created before the switch)."""
    from chalicelib.core import config

    monkeypatch.setenv("MALL_PROVIDERS", "live")
    monkeypatch.setenv("MALL_WECHAT_APPID", "wx-test-appid")
    monkeypatch.setenv("MALL_WECHAT_APP_SECRET", "test-app-secret")
    monkeypatch.setenv("MALL_WECHAT_API_BASE", fake_wechat.base_url)
    config.secret.cache_clear()
    yield fake_wechat
    config.secret.cache_clear()
