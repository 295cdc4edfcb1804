"""The dependency layer's trim (infra/layer.py) drops only what a Lambda function never reads, and adds the
bytecode Lambda's read-only /opt would otherwise make every cold start compile again."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import botocore
import pytest
from botocore.loaders import Loader

from infra.access import load_manifest
from infra.layer import (
    ALWAYS_KEPT,
    bytecode_path,
    granted_services,
    newest_service_versions,
    trim_cached_layers,
    trim_layer,
    trim_record,
    unneeded,
)

ROOT = Path(__file__).resolve().parents[2]
SITE = "python/lib/python3.11/site-packages/"


def installed_botocore_data() -> list[str]:
    data = Path(botocore.__file__).parent / "data"
    return [f"botocore/data/{path.relative_to(data).as_posix()}" for path in data.rglob("*") if path.is_file()]


def test_every_service_keeps_the_api_version_botocore_itself_loads():
    paths = installed_botocore_data()
    kept = newest_service_versions(paths)
    loader = Loader()
    services = loader.list_available_services("service-2")
    assert set(kept) == set(services)
    for service in services:
        assert kept[service] == loader.determine_latest_version(service, "service-2"), service
    dropped = unneeded(paths, services=services)
    for service, version in kept.items():  # nothing of a kept version goes: models, paginators, waiters, rules
        assert not [p for p in dropped if p.startswith(f"botocore/data/{service}/{version}/")], service
    assert not [p for p in dropped if p.count("/") < 4]  # endpoints.json, partitions.json, _retry.json stay


def test_every_service_a_function_may_call_keeps_its_model_and_no_other_service_does():
    paths = installed_botocore_data()
    dropped = unneeded(paths)
    newest = newest_service_versions(paths)
    services = granted_services()
    assert {"dynamodb", "sqs", "ssm", "kms", "firehose"} | ALWAYS_KEPT <= services
    for service in services:  # each granted IAM prefix names a botocore service, whose model stays loadable
        assert service in newest, f"{service}: no botocore model by that name (infra.layer.SERVICE_OF_PREFIX)"
        assert not [p for p in dropped if p.startswith(f"botocore/data/{service}/{newest[service]}/")], service
    for service in ("ec2", "s3", "lambda", "cloudwatch", "logs"):
        assert f"botocore/data/{service}/{newest[service]}/service-2.json.gz" in dropped, service
    assert not [p for p in dropped if p.count("/") < 3]  # endpoints.json, partitions.json, _retry.json stay


def test_the_kept_services_are_those_the_functions_roles_grant():
    """A client of any other service would be refused by IAM: the policies come from the same manifest."""
    prefixes = {action.split(":")[0] for functions in load_manifest().values() for grants in functions.values()
                for actions in grants.values() for action in actions}
    assert granted_services() == ALWAYS_KEPT | prefixes


def test_the_code_never_pins_an_api_version_nor_uses_powertools_resolvers():
    """What the trim relies on: clients take botocore's newest model, and no Powertools resolver serves Swagger UI."""
    for path in [*ROOT.joinpath("chalicelib").rglob("*.py"), ROOT / "app.py"]:
        text = path.read_text(encoding="utf-8")
        assert "api_version" not in text, path
        assert not re.search(r"aws_lambda_powertools\.event_handler|enable_swagger", text), path


def contents(name: str) -> bytes:
    if name.endswith(".py"):  # a module: Python, unless named as one only an old Python parsed
        return b"print 'python 2'\n" if "py2" in name else f"VALUE = {name!r}\n".encode()
    return f"contents of {name}".encode() * 20


