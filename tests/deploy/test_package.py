"""`chalice package` for every stage: lint-clean CloudFormation, and each feature stage holds only its own.

Routes in a feature stage are registered without the base path the custom domain
strips (MALL_BASE_PATHS, app.py), so `<base path> + <packaged path>` is the public URL,
which must be the same as in the all-in-one `dev` stage.
"""
from __future__ import annotations

import json

import pytest

from app import unmount
from chalicelib.core import config
from infra.apps import META_PATHS, shape
from infra.stages import CHALICE_DIR, DEV_STAGE, api_name, feature_settings, policy_file, stage_names
from tests.deploy.conftest import cfn_lint

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def packaged_routes(template: dict) -> set[tuple[str, str]]:
    paths = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    return {(path, method.upper()) for path, operations in paths.items() for method in operations
            if method in HTTP_METHODS}


def functions(template: dict) -> dict[str, dict]:
    """Function (`api_handler`, or the event handler's name) -> its properties.

    The handler string is `app.app` for the API, `chalicelib.<feature>.routes.<name>` for an event handler.
    """
    return {("api_handler" if resource["Properties"]["Handler"] == "app.app"
             else resource["Properties"]["Handler"].rsplit(".", 1)[1]): resource["Properties"]
            for resource in template["Resources"].values() if resource["Type"] == "AWS::Serverless::Function"}


def role_policy(template: dict, function: dict) -> dict:
    role = template["Resources"][function["Role"]["Fn::GetAtt"][0]]
    [policy] = role["Properties"]["Policies"]
    return policy["PolicyDocument"]


@pytest.mark.parametrize("stage", stage_names())
def test_every_stage_packages(packages, stage):
    assert (packages[stage] / "sam.json").exists()
    assert (packages[stage] / "deployment.zip").stat().st_size > 0


def test_packages_and_the_infra_templates_pass_cfn_lint(packages, tmp_path):
    from infra.domain import render_domain
    from infra.template import QueueSpec, render

    infra = tmp_path / "infra.json"
    infra.write_text(json.dumps(render("micromall-prod-", queues=[QueueSpec("notifications", 60)], env="prod")))
    domain = tmp_path / "domain.json"
    ids = {feature: f"api{n:07d}" for n, feature in enumerate(config.ALL_FEATURES)}
    domain.write_text(json.dumps(render_domain("api.shop.example", "arn:aws:acm:us-east-1:123456789012:certificate/"
                                                                   "0f0e0d0c-0b0a-0908-0706-050403020100", ids)))
    lint = cfn_lint(*(path / "sam.json" for path in packages.values()), infra, domain)
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize("feature", config.ALL_FEATURES)
def test_feature_stage_holds_only_its_own_routes_and_handlers(sam, feature):
    template = sam[feature]
    described = shape(feature)
    mounted = frozenset(described.base_paths)
    expected = {(unmount(path, mounted), method) for path, method in described.routes}
    expected |= {(path, "GET") for path in META_PATHS}
    assert packaged_routes(template) == expected

    packaged = functions(template)
    assert set(packaged) == {"api_handler", *(handler.name for handler in described.handlers)}
    api = packaged["api_handler"]
    assert api["Environment"]["Variables"]["MALL_FEATURES"] == feature
    assert api["MemorySize"] == feature_settings(feature).memory
    assert api["ReservedConcurrentExecutions"] == feature_settings(feature).concurrency


def test_each_stage_names_its_rest_api_apart_from_every_other_stage(sam):
    """API Gateway takes the API's name from the document's title; the 5XX alarms (infra.alarms) watch these."""
    titles = {stage: template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["info"]["title"]
              for stage, template in sam.items()}
    assert titles == {stage: api_name(stage) for stage in stage_names()}
    assert len(set(titles.values())) == len(titles)


