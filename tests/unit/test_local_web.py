"""The local stack's front-end files (infra/local/web.py): what a browser gets for each kind of path."""
import json

import pytest

from infra.local.web import IMMUTABLE, REVALIDATE, app_of, web_file


@pytest.fixture
def web(tmp_path):
    dist = tmp_path / "shop" / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>shop</title>")
    (dist / "assets" / "index-3f2a.js").write_text("console.log('shop')")
    (dist / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("not for browsers")
    return tmp_path


def test_only_the_front_ends_paths_are_theirs():
    assert app_of("/shop/") == "shop" and app_of("/console/orders?x=1") == "console" and app_of("/shop") == "shop"
    assert app_of("/catalog/products") is None and app_of("/shopping") is None and app_of("/") is None


def test_index_and_hashed_assets_with_their_caching(web):
    status, headers, body = web_file("/shop/", web)
    assert (status, body) == (200, b"<!doctype html><title>shop</title>")
    assert headers["Content-Type"] == "text/html; charset=utf-8" and headers["Cache-Control"] == REVALIDATE
    status, headers, body = web_file("/shop/assets/index-3f2a.js?v=1", web)
    assert status == 200 and body == b"console.log('shop')"
    assert "javascript" in headers["Content-Type"] and headers["Cache-Control"] == IMMUTABLE
    assert web_file("/shop/favicon.svg", web)[1]["Cache-Control"] == REVALIDATE  # not content-named


def test_a_client_side_route_gets_the_index(web):
    status, headers, body = web_file("/shop/orders/01JABC", web)
    assert status == 200 and body.startswith(b"<!doctype html>")


def test_missing_files_are_json_404s_not_the_index(web):
    for path in ("/shop/assets/gone.js", "/shop/logo.png"):
        status, headers, body = web_file(path, web)
        assert status == 404 and json.loads(body)["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("path", ["/shop/../secret.txt", "/shop/assets/../../../secret.txt", "/shop/.env",
                                  "/shop/%2e%2e/secret.txt"])
def test_nothing_outside_the_build_is_served(web, path):
    status, _, body = web_file(path, web)
    assert status == 404 and b"not for browsers" not in body


def test_the_bare_app_path_redirects_to_its_directory(web):
    status, headers, _ = web_file("/shop", web)
    assert status == 308 and headers["Location"] == "/shop/"


def test_an_unbuilt_front_end_says_how_to_build_it(web):
    status, _, body = web_file("/console/", web)
    assert status == 404 and "make web" in json.loads(body)["error"]["message"]