def write_layer(path: Path, names: list[str]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as layer:
        for name in names:
            info = zipfile.ZipInfo(SITE + name)
            info.external_attr = 0o755 << 16
            layer.writestr(info, contents(name))


KEPT = [
    "botocore/__init__.py", "botocore/data/endpoints.json", "botocore/data/_retry.json",
    "botocore/data/dynamodb/2012-08-10/service-2.json.gz", "botocore/data/dynamodb/2012-08-10/waiters-2.json",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/html.py", "pydantic/__init__.py", "pydantic/main.py",
    "cryptography/hazmat/bindings/_rust.abi3.so", "future/backports/py2_only.py",
]
MODULES = [name for name in KEPT if name.endswith(".py") and "py2" not in name]
DROPPED = [
    "botocore/data/dynamodb/2011-12-05/service-2.json.gz",  # an older version: botocore loads the newest
    "botocore/data/ec2/2016-11-15/service-2.json.gz", "botocore/data/ec2/2016-11-15/paginators-1.json",
    "botocore/data/ec2/2015-10-01/service-2.json.gz",  # no function's role may call EC2
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui.min.css",
    "pydantic_core/_pydantic_core.pyi", "cryptography/hazmat/bindings/_rust/x509.pyi",
]
BYTECODE = [bytecode_path(SITE + name) for name in MODULES]


def test_a_trimmed_layer_keeps_every_other_entry_byte_for_byte_and_gains_bytecode(tmp_path):
    layer = tmp_path / "layer-deployment.zip"
    write_layer(layer, KEPT + DROPPED)
    before = {info.filename: (zipfile.ZipFile(layer).read(info), info.external_attr)
              for info in zipfile.ZipFile(layer).infolist()}

    report = trim_layer(layer)

    after = zipfile.ZipFile(layer)
    assert sorted(info.filename for info in after.infolist()) == sorted([SITE + name for name in KEPT] + BYTECODE)
    for info in after.infolist():
        if info.filename not in BYTECODE:
            assert (after.read(info), info.external_attr) == before[info.filename]
    assert report["entries"] == len(DROPPED) and report["bytes"] > 0
    assert report["compiled"] == len(MODULES) and report["compiled_bytes"] > 0  # not the Python 2 file
    assert after.testzip() is None
    assert trim_record(layer) == report  # the layer's size as built stays known: trimmed size + what went


def test_python_runs_the_layers_bytecode_without_reading_its_sources(tmp_path):
    """What Lambda does with /opt: the pyc is taken as it is (unchecked hash), even if a source changed."""
    layer = tmp_path / "layer-deployment.zip"
    write_layer(layer, KEPT)
    trim_layer(layer)
    opt = tmp_path / "opt"
    zipfile.ZipFile(layer).extractall(opt)
    site = opt / SITE
    (site / "pydantic" / "main.py").write_text("VALUE = 'compiled again from source'\n")
    probe = "import sys; sys.path.insert(0, sys.argv[1]); import pydantic.main; print(pydantic.main.VALUE)"
    result = subprocess.run([sys.executable, "-S", "-c", probe, str(site)], capture_output=True, text=True,
                            check=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.stdout.strip() == "pydantic/main.py"


def test_a_trimmed_layer_keeps_its_file_mode(tmp_path):
    layer = tmp_path / "layer-deployment.zip"
    write_layer(layer, KEPT + DROPPED)
    layer.chmod(0o644)
    trim_layer(layer)
    assert layer.stat().st_mode & 0o777 == 0o644
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".trim-")]


def test_trimming_twice_changes_nothing(tmp_path):
    layer = tmp_path / "layer-deployment.zip"
    write_layer(layer, KEPT + DROPPED)
    trim_layer(layer)
    content = layer.read_bytes()
    assert trim_layer(layer) == {"entries": 0, "bytes": 0, "compiled": 0, "compiled_bytes": 0}
    assert layer.read_bytes() == content
    assert trim_record(layer)["entries"] == len(DROPPED)
    assert trim_record(layer)["compiled"] == len(MODULES)


def test_the_layers_chalice_cached_are_trimmed_where_chalice_deploy_reuses_them(tmp_path):
    cache = tmp_path / ".chalice" / "deployments"
    cache.mkdir(parents=True)
    write_layer(cache / "managed-layer-0123abcd-python3.11.zip", KEPT + DROPPED)
    write_layer(cache / "appcode-0123abcd-python3.11.zip", ["app.py", "chalicelib/x.pyi"])  # not a layer

    assert list(trim_cached_layers(tmp_path)) == [cache / "managed-layer-0123abcd-python3.11.zip"]
    names = zipfile.ZipFile(cache / "managed-layer-0123abcd-python3.11.zip").namelist()
    assert sorted(names) == sorted([SITE + name for name in KEPT] + BYTECODE)
    assert len(zipfile.ZipFile(cache / "appcode-0123abcd-python3.11.zip").namelist()) == 2


def test_a_missing_manifest_keeps_the_layer_from_being_trimmed_blind(tmp_path):
    with pytest.raises(LookupError, match="make access"):
        granted_services(tmp_path / "access.json")
