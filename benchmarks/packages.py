"""`make bench` section: what each stage's deployment package weighs, beside a bare PynamoDB app.

Every stage and the baseline are packaged by `chalice package` in the same run, the
same way (Chalice's automatic dependency layer, Lambda's platform wheels). What a
function loads is its own zip plus that layer; the table reports both.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

from infra.layer import granted_services, trim_layer, trim_record
from infra.packaging import ROOT, package, package_stages, project_copy, zipped_size

TARGET_RATIO = 1.5

BARE_APP = '''from chalice import Chalice
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

app = Chalice(app_name="bare")


class Item(Model):
    class Meta:
        table_name = "bare-items"
        region = "us-east-1"

    item_id = UnicodeAttribute(hash_key=True)


@app.route("/items/{item_id}")
def get_item(item_id):
    return Item.get(item_id).attribute_values
'''


def pinned(requirement: str) -> str:
    """The line pinning `requirement` in the mall's requirements.txt, so both packages get the same version."""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == requirement:
            return line.strip()
    raise LookupError(requirement)


def bare_project(directory: Path) -> Path:
    """A Chalice app that needs only PynamoDB (which brings botocore), configured like the mall's stages."""
    (directory / ".chalice").mkdir(parents=True)
    (directory / "app.py").write_text(BARE_APP)
    (directory / "requirements.txt").write_text(f"{pinned('pynamodb')}\n{pinned('botocore')}\n")
    (directory / ".chalice" / "config.json").write_text(json.dumps({
        "version": "2.0", "app_name": "bare", "automatic_layer": True,
        "stages": {"dev": {"api_gateway_stage": "api"}}}))
    return directory


def largest_in_layer(layer: Path, count: int = 6) -> list[tuple[str, int]]:
    sizes: Counter[str] = Counter()
    for info in zipfile.ZipFile(layer).infolist():
        parts = info.filename.split("/")
        top = parts[4] if len(parts) > 5 else parts[-1]  # python/lib/python3.11/site-packages/<top>/...
        sizes[top.split("-")[0].removesuffix(".py")] += info.compress_size
    return sizes.most_common(count)


def section() -> str:
    from infra.stages import stage_names

    with tempfile.TemporaryDirectory(prefix="micromall-packages-") as scratch:
        scratch_dir = Path(scratch)
        stages = stage_names()
        packaged = package_stages(project_copy(scratch_dir / "mall"), stages, scratch_dir / "out")
        bare_dir = package(bare_project(scratch_dir / "bare"), "dev", scratch_dir / "out" / "bare", trim=False)
        bare = sum(zipped_size(bare_dir).values())
        bare_layer_trimmed = shutil.copy(bare_dir / "layer-deployment.zip", scratch_dir / "bare-layer-trimmed.zip")
        trim_layer(bare_layer_trimmed)
        bare_trimmed = zipped_size(bare_dir)["app"] + bare_layer_trimmed.stat().st_size
        layer = packaged[stages[0]] / "layer-deployment.zip"
        record = trim_record(layer)
        untrimmed = layer.stat().st_size + record["bytes"] - record["compiled_bytes"]
        init = init_section(packaged, bare_dir, scratch_dir / "extracted")
        rows, verdicts = [], []
        for stage in stages:
            sizes = zipped_size(packaged[stage])
            total = sum(sizes.values())
            ratio = total / bare
            verdicts.append(ratio <= TARGET_RATIO)
            rows.append(f"| `{stage}` | {kb(sizes['app'])} | {mb(sizes['layer'])} | {mb(total)} | **{ratio:.2f}x** |")
        bare_sizes = zipped_size(bare_dir)
        rows.append(f"| bare Chalice + PynamoDB | {kb(bare_sizes['app'])} | {mb(bare_sizes['layer'])} | {mb(bare)} "
                    "| 1.00x |")
        heaviest = ", ".join(f"{name} {mb(size)}" for name, size in
                             largest_in_layer(packaged[stages[0]] / "layer-deployment.zip"))
        bare_heaviest = ", ".join(f"{name} {mb(size)}" for name, size in
                                  largest_in_layer(bare_dir / "layer-deployment.zip", 3))
        first = zipped_size(packaged[stages[0]])
        same_trim = (first["app"] + first["layer"]) / bare_trimmed
    met = sum(verdicts)
    table = "\n".join(rows)
    return f"""## Deployment packages

`chalice package --stage <stage>` for every stage, and for a bare Chalice app whose only requirement is
PynamoDB (same pins), in this run. A function loads its own zip plus the dependency layer Chalice builds
from requirements.txt (`automatic_layer`); every stage shares one layer, since Chalice has one
requirements.txt per project. Sizes are zipped, as uploaded.

The mall's layer is trimmed (`infra/layer.py`, applied by `infra.packaging.package` and by `python -m infra layer`
before `chalice deploy`): botocore's older API versions of a service (botocore loads the newest), the models of
every service no function's role may call (kept: {", ".join(sorted(granted_services()))}), Powertools' Swagger UI
assets (served only by Powertools' own resolvers, which the mall does not use) and type stubs; no importable module
goes. It gains an unchecked-hash `.pyc` for every module ({record["compiled"]} files, {mb(record["compiled_bytes"])}), and
each function zip carries its own modules' checked-hash `.pyc`. The bare app's package is as Chalice makes it.

| stage | function zip | layer zip | total | vs bare |
| --- | ---: | ---: | ---: | ---: |
{table}

Target <= {TARGET_RATIO}x the bare app: {met} of {len(verdicts)} stages meet it.
The trim took {mb(record["bytes"])} off the layer and the bytecode added {mb(record["compiled_bytes"])}
({mb(untrimmed)} as Chalice builds it: {(first["app"] + untrimmed) / bare:.2f}x). Most of what went is botocore
data the bare app carries too: with the same trim and bytecode applied to the bare app's layer, the mall's package
is {same_trim:.2f}x the bare app's. What the mall carries beyond the bare app is its own dependencies (below): the
compiled cores of cryptography (RSA signatures for WeChat Pay and Alipay) and pydantic, Powertools and the X-Ray SDK.
Largest in the mall's layer: {heaviest}. In the bare app's: {bare_heaviest}.

{init}"""


