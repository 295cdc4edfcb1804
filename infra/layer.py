"""The dependency layer, without what a Lambda function never reads.

Chalice builds the layer from requirements.txt (`automatic_layer`) and caches it in
`.chalice/deployments/managed-layer-<hash of requirements.txt>-python3.11.zip`; `chalice package`
and `chalice deploy` both reuse a cached zip as it is. `trim_layer` rewrites such a zip without:

- botocore's older API versions of a service (`botocore/data/<service>/<date>/`): botocore loads the
  newest version that has a `service-2` model unless a client passes `api_version`, and the mall's code
  never does (tests/unit/test_layer_trim.py checks both, against the installed botocore); 1.3 MB zipped;
- Powertools' Swagger UI assets (`event_handler/openapi/swagger_ui/*.js|*.css`): served only by
  Powertools' own API resolvers' `enable_swagger()`; the mall's routes are Chalice's and it serves its
  OpenAPI document itself (`GET /openapi.json`); 0.45 MB zipped;
- type stubs (`*.pyi`), read only by type checkers;
- botocore's models of every service no function may call: a function's role grants actions on the
  services `infra/access.json` names (derived from every AWS call the test suites make), so a client of
  any other service would be refused by IAM anyway; X-Ray's and STS's models stay (`ALWAYS_KEPT`). About
  14 MB of the layer's 25 MB zipped.

It also adds bytecode: every module gets its `__pycache__/<name>.cpython-311.pyc`, compiled when the layer is
built, as an unchecked-hash pyc (the layer never changes once uploaded, so Python need not compare it with its
source). Lambda extracts layers to a read-only `/opt`, where Python can neither find nor write a cache of its
own: without these, every cold start compiles botocore, Chalice, PynamoDB and urllib3 from source again, most of
a second (README, "Cold starts"). Built only by the Python the runtime runs (3.11: bytecode is per minor version).

No module the code can import is removed. Trimming an already trimmed zip changes nothing.
"""
from __future__ import annotations

import importlib.util
import os
import re
import sys
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from importlib._bootstrap_external import _code_to_hash_pyc  # what py_compile writes hash-based pycs with
from pathlib import Path

SITE = re.compile(r"^python/lib/python3\.\d+/site-packages/")
BOTOCORE_VERSION = re.compile(r"^botocore/data/([^/]+)/(\d{4}-\d{2}-\d{2})/(.+)$")
SWAGGER_ASSET = re.compile(r"^aws_lambda_powertools/event_handler/openapi/swagger_ui/[^/]+\.(js|css)$")
SERVICE_DATA = re.compile(r"^botocore/data/([^/]+)/")
LAYER_PYTHON = re.compile(r"^python/lib/python3\.(\d+)/site-packages/")
MANIFEST = Path(__file__).resolve().parent / "access.json"

# Models kept whatever the grants say: the X-Ray SDK's sampler may ask X-Ray for its rules (the tracing role grants
# that outside access.json), and STS is what botocore's credential providers call when a role is assumed.
ALWAYS_KEPT = frozenset({"xray", "sts"})
# IAM action prefixes whose botocore service folder has another name.
SERVICE_OF_PREFIX = {"monitoring": "cloudwatch", "states": "stepfunctions", "execute-api": "apigatewaymanagementapi"}


def site_path(name: str) -> str:
    """An entry's path inside site-packages (the layer keeps them under python/lib/python3.x/site-packages/)."""
    return SITE.sub("", name)


def newest_service_versions(paths: list[str]) -> dict[str, str]:
    """Each botocore service's newest API version that has a `service-2` model: the one botocore loads."""
    newest: dict[str, str] = {}
    for path in paths:
        match = BOTOCORE_VERSION.match(path)
        if match and match.group(3).startswith("service-2."):
            service, version = match.group(1), match.group(2)
            newest[service] = max(newest.get(service, version), version)
    return newest


def granted_services(manifest: Path = MANIFEST) -> frozenset[str]:
    """The botocore services some function's role may call: those `manifest` grants actions on, and ALWAYS_KEPT."""
    from infra.access import load_manifest

    grants_by_feature = load_manifest(manifest)
    if not grants_by_feature:  # without it every model would go, DynamoDB's too
        raise LookupError(f"{manifest} is missing or empty: `make access` derives it")
    prefixes = {action.split(":", 1)[0] for functions in grants_by_feature.values()
                for grants in functions.values() for actions in grants.values() for action in actions}
    return ALWAYS_KEPT | {SERVICE_OF_PREFIX.get(prefix, prefix) for prefix in prefixes}


def unneeded(paths: list[str], services: Iterable[str] | None = None) -> set[str]:
    """The site-packages paths (of `paths`) a Lambda function never reads; `services`: the botocore services it
    may call (default: `granted_services()`)."""
    services = frozenset(granted_services() if services is None else services)
    newest = newest_service_versions(paths)
    dropped = set()
    for path in paths:
        match = BOTOCORE_VERSION.match(path)
        service = SERVICE_DATA.match(path)
        if service and service.group(1) not in services:
            dropped.add(path)
        elif match and newest.get(match.group(1)) != match.group(2):
            dropped.add(path)
        elif SWAGGER_ASSET.match(path) or path.endswith(".pyi"):
            dropped.add(path)
    return dropped


