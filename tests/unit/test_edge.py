"""Behind the shop's CloudFront (infra/web.py) the caller's address is the viewer's, and only with the edge's proof."""
from __future__ import annotations

import pytest

from chalicelib.core import config, edge
from tests.conftest import buyer_token, staff_token

SECRET = "s" * 48
EDGE_IP = "198.51.100.20"  # what API Gateway sees: the CloudFront server's address


@pytest.fixture(autouse=True)
def through_cloudfront(monkeypatch):
    from chalice.local import LambdaEventConverter

    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", EDGE_IP)
    monkeypatch.setenv("MALL_EDGE_SECRET", SECRET)
    config.secret.cache_clear()
    edge._forget()
    yield
    edge._forget()


def viewer(address: str, proof: str = SECRET) -> dict[str, str]:
    return {"CloudFront-Viewer-Address": address, "X-Mall-Edge": proof}


@pytest.mark.parametrize("address, expected", [
    ("203.0.113.9:51234", "203.0.113.9"),
    ("2001:db8::1:443", "2001:db8::1"),
    ("[2001:db8::7]:443", "2001:db8::7"),
    ("not-an-address:1", None),
    ("", None),
])
def test_the_viewer_address_is_read_with_its_port_dropped(address, expected):
    assert edge.viewer_ip({"cloudfront-viewer-address": address, "x-mall-edge": SECRET}) == expected


def test_without_the_proof_or_with_a_wrong_one_nothing_is_vouched():
    assert edge.viewer_ip({"cloudfront-viewer-address": "203.0.113.9:1"}) is None
    assert edge.viewer_ip({"cloudfront-viewer-address": "203.0.113.9:1", "x-mall-edge": "guess" * 10}) is None


def test_an_environment_without_an_edge_secret_vouches_for_nobody(monkeypatch):
    monkeypatch.delenv("MALL_EDGE_SECRET")
    monkeypatch.delenv("MALL_SSM_PREFIX", raising=False)
    config.secret.cache_clear()
    assert edge.viewer_ip({"cloudfront-viewer-address": "203.0.113.9:1", "x-mall-edge": SECRET}) is None


def fail_login(client, headers: dict[str, str], username: str = "nobody"):
    # a username locks after 5 failures: each attempt names another, so only the per-IP lock can answer 429
    return client.post("/admin/login", {"username": username, "password": "a-wrong-guess"}, headers=headers)


def test_per_ip_lockout_counts_each_viewer_not_the_edge_server(client):
    for number in range(20):  # the per-IP lock: 20 failures over any usernames
        fail_login(client, viewer("203.0.113.9:5000"), f"guess-{number}")
    assert fail_login(client, viewer("203.0.113.9:5001"), "guess-a").status_code == 429
    neighbour = fail_login(client, viewer("203.0.113.10:5000"), "guess-b")
    assert neighbour.status_code == 401, "another buyer near the same edge is not locked out with the first"


def test_a_caller_naming_any_address_without_the_proof_is_judged_by_its_connection(client):
    for number in range(20):
        fail_login(client, viewer(f"203.0.113.{number}:5000", proof="forged" * 8), f"guess-{number}")
    assert fail_login(client, {}, "guess-a").status_code == 429, "the forged addresses all counted as the connection's"


def first_operation(feature: str):
    from infra.apps import routes_module

    operations = routes_module(feature).api.operations
    return operations[0] if operations else None


def test_every_api_function_reads_the_edge_secret_when_a_request_carries_the_proof(client):
    """Each API function's role needs ssm:GetParameter on edge_secret; the access recorder sees this read."""
    from infra.stages import all_features

    for feature in all_features():
        op = first_operation(feature)
        if op is None:
            continue
        path = op.path.replace("{", "").replace("}", "")  # path parameters that name nothing: a 404 is fine
        token = None if op.auth is None else staff_token() if op.auth.is_staff else buyer_token()
        headers = viewer("203.0.113.9:5000")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = client.call(op.method, path, headers=headers)
        assert response.status_code < 500, (feature, op.path, response.data)
