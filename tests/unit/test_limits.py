"""Abuse limits: token buckets per buyer, device and source IP in DynamoDB, refilled by the mall clock,
answered 429 RATE_LIMITED with Retry-After in the mall's error shape."""
from __future__ import annotations

import threading

import pytest

from chalicelib.core import limits
from chalicelib.core.config import ConfigError
from chalicelib.core.limits import COUPON_CLAIM, Caller, Limit
from tests.conftest import buyer_token
from tests.faults import reply_lost_after_commit


def error(response) -> dict:
    return (response.data or {}).get("error", {})


def login(client, name: str, device: str | None = None):
    headers = {"X-Device-Id": device} if device else {}
    return client.post("/auth/login", {"code": f"dev:{name}"}, headers=headers)


# --- buyer login: per device and per IP ------------------------------------------------------

def test_buyer_logins_from_one_device_are_limited_and_refill_over_time(client, limited, frozen_clock):
    for n in range(10):  # MALL_LIMIT_BUYER_LOGIN_DEVICE = 10/60
        assert login(client, f"b{n}", "phone-1").status_code == 200
    refused = login(client, "b10", "phone-1")
    assert refused.status_code == 429
    assert error(refused) == {"code": "RATE_LIMITED", "message": "too many requests; retry in 6 s",
                              "details": {"limit": "buyer_login", "scope": "device", "retry_after_seconds": 6}}
    assert refused.headers["Retry-After"] == "6"
    assert login(client, "b10", "phone-2").status_code == 200, "another device has its own bucket"
    frozen_clock.advance(seconds=5)
    assert login(client, "b10", "phone-1").headers["Retry-After"] == "1"
    frozen_clock.advance(seconds=1)
    assert login(client, "b10", "phone-1").status_code == 200, "one token back after 6 s"
    assert login(client, "b11", "phone-1").status_code == 429
    frozen_clock.advance(seconds=60)
    assert all(login(client, f"c{n}", "phone-1").status_code == 200 for n in range(10)), "full again, not more"
    assert login(client, "c10", "phone-1").status_code == 429


def test_buyer_logins_from_one_ip_are_limited_whatever_the_device(client, limited, from_ip, monkeypatch):
    monkeypatch.setenv("MALL_LIMIT_BUYER_LOGIN_IP", "3/60")
    from_ip("203.0.113.7")
    for n in range(3):
        assert login(client, f"b{n}", f"phone-{n}").status_code == 200
    refused = login(client, "b3", "phone-3")
    assert (refused.status_code, error(refused)["details"]["scope"]) == (429, "ip")
    assert refused.headers["Retry-After"] == "20"
    from_ip("198.51.100.9")
    assert login(client, "b3", "phone-3").status_code == 200


def test_loopback_sources_are_not_counted_per_ip(client, limited, monkeypatch):
    monkeypatch.setenv("MALL_LIMIT_BUYER_LOGIN_IP", "1/60")
    assert all(login(client, f"b{n}").status_code == 200 for n in range(3)), "127.0.0.1 is the local stack"


def test_without_a_device_id_a_login_is_counted_per_ip_only(client, limited, from_ip, monkeypatch):
    monkeypatch.setenv("MALL_LIMIT_BUYER_LOGIN_DEVICE", "1/60")
    from_ip("203.0.113.7")
    assert all(login(client, f"b{n}").status_code == 200 for n in range(3))
    assert all(login(client, f"b{n}", "bad device id!").status_code == 200 for n in range(3)), "ill-formed: ignored"


# --- refund requests: per buyer -----------------------------------------------------------------

def test_refund_requests_per_buyer_are_limited_even_when_they_fail(client, limited, frozen_clock):
    buyer = client.as_token(buyer_token("U-asker"))
    for _ in range(5):  # MALL_LIMIT_REFUND_REQUEST_BUYER = 5/3600
        assert buyer.post("/orders/01UNKNOWN00000000000000000/refund", {"reason": "不想要了"}).status_code == 404
    refused = buyer.post("/orders/01UNKNOWN00000000000000000/refund", {"reason": "不想要了"})
    assert (refused.status_code, error(refused)["details"]) == (
        429, {"limit": "refund_request", "scope": "buyer", "retry_after_seconds": 720})
    other = client.as_token(buyer_token("U-other"))
    assert other.post("/orders/01UNKNOWN00000000000000000/refund", {"reason": "x"}).status_code == 404
    frozen_clock.advance(seconds=720)
    assert buyer.post("/orders/01UNKNOWN00000000000000000/refund", {"reason": "x"}).status_code == 404


# --- the limiter itself ----------------------------------------------------------------------------

