"""GET /openapi.json documents every registered route with schemas from the validating models."""
from __future__ import annotations

import re

from openapi_spec_validator import validate


def routes_of(app) -> set[tuple[str, str]]:
    return {(path, method.lower()) for path, methods in app.routes.items() for method in methods}


def test_openapi_is_valid_and_covers_every_route(app, client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.data
    validate(document)
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == routes_of(app)


def test_provider_notifications_are_documented_as_the_providers_send_them(client):
    paths = client.get("/openapi.json").data["paths"]
    wechat, alipay = paths["/payments/wechat/notify"]["post"], paths["/payments/alipay/notify"]["post"]
    assert wechat["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/WeChatPayNotification")
    assert "204" in wechat["responses"] and "200" not in wechat["responses"], "the webhook answers WeChat 204"
    assert {p["name"] for p in wechat["parameters"] if p["required"]} == {
        "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"}
    form = alipay["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert form["schema"]["$ref"].endswith("/AlipayNotification")


def test_request_bodies_and_responses_reference_component_schemas(client):
    document = client.get("/openapi.json").data
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody")
            if body:  # JSON, or the form Alipay posts
                [content] = body["content"].values()
                assert content["schema"]["$ref"].rsplit("/", 1)[1] in schemas, (method, path)
            for name in re.findall(r"{([^}]+)}", path):
                assert name in [p["name"] for p in operation["parameters"] if p["in"] == "path"]
            if operation.get("security"):
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
