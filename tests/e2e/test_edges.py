"""The local stack at its edges, over real HTTP: an unknown route is a JSON 404 and log lines are plain text."""
from __future__ import annotations

import json

from infra.edges import UNKNOWN_ROUTE


def test_an_unknown_route_is_a_json_404_in_the_mall_shape(stack):
    for method, path in [("GET", "/no/such/route"), ("POST", "/catalog"), ("GET", "/orders/x/y/z")]:
        status, body = stack.request(method, path, body={} if method == "POST" else None)
        assert (status, body) == (404, UNKNOWN_ROUTE), (method, path, status, body)


def test_a_known_route_with_a_bad_body_is_still_its_own_400(stack):
    status, body = stack.request("POST", "/auth/login", {"code": json.loads("[" * 40 + "]" * 40)})
    assert status == 400 and body["error"]["code"] == "INVALID_JSON", body


def test_the_mall_logs_readable_lines_locally(stack):
    import time

    deadline = time.monotonic() + 20  # the sweeper runs every MALL_LOCAL_SCHEDULE_SECONDS and says what it did
    while "micromall.checkout: sweep:" not in stack.output() and time.monotonic() < deadline:
        time.sleep(0.5)
    lines = [line for line in stack.output().splitlines() if "micromall.checkout: sweep:" in line]
    assert lines and not lines[0].lstrip().startswith("{"), stack.output()[-2000:]


def get(stack, path: str) -> tuple[int, str, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(stack.url + path, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_swagger_ui_is_served_from_its_package_at_docs(stack):
    status, content_type, page = get(stack, "/docs")
    assert status == 200 and content_type.startswith("text/html"), (status, content_type)
    assert b'src="/docs/swagger-ui-bundle.js"' in page and b'url: "/openapi.json"' in page
    assert b"http" not in page.replace(b'"/docs/', b"").replace(b'"/openapi.json"', b"")  # no CDN
    status, content_type, script = get(stack, "/docs/swagger-ui-bundle.js")
    assert status == 200 and "javascript" in content_type and len(script) > 100_000
    status, content_type, _ = get(stack, "/docs/swagger-ui.css")
    assert status == 200 and content_type.startswith("text/css")
    for outside in ("/docs/../app.py", "/docs/%2e%2e/app.py", "/docs/.hidden", "/docs/nope.js"):
        assert get(stack, outside)[0] == 404, outside