def bytecode_path(source: str) -> str:
    """Where Python 3.11 looks for the cached bytecode of module `source` (a path in the zip)."""
    folder, _, name = source.rpartition("/")
    return f"{folder}/__pycache__/{name.removesuffix('.py')}.{sys.implementation.cache_tag}.pyc"


def can_compile_for(names: list[str]) -> bool:
    """Whether this Python writes bytecode the layer's Python reads (same minor version)."""
    versions = {match.group(1) for name in names if (match := LAYER_PYTHON.match(name))}
    return versions == {str(sys.version_info.minor)} and sys.version_info.major == 3


def compiled(name: str, source: bytes) -> bytes | None:
    """An unchecked-hash pyc of `source`, as Lambda finds it under /opt (None: not Python this version parses)."""
    try:
        code = compile(source, f"/opt/{name}", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    return bytes(_code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False))


TRIM_RECORD = re.compile(rb"^micromall-trim entries=(\d+) bytes=(\d+)(?: compiled=(\d+) compiled_bytes=(\d+))?$")


def trim_record(layer_zip: Path) -> dict[str, int]:
    """What trims took from `layer_zip` so far, and the bytecode they added (kept in the zip's comment): its size
    as built is known later."""
    with zipfile.ZipFile(layer_zip) as layer:
        match = TRIM_RECORD.match(layer.comment)
    numbers = [int(group or 0) for group in match.groups()] if match else [0, 0, 0, 0]
    return dict(zip(("entries", "bytes", "compiled", "compiled_bytes"), numbers, strict=True))


def trim_layer(layer_zip: Path, services: Iterable[str] | None = None) -> dict[str, int]:
    """Rewrite `layer_zip` without the unneeded entries (`services`: see `unneeded`) and with bytecode for every
    module that has none; returns how many entries and zipped bytes went, and how many pycs came."""
    before = trim_record(layer_zip)
    with zipfile.ZipFile(layer_zip) as source:
        infos = source.infolist()
        by_site_path = defaultdict(list)
        for info in infos:
            by_site_path[site_path(info.filename)].append(info)
        drop = unneeded(list(by_site_path), services)
        dropped = [info for path in drop for info in by_site_path[path]]
        sources = _sources_without_bytecode(infos) if can_compile_for(source.namelist()) else []
        if not dropped and not sources:
            return {"entries": 0, "bytes": 0, "compiled": 0, "compiled_bytes": 0}
        took = {"entries": len(dropped), "bytes": sum(info.compress_size for info in dropped)}
        gone = {id(info) for info in dropped}
        _rewrite(layer_zip, source, [info for info in infos if id(info) not in gone], sources, before, took)
    return took | {key: trim_record(layer_zip)[key] - before[key] for key in ("compiled", "compiled_bytes")}


def _sources_without_bytecode(infos: list[zipfile.ZipInfo]) -> list[zipfile.ZipInfo]:
    names = {info.filename for info in infos}
    return [info for info in infos if info.filename.endswith(".py") and LAYER_PYTHON.match(info.filename)
            and bytecode_path(info.filename) not in names]


def _rewrite(layer_zip: Path, source: zipfile.ZipFile, kept: list[zipfile.ZipInfo], sources: list[zipfile.ZipInfo],
             before: dict[str, int], took: dict[str, int]) -> None:
    fd, scratch = tempfile.mkstemp(prefix=".trim-", suffix=".zip", dir=layer_zip.parent)
    os.close(fd)
    try:
        to_compile = {id(info) for info in sources}
        with zipfile.ZipFile(scratch, "w") as target:
            modules = []
            for info in kept:  # read each entry before writestr reuses its ZipInfo for the new zip
                data = source.read(info)
                if id(info) in to_compile:
                    modules.append((info.filename, info.date_time, data))
                target.writestr(info, data, compress_type=info.compress_type)
            added = [_add_bytecode(target, *module) for module in modules]
            count, size = sum(1 for info in added if info), sum(info.compress_size for info in added if info)
            target.comment = (f"micromall-trim entries={before['entries'] + took['entries']} "
                              f"bytes={before['bytes'] + took['bytes']} compiled={before['compiled'] + count} "
                              f"compiled_bytes={before['compiled_bytes'] + size}").encode()
        os.chmod(scratch, layer_zip.stat().st_mode & 0o777)  # mkstemp made it private
        os.replace(scratch, layer_zip)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def _add_bytecode(target: zipfile.ZipFile, name: str, date_time: tuple, source: bytes) -> zipfile.ZipInfo | None:
    pyc = compiled(name, source)
    if pyc is None:
        return None
    info = zipfile.ZipInfo(bytecode_path(name), date_time=date_time)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    target.writestr(info, pyc)
    return target.getinfo(info.filename)


def trim_cached_layers(project: Path) -> dict[Path, dict[str, int]]:
    """Trim every layer Chalice cached for `project`, so `chalice deploy` and `chalice package` reuse it trimmed;
    what each trim took (nothing for a layer trimmed before)."""
    layers = sorted((project / ".chalice" / "deployments").glob("managed-layer-*.zip"))
    return {layer: trim_layer(layer) for layer in layers}
