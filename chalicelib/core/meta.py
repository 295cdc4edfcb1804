"""Routes every deployment serves about itself: its OpenAPI document and a health check."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from chalicelib.core.http import Api, Context, json_response


def create_meta_api(served_apis: Callable[[], Iterable[Api]], features: Iterable[str]) -> Api:
    api = Api(__name__, tag="meta")
    feature_names = list(features)
    document: dict = {}

    @api.route("/openapi.json", "GET", summary="OpenAPI 3 document for this deployment's routes")
    def openapi(ctx: Context):
        if not document:
            from chalicelib.core import openapi as builder  # lazy: only this route needs it

            document.update(builder.build([*served_apis(), api]))
        return json_response(document)

    @api.route("/health", "GET", response="chalicelib.core.schema:Health",
               summary="liveness and the features this function serves")
    def health(ctx: Context) -> dict:
        return {"status": "ok", "features": feature_names}

    return api
