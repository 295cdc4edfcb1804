"""The HTTP edge: validation, auth and every failure answer in the mall's JSON error shape."""
from __future__ import annotations

import json

import pytest
from chalice import Chalice
from chalice.test import Client
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from chalicelib.core import auth
from chalicelib.core.errors import Conflict
from chalicelib.core.http import Api, Context, error_shape_middleware
from tests.conftest import buyer_token, staff_token
from tests.faults import throttled


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku_id: str = Field(min_length=1, max_length=32)
    quantity: StrictInt = Field(ge=1, le=99)


class Page(BaseModel):
    limit: int = Field(default=20, ge=1, le=50)


def build_app() -> Chalice:
    api = Api(__name__, tag="test")

    @api.route("/things", "POST", body=Item, status=201, auth=auth.BUYER)
    def add(ctx: Context):
        return {"owner": ctx.user_id, "sku_id": ctx.body.sku_id, "quantity": ctx.body.quantity}

    @api.route("/things", "GET", query=Page)
    def listing(ctx: Context):
        return {"limit": ctx.query.limit, "名": "中文"}

    @api.route("/staff-only", "GET", auth=auth.STAFF)
    def staff_only(ctx: Context):
        return {"role": ctx.principal.role}

    @api.route("/owner-only", "GET", auth=auth.OWNER)
    def owner_only(ctx: Context):
        return {"ok": True}

    @api.route("/conflict", "POST")
    def conflict(ctx: Context):
        raise Conflict("sold out", code="OUT_OF_STOCK")

    @api.route("/boom", "GET")
    def boom(ctx: Context):
        raise RuntimeError("secret internals: /var/task/app.py line 3")

    @api.route("/throttled", "GET")
    def throttled_route(ctx: Context):
        from botocore.exceptions import ClientError

        raise ClientError(throttled(), "GetItem")

    app = Chalice(app_name="http-test")
    app.register_blueprint(api.blueprint)
    app.register_middleware(error_shape_middleware, "http")
    return app


@pytest.fixture
def http(frozen_clock):
    with Client(build_app()) as client:
        yield client.http


def call(http, method, path, body=None, token=None, raw=None, headers=None):
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
    response = http.request(method, path, headers=all_headers, body=payload)
    return response.status_code, json.loads(response.body) if response.body else None, response.headers


def test_valid_request_reaches_the_handler_with_the_buyer_from_the_token(http):
    status, body, headers = call(http, "POST", "/things", {"sku_id": "S1", "quantity": 2}, buyer_token("U1"))
    assert status == 201
    assert body == {"owner": "U1", "sku_id": "S1", "quantity": 2}
    assert headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("body, field", [
    ({"sku_id": "S1", "quantity": "2"}, "quantity"),
    ({"sku_id": "S1", "quantity": 0}, "quantity"),
    ({"sku_id": "S1", "quantity": 2, "price": 1}, "price"),
    ({"quantity": 2}, "sku_id"),
    ({"sku_id": "S1", "quantity": True}, "quantity"),
])
def test_bad_fields_are_400_naming_the_field(http, body, field):
    status, answer, _ = call(http, "POST", "/things", body, buyer_token())
    assert status == 400, answer
    assert answer["error"]["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in answer["error"]["details"]]


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", "\"text\"", "\xff"])
def test_a_body_that_is_not_a_json_object_is_400(http, raw):
    status, answer, _ = call(http, "POST", "/things", raw=raw, token=buyer_token())
    assert status == 400 and answer["error"]["code"] == "INVALID_JSON"


def test_an_oversized_body_is_400(http):
    status, answer, _ = call(http, "POST", "/things", raw=json.dumps({"sku_id": "x" * 300_000}), token=buyer_token())
    assert status == 400 and answer["error"]["code"] == "BODY_TOO_LARGE"


def test_query_parameters_are_validated(http):
    assert call(http, "GET", "/things?limit=5")[1] == {"limit": 5, "名": "中文"}
    status, answer, _ = call(http, "GET", "/things?limit=500")
    assert status == 400 and answer["error"]["details"][0]["field"] == "limit"


