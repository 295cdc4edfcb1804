"""`chalice package` every stage from a copy of the project, without AWS credentials.

Used by tests/deploy (lint and inspect what each stage deploys) and `make bench`
(what each deployment package weighs). Chalice builds the dependency layer once
(pip, for Lambda's platform) and caches it in `.chalice/deployments/` by the hash
of requirements.txt; the copies here share that cache with the project, so only
the first run after a requirements change downloads anything. Every package's layer
is trimmed of what Lambda never reads (infra/layer.py).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LAYER_CACHE = ROOT / ".chalice" / "deployments"  # git-ignored; `chalice deploy` caches its packages there too


def project_copy(destination: Path, root: Path = ROOT) -> Path:
    """What Chalice deploys (app.py, chalicelib/, requirements.txt, .chalice/ settings), copied."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "app.py", destination / "app.py")
    shutil.copy2(root / "requirements.txt", destination / "requirements.txt")
    shutil.copytree(root / "chalicelib", destination / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(root / ".chalice", destination / ".chalice",
                    ignore=shutil.ignore_patterns("deployments", "deployed", "venv"))
    return destination


def chalice_env() -> dict[str, str]:
    """A clean environment for the chalice CLI: no MALL_* setting of the calling process leaks in."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MALL_")}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env.setdefault("AWS_ACCESS_KEY_ID", "packaging")  # `chalice package` calls no AWS API
    env.setdefault("AWS_SECRET_ACCESS_KEY", "packaging")
    return env


def package(project: Path, stage: str, output: Path, *, trim: bool = True) -> Path:
    """`chalice package` of one stage, with what Chalice cannot render merged in (infra.edges).

    `trim`: the layer in `output` without what Lambda never reads and with bytecode (infra.layer); off only for a
    baseline. The app's own bytecode is zipped if `compile_app_modules(project)` wrote it first.
    """
    from infra.edges import write_merge_template
    from infra.layer import trim_layer

    merge = write_merge_template(stage, output.parent)
    result = subprocess.run([str(BIN / "chalice"), "package", "--stage", stage, "--merge-template", str(merge),
                             str(output)], cwd=project, env=chalice_env(), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"chalice package --stage {stage}:\n{result.stdout}{result.stderr}")
    if trim:
        trim_layer(output / "layer-deployment.zip")
    return output


def compile_app_modules(project: Path) -> None:
    """Bytecode beside the mall's own modules, which Chalice zips with them (it takes all of chalicelib/): Lambda's
    /var/task is read-only, so a module without its .pyc is compiled again on every cold start.

    Checked-hash pycs: Python uses one only while its source hashes the same, so one left in a working tree can
    never hide an edit (an unchecked one would). The layer's pycs are unchecked (infra/layer.py): nobody edits it.
    """
    import compileall
    import py_compile

    compileall.compile_dir(project / "chalicelib", quiet=1, force=True,
                           invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)


def package_stages(project: Path, stages: list[str], output: Path, workers: int | None = None) -> dict[str, Path]:
    """`chalice package --stage <s>` for each stage into output/<s>; the first builds, the rest reuse."""
    from infra.layer import trim_cached_layers

    cache = project / ".chalice" / "deployments"
    cache.mkdir(parents=True, exist_ok=True)
    for layer in LAYER_CACHE.glob("managed-layer-*.zip"):
        shutil.copy2(layer, cache / layer.name)
    compile_app_modules(project)  # once, before any stage zips chalicelib/
    packaged = {stages[0]: package(project, stages[0], output / stages[0])}
    trim_cached_layers(project)  # before the other stages copy it; they find nothing left to trim
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:  # the app and layer zips exist now: read only
        paths = pool.map(lambda stage: package(project, stage, output / stage), stages[1:])
        packaged.update(zip(stages[1:], paths, strict=True))
    LAYER_CACHE.mkdir(parents=True, exist_ok=True)
    for layer in cache.glob("managed-layer-*.zip"):
        if not (LAYER_CACHE / layer.name).exists():
            shutil.copy2(layer, LAYER_CACHE / layer.name)
    return packaged


def build_layer(project: Path = ROOT) -> dict[Path, dict[str, int]]:
    """The trimmed layer `chalice deploy` uploads: packaged once (Chalice caches it in .chalice/deployments by
    the hash of requirements.txt and reuses the cached zip as it is), then trimmed in that cache."""
    import tempfile

    from infra.layer import trim_cached_layers
    from infra.stages import stage_names

    with tempfile.TemporaryDirectory(prefix="micromall-layer-") as scratch:
        package(project, stage_names()[0], Path(scratch) / "out", trim=False)
    return trim_cached_layers(project)


def zipped_size(directory: Path) -> dict[str, int]:
    """Bytes of the function's own zip and of the dependency layer Chalice made for it."""
    return {"app": (directory / "deployment.zip").stat().st_size,
            "layer": (directory / "layer-deployment.zip").stat().st_size}
