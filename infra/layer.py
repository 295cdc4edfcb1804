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
- type stubs (`*.pyi`), read only by type checkers.

No module the code can import is removed. Trimming an already trimmed zip changes nothing.
"""
from __future__ import annotations

import os
import re
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path

SITE = re.compile(r"^python/lib/python3\.\d+/site-packages/")
BOTOCORE_VERSION = re.compile(r"^botocore/data/([^/]+)/(\d{4}-\d{2}-\d{2})/(.+)$")
SWAGGER_ASSET = re.compile(r"^aws_lambda_powertools/event_handler/openapi/swagger_ui/[^/]+\.(js|css)$")


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


def unneeded(paths: list[str]) -> set[str]:
    """The site-packages paths (of `paths`) a Lambda function never reads."""
    newest = newest_service_versions(paths)
    dropped = set()
    for path in paths:
        match = BOTOCORE_VERSION.match(path)
        if match and newest.get(match.group(1)) != match.group(2):
            dropped.add(path)
        elif SWAGGER_ASSET.match(path) or path.endswith(".pyi"):
            dropped.add(path)
    return dropped


TRIM_RECORD = re.compile(rb"^micromall-trim entries=(\d+) bytes=(\d+)$")


def trim_record(layer_zip: Path) -> dict[str, int]:
    """What trims took from `layer_zip` so far (kept in the zip's comment): its size as built is known later."""
    with zipfile.ZipFile(layer_zip) as layer:
        match = TRIM_RECORD.match(layer.comment)
    return {"entries": int(match.group(1)), "bytes": int(match.group(2))} if match else {"entries": 0, "bytes": 0}


def trim_layer(layer_zip: Path) -> dict[str, int]:
    """Rewrite `layer_zip` without the unneeded entries; returns how many entries and zipped bytes went."""
    before = trim_record(layer_zip)
    with zipfile.ZipFile(layer_zip) as source:
        infos = source.infolist()
        by_site_path = defaultdict(list)
        for info in infos:
            by_site_path[site_path(info.filename)].append(info)
        drop = unneeded(list(by_site_path))
        if not drop:
            return {"entries": 0, "bytes": 0}
        dropped = [info for path in drop for info in by_site_path[path]]
        fd, scratch = tempfile.mkstemp(prefix=".trim-", suffix=".zip", dir=layer_zip.parent)
        os.close(fd)
        try:
            took = {"entries": len(dropped), "bytes": sum(info.compress_size for info in dropped)}
            with zipfile.ZipFile(scratch, "w") as target:
                target.comment = (f"micromall-trim entries={before['entries'] + took['entries']} "
                                  f"bytes={before['bytes'] + took['bytes']}").encode()
                gone = {id(info) for info in dropped}
                for info in infos:
                    if id(info) not in gone:
                        target.writestr(info, source.read(info), compress_type=info.compress_type)
            os.chmod(scratch, layer_zip.stat().st_mode & 0o777)  # mkstemp made it private
            os.replace(scratch, layer_zip)
        except BaseException:
            Path(scratch).unlink(missing_ok=True)
            raise
    return took


def trim_cached_layers(project: Path) -> dict[Path, dict[str, int]]:
    """Trim every layer Chalice cached for `project`, so `chalice deploy` and `chalice package` reuse it trimmed;
    what each trim took (nothing for a layer trimmed before)."""
    layers = sorted((project / ".chalice" / "deployments").glob("managed-layer-*.zip"))
    return {layer: trim_layer(layer) for layer in layers}