@pytest.mark.parametrize("authorization", [None, "Bearer", "Basic abc", "Bearer not.a.jwt"])
def test_missing_or_malformed_tokens_are_401(http, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    status, answer, _ = call(http, "POST", "/things", {"sku_id": "S", "quantity": 1}, headers=headers)
    assert status == 401, answer


def test_a_tampered_token_is_401(http):
    token = buyer_token("U1")
    header, payload, signature = token.split(".")
    forged = ".".join([header, payload, ("A" if signature[0] != "A" else "B") + signature[1:]])
    status, answer, _ = call(http, "POST", "/things", {"sku_id": "S", "quantity": 1}, forged)
    assert status == 401 and answer["error"]["code"] == "INVALID_TOKEN"


def test_an_expired_token_is_401(http, frozen_clock):
    token = buyer_token("U1")
    frozen_clock.advance(auth.BUYER_TOKEN_SECONDS + 1)
    status, answer, _ = call(http, "POST", "/things", {"sku_id": "S", "quantity": 1}, token)
    assert status == 401 and answer["error"]["code"] == "TOKEN_EXPIRED"


def test_a_token_signed_with_another_key_is_401(http):
    import jwt

    forged = jwt.encode({"iss": "micromall", "aud": auth.STAFF_AUDIENCE, "sub": "admin", "role": "owner",
                         "iat": 1, "exp": 4_000_000_000}, "guessed-key-guessed-key-guessed-key", algorithm="HS256")
    status, _, _ = call(http, "GET", "/staff-only", token=forged)
    assert status == 401


def test_buyer_token_on_a_staff_route_is_403_and_staff_on_buyer_route_too(http):
    assert call(http, "GET", "/staff-only", token=buyer_token())[0] == 403
    assert call(http, "POST", "/things", {"sku_id": "S", "quantity": 1}, staff_token())[0] == 403


def test_operator_on_an_owner_route_is_403(aws, http):
    from chalicelib.admin import service
    from chalicelib.admin.passwords import ScryptCost

    for username, role in (("op", "operator"), ("boss", "owner")):
        service.create_staff(username, f"{username}-password", role, cost=ScryptCost(n=2**4, r=8, p=1))
    assert call(http, "GET", "/owner-only", token=staff_token("op", "operator"))[0] == 403
    assert call(http, "GET", "/owner-only", token=staff_token("boss", "owner"))[0] == 200


def test_every_staff_route_goes_through_the_staff_gate(http, monkeypatch):
    admitted = []

    def gate(principal, requirement):
        admitted.append((principal.subject, requirement))
        return principal

    monkeypatch.setattr(auth, "STAFF_GATE", f"{__name__}:recording_gate")
    monkeypatch.setitem(globals(), "recording_gate", gate)
    assert call(http, "GET", "/staff-only", token=staff_token("li", "operator"))[0] == 200
    assert admitted == [("li", auth.STAFF)]
    assert call(http, "POST", "/things", {"sku_id": "S1", "quantity": 1}, buyer_token("U1"))[0] == 201
    assert len(admitted) == 1, "a buyer route does not consult the staff gate"


def test_typed_errors_choose_the_status(http):
    status, answer, _ = call(http, "POST", "/conflict")
    assert (status, answer) == (409, {"error": {"code": "OUT_OF_STOCK", "message": "sold out"}})


def test_an_unexpected_exception_is_a_bare_500_without_internals(http):
    status, answer, _ = call(http, "GET", "/boom")
    assert status == 500
    assert answer == {"error": {"code": "INTERNAL", "message": "an internal error occurred"}}


def test_dynamodb_throttling_is_503_with_retry_after(http):
    status, answer, headers = call(http, "GET", "/throttled")
    assert status == 503 and answer["error"]["code"] == "BUSY"
    assert headers["Retry-After"] == "1"


def test_chalice_own_errors_get_the_mall_shape(http):
    status, answer, headers = call(http, "DELETE", "/things")
    assert status == 405 and answer["error"]["code"] == "METHOD_NOT_ALLOWED"
    status, answer, _ = call(http, "POST", "/things", {"sku_id": "S", "quantity": 1}, buyer_token(),
                             headers={"Content-Type": "text/xml"})
    assert status == 415 and answer["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"

