"""members test fixtures.

The live WeChat client is tested against a fake WeChat API served on 127.0.0.1,
never the internet.
"""
from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.loopback import serve

# --- a fake WeChat API on 127.0.0.1, for the live client -----------------------

class FakeWeChatServer:
    """Answers /sns/jscode2session per js_code (and /sns/oauth2/access_token per code) with what a test scripted;
    records each query."""

    def __init__(self):
        self.answers: dict[str, tuple[int, bytes, float]] = {}
        self.queries: list[dict[str, str]] = []
        self._server = _start_server(self)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, code: str, payload=None, *, status: int = 200, raw: bytes | None = None,
               delay: float = 0.0) -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        self.answers[code] = (status, body, delay)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _start_server(fake: FakeWeChatServer) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            url = urlsplit(self.path)
            query = dict(parse_qsl(url.query))
            fake.queries.append({"path": url.path, **query})
            code = query.get("js_code") or query.get("code", "")  # jscode2session, or the web oauth2/access_token
            status, body, delay = fake.answers.get(code, (404, b"", 0.0))
            time.sleep(delay)
            try:
                self.send_response(status)
                # WeChat really answers jscode2session as text/plain; the client must not care.
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting, which is what a timeout test wants

        def log_message(self, *args):  # keep test output quiet
            pass

    return serve(Handler)


@pytest.fixture
def fake_wechat():
    fake = FakeWeChatServer()
    yield fake
    fake.close()


@pytest.fixture
def live_wechat(fake_wechat, monkeypatch):
    """The mall in live-provider mode, with WeChat played by the fake server."""
    from chalicelib.core import config

    monkeypatch.setenv("MALL_PROVIDERS", "live")
    monkeypatch.setenv("MALL_WECHAT_APPID", "wx-test-appid")
    monkeypatch.setenv("MALL_WECHAT_APP_SECRET", "test-app-secret")
    monkeypatch.setenv("MALL_WECHAT_API_BASE", fake_wechat.base_url)
    config.secret.cache_clear()  # secrets are cached per process; this test's secret must be read
    yield fake_wechat
    config.secret.cache_clear()
