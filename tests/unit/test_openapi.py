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


def test_webhook_replies_are_documented_in_the_providers_shapes_not_the_malls(client):
    import json

    from jsonschema import validate as validate_json

    from chalicelib.payments.providers.wechatpay import REJECT_STATUS
    document = client.get("/openapi.json").data
    wechat = document["paths"]["/payments/wechat/notify"]["post"]["responses"]
    alipay = document["paths"]["/payments/alipay/notify"]["post"]["responses"]
    assert set(wechat) == {"204"} | {str(status) for status in set(REJECT_STATUS.values()) | {500}}, \
        f"every status the WeChat webhook answers is documented, and only those: {sorted(wechat)}"
    assert "content" not in wechat["204"]
    failure = document["components"]["schemas"]["WeChatPayFailure"]
    for status in set(wechat) - {"204"}:
        assert wechat[status]["content"]["application/json"]["schema"]["$ref"].endswith("/WeChatPayFailure")
    sent = json.loads('{"code": "FAIL", "message": "the signature does not match"}')
    validate_json(sent, failure)
    assert set(alipay) == {"200"}
    assert alipay["200"]["content"]["text/plain"]["schema"]["enum"] == ["success", "fail"]


def test_what_the_webhooks_answer_a_forged_notification_is_what_the_document_says(client):
    from jsonschema import validate as validate_json

    document = client.get("/openapi.json").data
    failure = document["components"]["schemas"]["WeChatPayFailure"]
    response = client.post("/payments/wechat/notify", raw=b'{"id": "forged"}')
    assert str(response.status_code) in document["paths"]["/payments/wechat/notify"]["post"]["responses"]
    validate_json(response.data, failure)
    response = client._client.http.post("/payments/alipay/notify", body=b"notify_id=forged&sign=x",
                                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (response.status_code, response.body) == (200, b"fail")


def test_two_different_models_of_one_name_are_refused_in_the_document():
    import pytest
    from pydantic import BaseModel

    from chalicelib.core.openapi import _schema_of

    def model(field: str) -> type[BaseModel]:
        return type("TemplateView", (BaseModel,), {"__annotations__": {field: str}})

    schemas: dict = {}
    _schema_of(model("kind"), schemas)
    _schema_of(model("kind"), schemas)  # the same shape again is the same component
    with pytest.raises(ValueError, match="TemplateView"):
        _schema_of(model("template_id"), schemas)
