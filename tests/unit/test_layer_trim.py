"""The dependency layer's trim (infra/layer.py) drops only what a Lambda function never reads."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import botocore
from botocore.loaders import Loader

from infra.layer import newest_service_versions, trim_cached_layers, trim_layer, trim_record, unneeded

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
    dropped = unneeded(paths)
    for service, version in kept.items():  # nothing of a kept version goes: models, paginators, waiters, rules
        assert not [p for p in dropped if p.startswith(f"botocore/data/{service}/{version}/")], service
    assert not [p for p in dropped if p.count("/") < 4]  # endpoints.json, partitions.json, _retry.json stay


def test_the_services_the_mall_calls_keep_a_loadable_model():
    paths = installed_botocore_data()
    dropped = unneeded(paths)
    for service in ("dynamodb", "sqs", "ssm", "sts", "xray", "cloudwatch", "logs"):
        version = newest_service_versions(paths)[service]
        assert f"botocore/data/{service}/{version}/service-2.json.gz" not in dropped


def test_the_code_never_pins_an_api_version_nor_uses_powertools_resolvers():
    """What the trim relies on: clients take botocore's newest model, and no Powertools resolver serves Swagger UI."""
    for path in [*ROOT.joinpath("chalicelib").rglob("*.py"), ROOT / "app.py"]:
        text = path.read_text(encoding="utf-8")
        assert "api_version" not in text, path
        assert not re.search(r"aws_lambda_powertools\.event_handler|enable_swagger", text), path


def write_layer(path: Path, names: list[str]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as layer:
        for name in names:
            info = zipfile.ZipInfo(SITE + name)
            info.external_attr = 0o755 << 16
            layer.writestr(info, f"contents of {name}" * 20)


KEPT = [
    "botocore/__init__.py", "botocore/data/endpoints.json", "botocore/data/_retry.json",
    "botocore/data/ec2/2016-11-15/service-2.json.gz", "botocore/data/ec2/2016-11-15/paginators-1.json",
    "botocore/data/dynamodb/2012-08-10/service-2.json.gz", "botocore/data/dynamodb/2012-08-10/waiters-2.json",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/html.py", "pydantic/main.py",
    "cryptography/hazmat/bindings/_rust.abi3.so",
]
DROPPED = [
    "botocore/data/ec2/2015-10-01/service-2.json.gz", "botocore/data/ec2/2015-10-01/paginators-1.json",
    "botocore/data/ec2/2017-01-01/waiters-2.json",  # a newer folder without a model: botocore never reads it
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui.min.css",
    "pydantic_core/_pydantic_core.pyi", "cryptography/hazmat/bindings/_rust/x509.pyi",
]


def test_a_trimmed_layer_keeps_every_other_entry_byte_for_byte(tmp_path):
    layer = tmp_path / "layer-deployment.zip"
    write_layer(layer, KEPT + DROPPED)
    before = {info.filename: (zipfile.ZipFile(layer).read(info), info.external_attr)
              for info in zipfile.ZipFile(layer).infolist()}

    report = trim_layer(layer)

    after = zipfile.ZipFile(layer)
    assert sorted(info.filename for info in after.infolist()) == sorted(SITE + name for name in KEPT)
    for info in after.infolist():
        assert (after.read(info), info.external_attr) == before[info.filename]
    assert report["entries"] == len(DROPPED) and report["bytes"] > 0
    assert after.testzip() is None
    assert trim_record(layer) == report  # the layer's size as built stays known: trimmed size + what went


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
    assert trim_layer(layer) == {"entries": 0, "bytes": 0}
    assert layer.read_bytes() == content
    assert trim_record(layer)["entries"] == len(DROPPED)


def test_the_layers_chalice_cached_are_trimmed_where_chalice_deploy_reuses_them(tmp_path):
    cache = tmp_path / ".chalice" / "deployments"
    cache.mkdir(parents=True)
    write_layer(cache / "managed-layer-0123abcd-python3.11.zip", KEPT + DROPPED)
    write_layer(cache / "appcode-0123abcd-python3.11.zip", ["app.py", "chalicelib/x.pyi"])  # not a layer

    assert list(trim_cached_layers(tmp_path)) == [cache / "managed-layer-0123abcd-python3.11.zip"]
    names = zipfile.ZipFile(cache / "managed-layer-0123abcd-python3.11.zip").namelist()
    assert sorted(names) == sorted(SITE + name for name in KEPT)
    assert len(zipfile.ZipFile(cache / "appcode-0123abcd-python3.11.zip").namelist()) == 2
