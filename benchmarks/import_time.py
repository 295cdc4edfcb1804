"""The import time section: `import app` per function against `import chalice, boto3`, and where it goes."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.report import ms

ROOT = Path(__file__).resolve().parents[1]
COLD_STARTS = int(os.environ.get("BENCH_COLD_STARTS", "9"))


def import_seconds(statement: str, features: str = "all") -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = {**os.environ, "MALL_FEATURES": features}
    samples = [float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                                    text=True, check=True).stdout) for _ in range(COLD_STARTS)]
    return statistics.median(samples)


def import_section() -> str:
    import_seconds("import app")  # warm .pyc files
    baseline = import_seconds("import chalice, boto3")
    rows = [("`import chalice, boto3`", baseline)]
    rows.append(("`import app` (all features)", import_seconds("import app")))
    for feature in ("members", "catalog", "cart", "admin"):
        rows.append((f"`import app` (`MALL_FEATURES={feature}`)", import_seconds("import app", feature)))
    table = "\n".join(f"| {label} | {ms(seconds)} | {seconds / baseline:.2f}x |" for label, seconds in rows)
    steps = import_steps()
    breakdown = "\n".join(f"| {label} | {ms(seconds)} |" for label, seconds in steps.items())
    return f"""## Import time

Median of {COLD_STARTS} fresh processes each.

| import | time | vs chalice + boto3 |
| --- | ---: | ---: |
{table}

Where the catalog function's import time goes (one process importing in steps, median of {COLD_STARTS}).
Request and response models are named lazily, so a cold start whose first request is a read (a product
page) never imports pydantic:

| step | time |
| --- | ---: |
{breakdown}
"""


def import_steps() -> dict[str, float]:
    code = """import time, json
marks = [time.perf_counter()]
import chalice, boto3
marks.append(time.perf_counter())
import pynamodb.models, pynamodb.connection
marks.append(time.perf_counter())
import app
marks.append(time.perf_counter())
import chalicelib.catalog.inputs, chalicelib.catalog.views
marks.append(time.perf_counter())
print(json.dumps([b - a for a, b in zip(marks, marks[1:])]))"""
    env = {**os.environ, "MALL_FEATURES": "catalog"}
    runs = [json.loads(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                                      text=True, check=True).stdout) for _ in range(COLD_STARTS)]
    labels = ["chalice + boto3", "+ pynamodb", "+ the mall's own modules (`import app`, catalog + core)",
              "later, on the first request that validates: + pydantic and the catalog's models"]
    return {label: statistics.median(run[i] for run in runs) for i, label in enumerate(labels)}