def test_a_refused_request_takes_no_token_from_its_other_buckets(aws, limited, frozen_clock, monkeypatch):
    monkeypatch.setenv("MALL_LIMIT_COUPON_CLAIM_DEVICE", "1/60")
    limits.enforce(COUPON_CLAIM, Caller(buyer_id="U1", device_id="phone-1"))
    with pytest.raises(limits.RateLimited):
        limits.enforce(COUPON_CLAIM, Caller(buyer_id="U1", device_id="phone-1"))
    from chalicelib.core.models import LimitState

    assert LimitState.get("coupon_claim#buyer#U1").tokens == 19, "only the request let through took a token"


def test_off_means_no_limit_and_sandbox_defaults_to_off(aws, frozen_clock, monkeypatch):
    monkeypatch.delenv("MALL_RATE_LIMITS", raising=False)
    assert limits.enabled() is False, "tests and the local stack run in sandbox mode"
    monkeypatch.setenv("MALL_PROVIDERS", "live")
    assert limits.enabled() is True, "a deployed mall is limited unless told otherwise"
    monkeypatch.setenv("MALL_RATE_LIMITS", "on")
    monkeypatch.setenv("MALL_LIMIT_COUPON_CLAIM_BUYER", "off")
    for _ in range(50):
        limits.enforce(COUPON_CLAIM, Caller(buyer_id="U1"))


@pytest.mark.parametrize("text", ["10", "10/0", "0/60", "ten/60", "-1/60", "10/60/2"])
def test_a_malformed_rate_is_a_config_error_naming_the_variable(text, monkeypatch):
    monkeypatch.setenv("MALL_LIMIT_ORDER_SUBMIT_BUYER", text)
    with pytest.raises(ConfigError, match="MALL_LIMIT_ORDER_SUBMIT_BUYER"):
        limits.ORDER_SUBMIT.rate("buyer")


def test_every_limit_is_named_in_the_readme_with_its_default():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for limit in limits.LIMITS:
        for scope, default in limit.defaults:
            assert f"`{limit.env_name(scope)}` | `{default}`" in readme, f"{limit.env_name(scope)} undocumented"


@pytest.mark.parametrize("repeat", range(3))
def test_racing_requests_never_take_more_tokens_than_the_bucket_holds(aws, atomic_dynamodb, frozen_clock, monkeypatch,
                                                                      repeat):
    monkeypatch.setenv("MALL_RATE_LIMITS", "on")
    monkeypatch.setenv("MALL_LIMIT_COUPON_CLAIM_BUYER", "5/60")
    outcomes: list[str] = []

    def claim() -> None:
        try:
            limits.enforce(COUPON_CLAIM, Caller(buyer_id="U-racer"))
            outcomes.append("let through")
        except limits.RateLimited:
            outcomes.append("refused")

    threads = [threading.Thread(target=claim) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes).count("let through") == 5, outcomes


def test_a_token_taken_by_a_write_whose_reply_was_lost_is_taken_once(aws, limited, frozen_clock, monkeypatch):
    monkeypatch.setenv("MALL_LIMIT_COUPON_CLAIM_BUYER", "2/60")
    with reply_lost_after_commit("TransactWriteItems") as lost:
        limits.enforce(COUPON_CLAIM, Caller(buyer_id="U1"))
    assert lost
    limits.enforce(COUPON_CLAIM, Caller(buyer_id="U1"))  # the second token is still there
    with pytest.raises(limits.RateLimited):
        limits.enforce(COUPON_CLAIM, Caller(buyer_id="U1"))


def test_a_handler_limits_itself_in_one_line(aws, limited, frozen_clock, monkeypatch):
    """What the coupon-claim route does: `limits.enforce_for(ctx, limits.COUPON_CLAIM)` (or `limit=` on the route)."""
    from chalice import Chalice
    from chalice.test import Client

    from chalicelib.core.auth import BUYER
    from chalicelib.core.http import Api, Context, error_shape_middleware

    monkeypatch.setenv("MALL_LIMIT_COUPON_CLAIM_BUYER", "1/60")
    api = Api(__name__, tag="test")

    @api.route("/claim", "POST", auth=BUYER)
    def claim(ctx: Context):
        limits.enforce_for(ctx, limits.COUPON_CLAIM)
        return {"claimed": True}

    app = Chalice(app_name="limits-test")
    app.register_blueprint(api.blueprint)
    app.register_middleware(error_shape_middleware, "http")
    with Client(app) as http_client:
        headers = {"Authorization": f"Bearer {buyer_token('U1')}"}
        assert http_client.http.post("/claim", headers=headers).status_code == 200
        refused = http_client.http.post("/claim", headers=headers)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"


def test_limited_routes_document_429_and_the_device_header(client):
    paths = client.get("/openapi.json").data["paths"]
    for path, method in (("/auth/login", "post"), ("/orders", "post"), ("/orders/{order_id}/refund", "post")):
        operation = paths[path][method]
        assert "429" in operation["responses"], path
        assert "X-Device-Id" in [p["name"] for p in operation.get("parameters", [])], path


def test_a_limit_names_its_environment_variables():
    assert Limit("coupon_claim", ()).env_name("device") == "MALL_LIMIT_COUPON_CLAIM_DEVICE"
