"""The storefront and the console on the local stack: `web/<app>/dist` served at `/<app>/`, beside the API.

Deployed, the same files sit in S3 behind CloudFront on the API's domain (docs/DEPLOY.md, "Front ends"); here the
stack's own server answers them, so pages and API share one origin on a laptop as they do in the cloud. A path under
an app that names no file is a client-side route: it gets the app's index.html, as the distribution's function does
(infra/web.py, CLIENT_ROUTES_FUNCTION; tests/unit/test_web_stack.py runs it under Node on the same cases).
"""
from __future__ import annotations

import mimetypes
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[2] / "web"
APPS = ("shop", "console")
NOT_FOUND = b'{"error": {"code": "NOT_FOUND", "message": "no such file"}}'
NOT_BUILT = (b'{"error": {"code": "NOT_BUILT", "message": '
             b'"this front end is not built: run make web (make run does it)"}}')
# Vite names every asset after its content: a new build is a new URL, so a browser may keep one for a year.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def app_of(path: str) -> str | None:
    """The front end a request path belongs to, or None for the API's paths."""
    first = path.split("?", 1)[0].lstrip("/").split("/", 1)[0]
    return first if first in APPS else None


def web_file(path: str, root: Path = ROOT) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) for a GET of `path`, which app_of() has placed under an app."""
    bare = path.split("?", 1)[0]
    app = app_of(bare)
    if bare == f"/{app}":  # relative asset URLs resolve against the directory
        return 308, {"Location": f"/{app}/", "Content-Type": "text/plain"}, b""
    dist = root / app / "dist"
    index = dist / "index.html"
    if not index.is_file():
        return 404, {"Content-Type": "application/json"}, NOT_BUILT
    parts = PurePosixPath(bare.removeprefix(f"/{app}/")).parts
    if any(part in ("..", ".") or part.startswith(".") for part in parts):  # nothing outside dist/
        return 404, {"Content-Type": "application/json"}, NOT_FOUND
    target = dist.joinpath(*parts) if parts else index
    if target.is_file():
        return 200, file_headers(target, dist), target.read_bytes()
    if parts and parts[0] == "assets" or "." in parts[-1]:  # a missing file, not a client-side route
        return 404, {"Content-Type": "application/json"}, NOT_FOUND
    return 200, file_headers(index, dist), index.read_bytes()


def file_headers(target: Path, dist: Path) -> dict[str, str]:
    """A built file's Content-Type and Cache-Control, here and in S3 (infra/web.py uploads with the same)."""
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith(("javascript", "json", "svg+xml")):
        content_type += "; charset=utf-8"
    hashed = target.relative_to(dist).parts[0] == "assets"
    return {"Content-Type": content_type, "Cache-Control": IMMUTABLE if hashed else REVALIDATE}


# --- the providers' web-authorization pages, played locally ------------------------------------------------------

SANDBOX_LOGIN_PREFIX = "/sandbox/web-login/"  # chalicelib/members/web_auth.py: SANDBOX_AUTHORIZE_PATH
SANDBOX_BUYER_COOKIE = "mall_sandbox_buyer"


def is_sandbox_login(path: str) -> bool:
    return path.split("?", 1)[0].startswith(SANDBOX_LOGIN_PREFIX)


def sandbox_authorize(path: str, cookie_header: str | None) -> tuple[int, dict[str, str], bytes]:
    """WeChat's or Alipay's authorize page as the buyer sees it when they are logged in to the app already: it
    sends the browser straight back to `redirect_uri` with a code (`code`; Alipay: `auth_code`) and the `state`.

    The code is `sandbox.<buyer>`, the twins' stable buyer; the buyer is this browser's (a cookie made on its first
    visit), as a phone is one WeChat or Alipay user. `redirect_uri` must be a storefront path on this origin, so
    this page cannot send a browser anywhere else."""
    from http.cookies import CookieError, SimpleCookie
    from urllib.parse import parse_qs, urlencode, urlsplit

    from chalicelib.members.web_auth import sandbox_code

    url = urlsplit(path)
    provider = url.path.removeprefix(SANDBOX_LOGIN_PREFIX)
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    redirect_uri, state = query.get("redirect_uri", ""), query.get("state", "")
    if provider not in ("wechat", "alipay") or not state:
        return 404, {"Content-Type": "application/json"}, NOT_FOUND
    if not redirect_uri.startswith("/shop/") or "//" in redirect_uri or "\\" in redirect_uri:
        body = b'{"error": {"code": "INVALID_REDIRECT", "message": "redirect_uri must be a /shop/ path here"}}'
        return 400, {"Content-Type": "application/json"}, body
    cookies = SimpleCookie()
    try:
        cookies.load(cookie_header or "")
    except CookieError:
        pass
    known = cookies.get(SANDBOX_BUYER_COOKIE)
    buyer = known.value if known is not None and known.value.isalnum() and len(known.value) <= 32 else None
    headers = {"Content-Type": "text/plain", "Cache-Control": "no-store"}
    if buyer is None:
        import secrets

        buyer = "web" + secrets.token_hex(6)
        headers["Set-Cookie"] = f"{SANDBOX_BUYER_COOKIE}={buyer}; Path={SANDBOX_LOGIN_PREFIX}; SameSite=Lax; HttpOnly"
    code = sandbox_code(buyer)
    answer = {"code": code, "state": state} if provider == "wechat" else {
        "app_id": query.get("app_id", ""), "source": "alipay_wallet", "scope": "auth_base", "auth_code": code,
        "state": state}
    headers["Location"] = redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(answer)
    return 302, headers, b""