@pytest.mark.parametrize("stage", stage_names())
def test_each_function_runs_with_its_own_policy_file(sam, stage):
    template = sam[stage]
    for function, properties in functions(template).items():
        expected = json.loads((CHALICE_DIR / policy_file(stage, function)).read_text())
        assert role_policy(template, properties) == expected, (stage, function)


def test_dev_stage_holds_every_route_and_handler_at_its_public_url(sam):
    expected = {route for feature in config.ALL_FEATURES for route in shape(feature).routes}
    expected |= {(path, "GET") for path in META_PATHS}
    assert packaged_routes(sam[DEV_STAGE]) == expected
    handlers = {handler.name for feature in config.ALL_FEATURES for handler in shape(feature).handlers}
    assert set(functions(sam[DEV_STAGE])) == {"api_handler", *handlers}


def test_a_feature_stage_behind_its_base_paths_serves_the_dev_urls(sam):
    """Base path + packaged path, over every feature stage, is exactly the dev stage's set of URLs."""
    public = set()
    for feature in config.ALL_FEATURES:
        base_paths = shape(feature).base_paths
        for path, method in packaged_routes(sam[feature]):
            if path in META_PATHS:
                continue
            candidates = {f"/{base}{path}".rstrip("/") or "/" for base in base_paths}
            public |= {(candidate, method) for candidate in candidates}
    dev = {route for route in packaged_routes(sam[DEV_STAGE]) if route[0] not in META_PATHS}
    assert dev <= public, sorted(dev - public)


def test_no_stage_packages_test_or_tooling_code(packages):
    import zipfile

    for stage, path in packages.items():
        names = zipfile.ZipFile(path / "deployment.zip").namelist()
        assert "app.py" in names, stage
        assert not [n for n in names if n.startswith(("tests/", "infra/", "benchmarks/"))], stage


def test_every_stage_ships_the_bytecode_of_its_own_modules(packages):
    """Lambda's /var/task is read-only: without these, each cold start compiles chalicelib again
    (infra.packaging.compile_app_modules); checked-hash, so a stale one is never run."""
    import zipfile
    from importlib.util import cache_from_source

    for stage, path in packages.items():
        archive = zipfile.ZipFile(path / "deployment.zip")
        names = set(archive.namelist())
        modules = [name for name in names if name.startswith("chalicelib/") and name.endswith(".py")]
        assert modules and {cache_from_source(name) for name in modules} <= names, stage
        header = archive.read(cache_from_source("chalicelib/core/http.py"))[:8]
        assert int.from_bytes(header[4:8], "little") == 0b11, stage  # flags: hash-based, checked


def test_every_stage_uploads_the_trimmed_layer_with_every_module_the_code_imports(packages):
    """infra/layer.py: older botocore API versions, models of services no role may call, Powertools' Swagger UI
    assets and stubs go; no module does, and every module comes with its bytecode."""
    import zipfile

    from infra.layer import bytecode_path, granted_services, newest_service_versions, site_path, trim_record, unneeded

    for stage, path in packages.items():
        layer = path / "layer-deployment.zip"
        entries = zipfile.ZipFile(layer).namelist()
        names = [site_path(name) for name in entries]
        assert not unneeded(names), stage
        assert trim_record(layer)["bytes"] > 10_000_000, stage  # what Chalice built, less what the trim took
        newest = newest_service_versions(names)
        for service in granted_services():
            assert f"botocore/data/{service}/{newest[service]}/service-2.json.gz" in names, (stage, service)
        modules = [name for name in entries if name.endswith(".py")]
        missing = sorted(set(map(bytecode_path, modules)) - set(entries))
        assert not missing, (stage, missing)
        assert bytecode_path(next(name for name in entries if name.endswith("/botocore/client.py"))) in entries
        for module in ("pydantic/main.py", "pydantic_core/__init__.py", "cryptography/__init__.py",
                       "aws_lambda_powertools/event_handler/openapi/swagger_ui/html.py", "botocore/data/endpoints.json"):
            assert module in names, (stage, module)