# --- a cold start's init, as Lambda runs it from the packages ------------------------------------------------

INIT_RUNS = 7
INIT_STAGES = ("catalog", "checkout", "admin")
PROBE = ("import time; started = time.perf_counter(); import sys; sys.path[:0] = sys.argv[1:3]; import app; "
         "print(time.perf_counter() - started)")


def init_section(packaged: dict[str, Path], bare_dir: Path, scratch: Path) -> str:
    """`import app` (a function's init phase) in fresh processes from the extracted packages, as Lambda runs it:
    no site-packages but the layer's, and no cache Python can write (/var/task and /opt are read-only)."""
    variants = {"bare": (extract(bare_dir, scratch / "bare"), None)}
    for stage in INIT_STAGES:
        variants[stage] = (extract(packaged[stage], scratch / stage), stage)
        variants[f"{stage} without bytecode"] = (extract(packaged[stage], scratch / f"{stage}-source", False), stage)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(INIT_RUNS):  # interleaved, so drift in machine load hits every variant alike
        for name, (paths, features) in variants.items():
            times[name].append(init_seconds(*paths, features))
    median = {name: statistics.median(values) * 1000 for name, values in times.items()}
    rows = "\n".join(f"| {stage} | {median[stage]:.0f} ms | **{median[stage] / median['bare']:.2f}x** | "
                     f"{median[stage + ' without bytecode']:.0f} ms | "
                     f"{median[stage + ' without bytecode'] / median['bare']:.2f}x |" for stage in INIT_STAGES)
    return f"""### A cold start's init, from the packages

Each package above extracted as Lambda does (function zip to a task folder, layer to an `/opt` folder) and
imported by a fresh `python -S` with only those two on its path and no cache it can write
(`PYTHONDONTWRITEBYTECODE`), as in Lambda, whose `/var/task` and `/opt` are read-only: `import app`, the init
phase of a cold start ({INIT_RUNS} runs each, interleaved; medians). The bare Chalice + PynamoDB app, as Chalice
packages it (no bytecode), took {median['bare']:.0f} ms. "Without bytecode" is the same package with every
`__pycache__` removed: what the function shipped before.

| function | as packaged | vs bare | without bytecode | vs bare |
| --- | ---: | ---: | ---: | ---: |
{rows}
"""


def extract(package_dir: Path, into: Path, bytecode: bool = True) -> tuple[str, str]:
    """The function zip and the layer unpacked as Lambda lays them out: (task folder, layer site-packages)."""
    task, opt = into / "task", into / "opt"
    zipfile.ZipFile(package_dir / "deployment.zip").extractall(task)
    zipfile.ZipFile(package_dir / "layer-deployment.zip").extractall(opt)
    if not bytecode:
        for cache in [*task.rglob("__pycache__"), *opt.rglob("__pycache__")]:
            shutil.rmtree(cache, ignore_errors=True)
    return str(task), str(next(opt.glob("python/lib/python3.*/site-packages")))


def init_seconds(task: str, site: str, features: str | None) -> float:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": task, "PYTHONDONTWRITEBYTECODE": "1",
           "AWS_DEFAULT_REGION": "us-east-1", **({"MALL_FEATURES": features} if features else {})}
    result = subprocess.run([sys.executable, "-S", "-c", PROBE, task, site], cwd=task, env=env,
                            capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def kb(size: int) -> str:
    return f"{size / 1024:.0f} KB"


def mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


if __name__ == "__main__":
    print(section())
