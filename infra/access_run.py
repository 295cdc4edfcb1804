"""Running the test suites under the access recorder (infra/access.py), and judging what they recorded.

`python -m infra access` runs every suite that drives the app in-process with the recorder installed
(tests/deploy/access_plugin.py), refuses a recording that missed a feature test or an entry point, and
derives every feature's grants from the rest.
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from infra.access import ROOT, FunctionGrants, Recording, derive

PLUGIN = "tests.deploy.access_plugin"
RECORDING_ENV = "MALL_ACCESS_RECORDING"
DRILLS = ROOT / "tests" / "deploy" / "test_drills.py"


def recording_command() -> list[str]:
    """pytest over every suite that drives the app in-process (not e2e: that app runs in another process)."""
    tests = ROOT / "tests"
    targets = [str(path.relative_to(ROOT)) for path in sorted(tests.iterdir())
               if path.is_dir() and path.name not in ("e2e", "browser", "deploy", "__pycache__")]
    if DRILLS.exists():
        targets.append(str(DRILLS.relative_to(ROOT)))
    # Two pytest-xdist workers; the plugin's controller merges their recordings into one file.
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile",
            "-p", PLUGIN, *targets]


def run_recording() -> dict[str, Any]:
    import os
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "recording.json"
        result = subprocess.run(recording_command(), cwd=ROOT, env={**os.environ, RECORDING_ENV: str(output)},
                                capture_output=True, text=True)
        if not output.exists():
            raise RuntimeError(f"the recording run wrote nothing:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        data = json.loads(output.read_text(encoding="utf-8"))
    data["pytest_tail"] = result.stdout[-2000:]
    return data


def expected_entry_points(features: Iterable[str]) -> dict[str, set[str]]:
    from infra.apps import entry_points

    expected: dict[str, set[str]] = defaultdict(set)
    for feature, name, _ in entry_points(tuple(features)).values():
        expected[feature].add(name)
    return expected


def problems_with(recording: Recording, features: Iterable[str]) -> list[str]:
    """Why a recording cannot be trusted: calls infra cannot map, entry points that never ran."""
    features = tuple(features)
    problems = [f"unmapped AWS call: {call}" for call in sorted(recording.unmapped)]
    for feature, names in sorted(expected_entry_points(features).items()):
        ran = recording.features[feature].invoked if feature in recording.features else set()
        for name in sorted(names - ran):
            problems.append(f"{feature}: {name} never ran under the recorder, so what it touches is unknown; "
                            "drive it through the app in the feature's tests (chalice.test.Client, "
                            "EventPump(app).drain() / .run_schedules()) or add a drill to tests/deploy/test_drills.py")
    return problems


def record_by_running_tests() -> tuple[dict[str, FunctionGrants], list[str]]:
    """(grants per feature, problems): run the suites under the recorder and derive every feature's grants."""
    from chalicelib.core import config

    data = run_recording()
    if not data.get("complete"):
        return {}, [f"the test run was not complete: {data.get('problem')}\n{data.get('pytest_tail', '')}"]
    recording = Recording.from_json(data)
    problems = problems_with(recording, config.ALL_FEATURES)
    return derive(recording, config.ALL_FEATURES), problems
