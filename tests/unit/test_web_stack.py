"""The front ends' cloud stack (infra/web.py): its template lints, its upload, its client-route function under Node."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from infra import web
from infra.local.web import IMMUTABLE, REVALIDATE


@pytest.fixture
def built(tmp_path):
    for app in web.APPS:
        dist = tmp_path / app / "dist"
        (dist / "assets").mkdir(parents=True)
        (dist / "index.html").write_text(f"<title>{app}</title>")
        (dist / "assets" / f"{app}-9c1e.js").write_text("export {}")
        (dist / "assets" / f"{app}-77aa.css").write_text("body{}")
    return tmp_path


@pytest.mark.parametrize("arguments", [(), ("--alias", "shop.example", "--certificate-arn",
                                            "arn:aws:acm:us-east-1:123456789012:certificate/0f1e")])
def test_the_template_renders_and_lints(tmp_path, arguments):
    output = tmp_path / "web.json"
    subprocess.run([sys.executable, "-m", "infra", "web", "--api-domain", "api.shop.example", *arguments,
                    "--output", str(output)], check=True)
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(output)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_pages_come_from_the_bucket_and_everything_else_from_the_api_uncached():
    config = web.render_web("api.shop.example")["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == "api"
    assert config["DefaultCacheBehavior"]["CachePolicyId"] == web.CACHING_DISABLED
    assert sorted(b["PathPattern"] for b in config["CacheBehaviors"]) == [
        "/console", "/console/*", "/shop", "/shop/*"]
    assert all(b["TargetOriginId"] == "web" for b in config["CacheBehaviors"])
    api = next(origin for origin in config["Origins"] if origin["Id"] == "api")
    assert api["OriginCustomHeaders"] == [{"HeaderName": "X-Mall-Edge", "HeaderValue": {"Ref": "EdgeSecret"}}]
    assert "CustomErrorResponses" not in config, "an error page would turn the API's JSON 404s into HTML"


def test_an_alias_needs_its_certificate():
    with pytest.raises(ValueError):
        web.render_web("api.shop.example", ("shop.example",))


def test_the_upload_puts_assets_first_with_long_caching_and_the_index_revalidated(built):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="web")
        assert web.upload(s3, "web", built, say=lambda _: None) == 6
        index = s3.get_object(Bucket="web", Key="shop/index.html")
        script = s3.get_object(Bucket="web", Key="console/assets/console-9c1e.js")
    assert index["CacheControl"] == REVALIDATE and index["ContentType"] == "text/html; charset=utf-8"
    assert script["CacheControl"] == IMMUTABLE and "javascript" in script["ContentType"]
    keys = [key for _, key, _ in web.upload_plan(built)]
    assert keys.index("shop/index.html") > max(keys.index(k) for k in keys if "/assets/" in k)


def test_an_unbuilt_front_end_is_not_uploaded(built):
    shutil.rmtree(built / "console" / "dist")
    with pytest.raises(FileNotFoundError, match="make web"):
        web.upload_plan(built)


def test_the_edge_secret_is_made_once_and_kept():
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        first = web.edge_secret(ssm, "prod")
        assert web.edge_secret(ssm, "prod") == first and len(first) >= 48
        stored = ssm.get_parameter(Name="/micromall/prod/edge_secret", WithDecryption=True)["Parameter"]
    assert stored["Type"] == "SecureString"


CASES = {
    "/shop": {"redirect": "/shop/"},
    "/shop/": {"uri": "/shop/index.html"},
    "/shop/orders/01J9": {"uri": "/shop/index.html"},
    "/shop/assets/index-3f2a.js": {"uri": "/shop/assets/index-3f2a.js"},
    "/shop/favicon.svg": {"uri": "/shop/favicon.svg"},
    "/console/dashboard": {"uri": "/console/index.html"},
    "/catalog/products": {"uri": "/catalog/products"},
}


def test_the_client_route_function_under_node(tmp_path):
    script = tmp_path / "run.js"
    script.write_text(web.CLIENT_ROUTES_FUNCTION + """
const cases = JSON.parse(process.argv[2]);
const out = {};
for (const uri of cases) {
  const result = handler({request: {uri: uri, headers: {}}});
  out[uri] = result.statusCode ? {redirect: result.headers.location.value} : {uri: result.uri};
}
console.log(JSON.stringify(out));
""")
    result = subprocess.run(["node", str(script), json.dumps(list(CASES))], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == CASES
