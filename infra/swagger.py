"""Swagger UI at `/docs` on the local stack, from the swagger-ui-bundle-v2 package (no CDN, works offline).

Only the local server serves it (a development aid, in requirements-dev.txt): a deployed
function has neither the package nor the route. The page reads `/openapi.json` from the
same server, so it shows exactly the routes this process serves.
"""
from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

PREFIX = "/docs"
# Our own page (the package's index.html loads a petstore example through swagger-initializer.js).
INDEX = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>micromall API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui", deepLinking: true});</script>
</body>
</html>
"""


def is_docs_path(path: str) -> bool:
    path = path.split("?", 1)[0]
    return path == PREFIX or path.startswith(PREFIX + "/")


def docs_file(path: str) -> tuple[int, str, bytes]:
    """(status, content type, body) for a GET of `path` under /docs."""
    from swagger_ui_bundle import swagger_ui_path

    name = path.split("?", 1)[0].removeprefix(PREFIX).strip("/")
    if name in ("", "index.html"):
        return 200, "text/html; charset=utf-8", INDEX.encode()
    parts = PurePosixPath(name).parts
    if any(part in ("..", ".") or part.startswith(".") for part in parts):  # nothing outside the package
        return 404, "application/json", b'{"error": {"code": "NOT_FOUND", "message": "no such file"}}'
    target = swagger_ui_path.joinpath(*parts)
    if not target.is_file():
        return 404, "application/json", b'{"error": {"code": "NOT_FOUND", "message": "no such file"}}'
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return 200, content_type, target.read_bytes()
