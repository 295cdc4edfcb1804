"""OpenAPI 3.1 for the routes of the features this deployment serves.

Built from the same pydantic models that validate requests (or whose committed
JSON schemas do, core/input_schemas.py), so the document cannot drift from what the
code accepts; an answer shaped by a runtime view is documented by the model made from
the view's own annotations (core/schema.view_model). Paths are public URLs, as a buyer's phone
calls them: a feature stage mounted at a base path (`catalog`) documents
`/catalog/products`, and its own `/health` and `/openapi.json` under that base path.
Routes with a `sandbox` path segment exist only for the local twins of the payment
providers and are left out unless `MALL_PROVIDERS=sandbox`. `servers` is
`MALL_PUBLIC_URL` when set (the custom domain), else the host the document was read from.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, TypeAdapter

from chalicelib.core.http import Api, Operation, documenting_model, resolve

REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{([^}]+)}")

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "details": {}},
    }},
}
ERROR_DESCRIPTIONS = {
    400: "invalid input", 401: "missing, expired or invalid token", 403: "not allowed for this caller",
    404: "not found", 409: "conflict with the current state", 415: "unsupported media type",
    422: "well-formed but not possible", 429: "too many requests",
    503: "busy; retry after the Retry-After header",
}


def is_sandbox_only(path: str) -> bool:
    return "sandbox" in path.strip("/").split("/")


def build(apis: Iterable[Api], title: str = "micromall", version: str = "1.0.0", *,
          servers: Iterable[str] = (), meta_prefix: str = "", sandbox: bool | None = None) -> dict[str, Any]:
    """The document of `apis`; `meta_prefix` ("/catalog") places the meta routes of a mounted feature stage."""
    from chalicelib.core import config

    if sandbox is None:
        sandbox = config.env("MALL_PROVIDERS", "live") == "sandbox"
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    for api in apis:
        for op in api.operations:
            if is_sandbox_only(op.path) and not sandbox:
                continue
            path = meta_prefix + op.path if op.tag == "meta" else op.path
            paths.setdefault(path, {})[op.method.lower()] = _operation(op, schemas)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "Serverless micro-mall backend for WeChat mini-program shops. Money is integer fen."},
    }
    if servers:
        document["servers"] = [{"url": url} for url in servers]
    return {
        **document,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _schema_of(annotation: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    annotation = documenting_model(annotation)  # a runtime view by the model made from it
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        schema = annotation.model_json_schema(ref_template=REF)
    else:
        schema = TypeAdapter(annotation).json_schema(ref_template=REF)
    for name, definition in schema.pop("$defs", {}).items():
        _register(schemas, name, definition)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        _register(schemas, annotation.__name__, schema)
        return {"$ref": REF.format(model=annotation.__name__)}
    return schema


def _register(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    """Components are named after their models: two different models of one name would make one reference
    mean two shapes (a generated client then sends the wrong body), so that is refused where it is built."""
    if schemas.get(name, schema) != schema:
        raise ValueError(f"two different models are both named {name!r} in the API document: rename one")
    schemas[name] = schema


def _operation(op: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"tags": [op.tag], "summary": op.summary,
                           "operationId": f"{op.tag}_{op.handler.__name__}",
                           "parameters": _parameters(op), "responses": _responses(op, schemas)}
    if op.auth:
        doc["security"] = [{"bearer": []}]
    if op.body is not None:
        doc["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": _schema_of(op.body, schemas)}}}
    elif op.documented_body is not None:
        media_type = next((kind for kind in op.content_types if kind != "*/*"), "application/json")
        doc["requestBody"] = {"required": True, "content": {media_type: {"schema": _schema_of(op.documented_body,
                                                                                              schemas)}}}
    return doc


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params = [{"name": name, "in": "path", "required": True,
               "schema": {"type": "string", "minLength": 1, "maxLength": 64}}
              for name in _PATH_PARAM.findall(op.path)]
    params += [{"name": header.name, "in": "header", "required": header.required,
                "description": header.description, "schema": dict(header.schema)} for header in op.headers]
    if op.query is not None:
        query_schema = resolve(op.query).model_json_schema()
        required = set(query_schema.get("required", []))
        for name, prop in query_schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    return params


def _responses(op: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    if op.replies is not None:
        return _provider_replies(op.replies, schemas)
    success: dict[str, Any] = {"description": "success"}
    if op.response is not None and op.status != 204:
        success["content"] = {"application/json": {"schema": _schema_of(op.response, schemas)}}
    responses: dict[str, Any] = {str(op.status): success}
    codes = set(op.errors) | {503}
    if op.body is not None or op.query is not None:
        codes.add(400)
    if op.auth is not None:
        codes |= {401, 403}
    if "{" in op.path:
        codes.add(404)
    for code in sorted(codes):
        responses[str(code)] = {"description": ERROR_DESCRIPTIONS.get(code, "error"), "content": {
            "application/json": {"schema": {"$ref": REF.format(model="Error")}}}}
    return responses


def _provider_replies(replies: dict[int, tuple[str, Any]], schemas: dict[str, Any]) -> dict[str, Any]:
    """A webhook's replies as its provider reads them: a status without a shape has no body."""
    responses: dict[str, Any] = {}
    for code, (media_type, shape) in sorted(replies.items()):
        reply: dict[str, Any] = {"description": ERROR_DESCRIPTIONS.get(code, "success") if code >= 300 else "success"}
        if shape is not None:
            schema = shape if isinstance(shape, dict) else _schema_of(shape, schemas)
            reply["content"] = {media_type: {"schema": schema}}
        responses[str(code)] = reply
    return responses
