"""What the API document declares beyond paths and bodies: headers, servers, a split deployment, live mode."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from chalicelib.core import config
from infra.apps import built_app, shape

ROOT = Path(__file__).resolve().parents[2]


def operation(document: dict, path: str, method: str) -> dict:
    return document["paths"][path][method]


def test_placing_an_order_declares_the_idempotency_key_header_the_service_checks(client):
    from chalicelib.core.idempotency import KEY_PATTERN

    document = client.get("/openapi.json").data
    headers = {p["name"]: p for p in operation(document, "/orders", "post")["parameters"] if p["in"] == "header"}
    assert set(headers) == {"Idempotency-Key", "X-Device-Id"}, "the key, and the device the rate limit counts"
    header = headers["Idempotency-Key"]
    assert header["required"] is True and headers["X-Device-Id"]["required"] is False
    assert header["schema"]["pattern"] == KEY_PATTERN.pattern
    for key, accepted in [("k" * 8, True), ("order-2026:01.a_b", True), ("short", False), ("no spaces!", False)]:
        assert bool(re.fullmatch(header["schema"]["pattern"], key)) is accepted, key


def test_servers_name_the_host_asked_or_the_public_url(client, monkeypatch):
    document = client.get("/openapi.json", headers={"Host": "shop.example:8000"}).data
    assert document["servers"] == [{"url": "http://shop.example:8000"}]
    forwarded = client.get("/openapi.json", headers={"Host": "api.shop.example", "X-Forwarded-Proto": "https"}).data
    assert forwarded["servers"] == [{"url": "https://api.shop.example"}]
    monkeypatch.setenv("MALL_PUBLIC_URL", "https://api.mall.example")
    assert client.get("/openapi.json").data["servers"] == [{"url": "https://api.mall.example"}]
    assert client.get("/openapi.json", headers={"Host": "bad host/<x>"}).status_code == 200


def test_sandbox_only_routes_are_left_out_in_live_mode(client, monkeypatch):
    assert "/payments/sandbox/pay" in client.get("/openapi.json").data["paths"]  # the tests run the sandbox
    monkeypatch.setenv("MALL_PROVIDERS", "live")
    live = client.get("/openapi.json").data
    assert "/payments/sandbox/pay" not in live["paths"] and "/payments/prepay" in live["paths"]


@pytest.mark.parametrize("feature", ["catalog", "members", "checkout"])
def test_a_feature_stage_documents_its_public_urls(aws, feature, tmp_path):
    from chalice.test import Client

    bases = shape(feature).base_paths
    with built_app((feature,), bases) as app, Client(app, project_dir=str(tmp_path)) as client:
        response = client.http.get("/openapi.json")  # API Gateway stripped the base path
    document = json.loads(response.body)
    validate(document)
    expected = {(path, method.lower()) for path, method in shape(feature).routes}
    expected |= {(f"/{bases[0]}/health", "get"), (f"/{bases[0]}/openapi.json", "get")}
    assert {(path, method) for path, item in document["paths"].items() for method in item} == expected


def test_infra_openapi_writes_one_valid_document_of_every_live_route(tmp_path):
    output = tmp_path / "openapi.json"
    subprocess.run([sys.executable, "-m", "infra", "openapi", "--output", str(output),
                    "--server", "https://api.shop.example"], cwd=ROOT, check=True, timeout=120)
    document = json.loads(output.read_text())
    validate(document)
    assert document["servers"] == [{"url": "https://api.shop.example"}]
    expected = {(path, method.lower()) for feature in config.ALL_FEATURES for path, method in shape(feature).routes
                if "sandbox" not in path.split("/")}
    assert {(path, method) for path, item in document["paths"].items() for method in item} == expected
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
