"""Routes every deployment serves about itself: its OpenAPI document and a health check."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from chalicelib.core.http import Api, Context, json_response


def create_meta_api(served_apis: Callable[[], Iterable[Api]], features: Iterable[str],
                    mounted_at: Iterable[str] = ()) -> Api:
    """`mounted_at`: the base paths of a feature stage; its meta routes are public under the first."""
    api = Api(__name__, tag="meta")
    feature_names = list(features)
    bases = sorted(mounted_at)
    meta_prefix = f"/{bases[0]}" if bases else ""
    documents: dict[tuple[str, str], dict] = {}  # by (server URL, providers): the document names where it was read

    @api.route("/openapi.json", "GET", summary="OpenAPI 3 document for this deployment's routes")
    def openapi(ctx: Context):
        from chalicelib.core import config

        server = config.env("MALL_PUBLIC_URL") or _server_of(ctx.headers)
        key = (server, config.env("MALL_PROVIDERS", "live"))
        document = documents.get(key)
        if document is None:
            from chalicelib.core import openapi as builder  # lazy: only this route needs it

            document = builder.build([*served_apis(), api], servers=[server] if server else [],
                                     meta_prefix=meta_prefix)
            if len(documents) < 4:  # a client choosing Host headers must not grow this without bound
                documents[key] = document
        return json_response(document)

    @api.route("/health", "GET", response="chalicelib.core.schema:Health",
               summary="liveness and the features this function serves")
    def health(ctx: Context) -> dict:
        return {"status": "ok", "features": feature_names}

    return api


def _server_of(headers) -> str:
    """`https://<host>` from the request (API Gateway sets X-Forwarded-Proto), or "" without a Host."""
    host = headers.get("host")
    if not host or len(host) > 253 or not all(c.isalnum() or c in ".-:[]" for c in host):
        return ""
    scheme = "https" if headers.get("x-forwarded-proto") == "https" else "http"
    return f"{scheme}://{host}"
