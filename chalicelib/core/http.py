"""HTTP edge shared by every feature: routes that validate, authorize and answer JSON.

A feature declares its routes on an `Api` (a Chalice Blueprint plus the metadata
/openapi.json renders). The wrapper parses the body and query with their models,
authenticates, calls the handler, and shapes every outcome, including every
failure, as JSON. A stack trace never reaches a client.

Models may be named lazily, as "package.module:Model": pydantic and a feature's
models are then imported by the first request that validates or documents, not
by a cold start whose first request is a plain read. A lazily named request model
whose JSON schema is committed (core/input_schemas.py) is validated without
pydantic at all, and a handler may answer with a runtime view (core/views.py),
documented by a model made from the view only when the document is built: the
requests a cold start mostly answers never import pydantic.
"""
from __future__ import annotations

import importlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import field
from functools import cache
from typing import Any

from chalice import Blueprint, Response

from chalicelib.core import auth, logs
from chalicelib.core.db import is_connection_failure, is_throttle
from chalicelib.core.errors import BadRequest, MallError, ServiceUnavailable, error_body, invalid_input
from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)
from chalicelib.core.views import jsonable

log = logging.getLogger("micromall")

JSON_TYPE = "application/json; charset=utf-8"
MAX_BODY_BYTES = 256 * 1024


@dataclass(frozen=True)
class Header:
    """A request header a route reads, for its OpenAPI document (the handler checks it)."""
    name: str
    description: str
    required: bool = False
    schema: tuple[tuple[str, Any], ...] = (("type", "string"),)


IDEMPOTENCY_KEY = Header("Idempotency-Key", "a new random key per new order; the same key returns the same order",
                         required=True, schema=(("type", "string"), ("pattern", "^[0-9A-Za-z_.:-]{8,64}$")))


@dataclass
class Operation:
    """One route, described well enough to serve it and to document it."""
    path: str
    method: str
    handler: Callable[..., Any]
    tag: str
    summary: str
    body: Any = None  # a pydantic model class, or its lazy name "module:Model"
    query: Any = None
    response: Any = None  # a pydantic model, a runtime view (core/views.py) or a list of them, or a lazy name
    status: int = 200
    auth: auth.Requirement | None = None
    errors: tuple[int, ...] = ()
    content_types: tuple[str, ...] = ("application/json",)
    headers: tuple[Header, ...] = ()
    # A body the handler reads raw (a provider's signed notification: the signature covers the bytes):
    # described in the document, in the route's content type, and never parsed before the handler.
    documented_body: Any = None
    # Replies in a provider's own shapes instead of the mall's (status -> (media type, model or JSON schema)):
    # what a webhook answers its provider, documented as it is sent.
    replies: dict[int, tuple[str, Any]] | None = None
    limit: Any = None  # a chalicelib.core.limits.Limit taken before the handler runs


DEVICE_ID = Header("X-Device-Id", "the client's device id (1-64 of [0-9A-Za-z_.:-]); requests are also "
                                  "rate-limited per device")


@dataclass
class Context:
    """What a handler gets besides its path parameters."""
    principal: auth.Principal | None
    body: Any
    query: Any
    headers: Mapping[str, str]
    raw_body: bytes = b""  # exactly as received: webhook signatures are computed over these bytes
    source_ip: str | None = None  # API Gateway's `identity.sourceIp` (the TCP peer, not a header)

    @property
    def user_id(self) -> str:
        assert self.principal is not None, "route declared without auth"
        return self.principal.subject


