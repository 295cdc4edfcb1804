"""Abuse limits and the staff lockout over real HTTP on the local stack, with limits turned on."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from tests.e2e.stack import RunningStack


@pytest.fixture(scope="module")
def limited_stack(tmp_path_factory):
    extra = {"MALL_RATE_LIMITS": "on", "MALL_LIMIT_BUYER_LOGIN_DEVICE": "3/3",
             "MALL_STAFF_LOGIN_USER_MAX_FAILURES": "3", "MALL_STAFF_LOGIN_LOCK_SECONDS": "2"}
    running = RunningStack(tmp_path_factory.mktemp("limited-stack"), extra_env=extra).wait_ready()
    yield running
    assert running.stop() == 0, running.output()


def post(stack: RunningStack, path: str, body: dict, headers: dict[str, str] | None = None):
    request = urllib.request.Request(stack.url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"null")


def test_buyer_logins_from_one_device_are_429_with_retry_after_then_refill(limited_stack):
    device = {"X-Device-Id": "e2e-phone-1"}
    for n in range(3):
        assert post(limited_stack, "/auth/login", {"code": f"dev:e2e-{n}"}, device)[0] == 200
    status, headers, body = post(limited_stack, "/auth/login", {"code": "dev:e2e-3"}, device)
    assert (status, body["error"]["code"]) == (429, "RATE_LIMITED"), body
    assert body["error"]["details"]["scope"] == "device"
    wait = int(headers["Retry-After"])
    assert wait == 1, f"one token refills in 1 s, told {wait}"
    assert post(limited_stack, "/auth/login", {"code": "dev:e2e-3"}, {"X-Device-Id": "e2e-phone-2"})[0] == 200
    time.sleep(wait)
    assert post(limited_stack, "/auth/login", {"code": "dev:e2e-3"}, device)[0] == 200, "refilled over time"


def test_a_staff_login_locks_after_repeated_failures_alike_for_unknown_usernames(limited_stack):
    answers = {}
    for username in ("admin", "no-such-staff"):
        for _ in range(3):
            status, _, body = post(limited_stack, "/admin/login", {"username": username, "password": "guess"})
            assert (status, body["error"]["code"]) == (401, "INVALID_CREDENTIALS"), body
        answers[username] = post(limited_stack, "/admin/login", {"username": username, "password": "admin"})
    (known_status, known_headers, known), (unknown_status, unknown_headers, unknown) = answers.values()
    assert (known_status, known["error"]["code"]) == (429, "LOGIN_LOCKED"), known
    assert (unknown_status, unknown) == (known_status, known)
    assert known_headers["Retry-After"] == unknown_headers["Retry-After"] == "2"
    time.sleep(2)
    status, _, body = post(limited_stack, "/admin/login", {"username": "admin", "password": "admin"})
    assert status == 200 and body["session_id"], body
