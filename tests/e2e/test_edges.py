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