@dataclass
class Api:
    """A feature's routes: its Chalice Blueprint and their OpenAPI descriptions."""
    import_name: str
    tag: str
    operations: list[Operation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.blueprint = Blueprint(self.import_name)

    def route(self, path: str, method: str, *, summary: str = "", body: Any = None,
              query: Any = None, response: Any = None, status: int = 200,
              auth: auth.Requirement | None = None, errors: tuple[int, ...] = (),
              content_types: tuple[str, ...] | None = None, headers: tuple[Header, ...] = (),
              documented_body: Any = None, replies: dict[int, tuple[str, Any]] | None = None,
              limit: Any = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """`limit`: a chalicelib.core.limits.Limit the edge enforces (429 + Retry-After) before the handler."""
        if content_types is None:  # a route without a JSON body ignores the Content-Type
            content_types = ("application/json",) if body is not None else ("*/*",)
        if limit is not None:
            errors = tuple(sorted(set(errors) | {429}))
            if not any(header.name.lower() == DEVICE_ID.name.lower() for header in headers):  # documented once
                headers = (*headers, DEVICE_ID)

        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            op = Operation(path=path, method=method, handler=handler, tag=self.tag,
                           summary=summary or (handler.__doc__ or "").strip().split("\n")[0],
                           body=body, query=query, response=response, status=status, auth=auth,
                           errors=errors, content_types=content_types, headers=headers,
                           documented_body=documented_body, replies=replies, limit=limit)
            self.operations.append(op)
            blueprint = self.blueprint

            def view(**path_params: str) -> Response:
                return serve(op, blueprint.current_request, path_params)

            view.__name__ = f"{handler.__name__}_{method.lower()}"
            blueprint.route(path, methods=[method], content_types=list(content_types))(view)
            return handler
        return register


def serve(op: Operation, request: Any, path_params: dict[str, str]) -> Response:
    logs.bind(**{key: value for key, value in path_params.items() if key.endswith("_id")})
    try:
        principal = auth.authenticate(request.headers, op.auth) if op.auth else None
        if principal is not None:
            logs.bind(**{"staff" if principal.is_staff else "buyer_id": principal.subject})
            if op.auth.is_staff:  # every staff route: the account as it stands now (401/403)
                principal = auth.admit_staff(principal, op.auth)
        source_ip = source_ip_of(request)
        if op.limit is not None:
            from chalicelib.core import limits  # lazy: a cold start on an unlimited route never imports it

            limits.enforce(op.limit, limits.caller_of(principal, request.headers, source_ip))
        context = Context(
            principal=principal,
            body=parse_body(request, op.body) if op.body else None,
            query=parse_query(request, op.query) if op.query else None,
            headers=request.headers,
            raw_body=request.raw_body or b"",
            source_ip=source_ip,
        )
        result = op.handler(context, **path_params)
        if isinstance(result, Response):
            return result
        if response_observer is not None:
            response_observer(op, result)
        return json_response(result, op.status)
    except MallError as exc:
        return error_response(exc)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        return unexpected_error_response(exc, request)


EDGE_PROOF = "x-mall-edge"  # core/edge.py


def source_ip_of(request: Any) -> str | None:
    """The caller's address: the viewer's when the shop's CloudFront vouches for it (core/edge.py), else the connection's."""
    headers = getattr(request, "headers", None) or {}
    if EDGE_PROOF in headers:
        from chalicelib.core import edge  # lazy: only requests through the shop's CloudFront carry the proof

        vouched = edge.viewer_ip(headers)
        if vouched is not None:
            return vouched
    identity = (getattr(request, "context", None) or {}).get("identity") or {}
    return identity.get("sourceIp") or None


@cache
def _import_model(reference: str) -> Any:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


def resolve(model: Any) -> Any:
    """A model given as a class, or by its lazy name "package.module:Model"."""
    return _import_model(model) if isinstance(model, str) else model


def documenting_model(model: Any) -> Any:
    """What documents `model` in /openapi.json: a pydantic model itself, a runtime view (or a type made of views,
    `list[Address]`) the model made from the view (core/schema.view_model). Never called on a request path."""
    from chalicelib.core.schema import documented

    return documented(resolve(model))


# Called with each route's answer before it is sent (not a Response the handler built itself). Tests install one
# that holds every answer to its route's documented model (tests/contracts.py); nothing does in Lambda.
response_observer: Callable[[Operation, Any], None] | None = None


def parse_body(request: Any, model: Any) -> Any:
    """The request's JSON object, validated by `model` (a class, or a lazy name: committed schema or pydantic)."""
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"body larger than {MAX_BODY_BYTES} bytes", code="BODY_TOO_LARGE")
    if not raw.strip():
        raw = b"{}"
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested deeper than Python's stack
        raise BadRequest("body is not valid JSON", code="INVALID_JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object", code="INVALID_JSON")
    check_json_value(data)
    return validate(model, data)


MAX_DEPTH = 32  # no request of the mall nests deeper than a few levels
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def check_json_value(data: Any) -> None:
    """Refuse what JSON parses but the mall cannot hold: deep nesting, lone surrogates (`"\\ud800"`).

    A lone surrogate is valid JSON but not Unicode: it cannot be encoded to UTF-8, so
    it would fail later, in DynamoDB's request or in the response, as a 500. The walk
    is iterative: a body nested just below the parser's limit must not exhaust the
    stack here either.
    """
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if not value.isascii() and _LONE_SURROGATE.search(value):
                raise BadRequest("body holds a string that is not valid Unicode", code="INVALID_JSON")
        elif isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise BadRequest(f"body nested deeper than {MAX_DEPTH} levels", code="INVALID_JSON")
            items = value.items() if isinstance(value, dict) else ((None, item) for item in value)
            for key, item in items:
                if key is not None:
                    pending.append((key, depth))
                pending.append((item, depth + 1))


def parse_query(request: Any, model: Any) -> Any:
    return validate(model, dict(request.query_params or {}), query=True)


def validate(model: Any, data: dict[str, Any], *, query: bool = False) -> Any:
    """`data` validated by `model`: against its committed schema when it has one, else by pydantic."""
    if isinstance(model, str):
        from chalicelib.core import input_schemas

        entry = input_schemas.committed(model)
        if entry is not None:
            return input_schemas.validate(entry, data, query=query)
        model = resolve(model)
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input([(err["loc"], err["msg"])
                             for err in exc.errors(include_url=False, include_input=False)]) from None


to_jsonable = jsonable  # the name this module gave it first


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if status == 204:
        return Response(body="", status_code=204, headers=headers or {})
    body = json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":"))
    return Response(body=body, status_code=status, headers={"Content-Type": JSON_TYPE, **(headers or {})})


def error_response(exc: MallError) -> Response:
    return json_response(exc.to_body(), exc.status, exc.headers)


def unexpected_error_response(exc: Exception, request: Any) -> Response:
    if is_throttle(exc):
        log.warning("DynamoDB throttled %s", getattr(request, "path", "?"))
        return error_response(ServiceUnavailable("the shop is busy, retry shortly", code="BUSY"))
    if is_connection_failure(exc):
        log.warning("DynamoDB unreachable or its answer lost on %s: %s", getattr(request, "path", "?"), exc)
        return error_response(ServiceUnavailable("the shop is busy, retry shortly with the same request",
                                                 code="BUSY"))
    log.exception("unhandled error on %s", getattr(request, "path", "?"))
    return json_response(error_body("INTERNAL", "an internal error occurred"), 500)


# Chalice answers some failures itself (405, 415, its own 500) with a body of
# {"Code", "Message"}; this middleware gives them the mall's error shape.
_CHALICE_CODES = {
    "MethodNotAllowedError": "METHOD_NOT_ALLOWED", "UnsupportedMediaType": "UNSUPPORTED_MEDIA_TYPE",
    "BadRequestError": "BAD_REQUEST", "BadRequest": "BAD_REQUEST", "NotFoundError": "NOT_FOUND",
    "InternalServerError": "INTERNAL",
}


def error_shape_middleware(event: Any, get_response: Callable[[Any], Response]) -> Response:
    try:
        response = get_response(event)
    except Exception as exc:  # noqa: BLE001
        return unexpected_error_response(exc, event)
    body = response.body
    if isinstance(body, dict) and set(body) == {"Code", "Message"}:
        code = _CHALICE_CODES.get(str(body["Code"]), "ERROR")
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
        message = "an internal error occurred" if response.status_code >= 500 else str(body["Message"])
        return json_response(error_body(code, message), response.status_code, headers)
    return response
