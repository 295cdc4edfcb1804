"""pytest plugin: record what each feature touches while the suites drive the app (infra.access_recorder.Recorder).

Two ways in:

- `tests/deploy/conftest.py` registers this module as a plugin, so a run that collects
  tests/deploy records the whole session and `test_access.py` (moved last) compares what
  every feature did with `infra/access.json`. In `make test` this costs nothing extra.
- `python -m pytest -p tests.deploy.access_plugin ...` with `MALL_ACCESS_RECORDING=<file>`
  writes the recording to that file at the end: `python -m infra access` and
  test_access.py (when the feature suites were not part of its run) use it.

The recorder is installed after collection, when tests/conftest.py has set the
test environment, and before the first test runs.

Under pytest-xdist (`make test` runs the in-process suites on two workers) each worker records
its share; the controller sees every test's report, gathers the workers' recordings and what
they collected, and writes one merged recording to `MALL_ACCESS_RECORDING`. test_access.py
then runs in a session of its own that reads it (`MALL_ACCESS_RECORDED`), since no worker
sees the whole run.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
RECORDING_ENV = "MALL_ACCESS_RECORDING"
RECORDED_ENV = "MALL_ACCESS_RECORDED"  # a recording written by an earlier (xdist) run, for test_access.py to judge
DERIVATION_TEST = "test_access.py"
WORKER_OUTPUT = "micromall_access"


class State:
    recorder = None
    feature_items: set[str] = set()  # nodeids of the tests that drive features
    outcomes: dict[str, bool] = {}
    deselected = False
    expected_files: set[Path] = set()
    collected_files: set[Path] = set()
    workers: list[dict] = []  # on an xdist controller: each worker's recording and collection


def is_xdist_worker(config) -> bool:
    return hasattr(config, "workerinput")


def is_xdist_controller(config) -> bool:
    return not is_xdist_worker(config) and bool(getattr(config.option, "numprocesses", None))


def feature_test_files() -> set[Path]:
    """Every test module that may drive the app in-process: all but tests/deploy (except its drills), e2e and browser
    (those drive a stack in another process)."""
    files = set()
    for path in TESTS.rglob("test_*.py"):
        relative = path.relative_to(TESTS).parts
        if relative[0] in ("e2e", "browser") or (relative[0] == "deploy" and path.name != "test_drills.py"):
            continue
        files.add(path)
    return files


def drives_features(item) -> bool:
    return Path(str(item.path)) in State.expected_files


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    if State.recorder is None:
        from chalicelib.core import config as mall_config
        from infra.access_recorder import Recorder

        State.recorder = Recorder(mall_config.ALL_FEATURES).install()
        State.expected_files = feature_test_files()
    State.feature_items = {item.nodeid for item in items if drives_features(item)}
    State.collected_files = {Path(str(item.path)) for item in items if drives_features(item)}
    last = [item for item in items if Path(str(item.path)).name == DERIVATION_TEST]
    items[:] = [item for item in items if item not in last] + last


def pytest_deselected(items):
    if any(drives_features(item) for item in items):
        State.deselected = True


def pytest_runtest_logreport(report):
    # An xdist controller learns which tests drive the features only from its workers at the end: it keeps all.
    known = State.feature_items if State.recorder is not None else None
    if (known is None or report.nodeid in known) and (report.when == "call" or report.outcome != "passed"):
        State.outcomes[report.nodeid] = State.outcomes.get(report.nodeid, True) and report.outcome != "failed"


def session_covers_feature_tests() -> bool:
    """Whether this session collected every test that drives the features (none deselected)."""
    return State.recorder is not None and not State.deselected and State.expected_files <= State.collected_files


def session_recording():
    """This session's recording, or why it cannot be trusted as complete."""
    if not session_covers_feature_tests():
        missing = sorted(str(path.relative_to(TESTS)) for path in State.expected_files - State.collected_files)
        return None, f"the run did not collect every feature test ({', '.join(missing[:5]) or 'some deselected'})"
    not_passed = sorted(nodeid for nodeid in State.feature_items if not State.outcomes.get(nodeid, False))
    if not_passed:
        return None, f"{len(not_passed)} feature test(s) failed or did not run, e.g. {not_passed[0]}"
    return State.recorder.recording, None


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if is_xdist_worker(config):
        if State.recorder is not None:
            config.workeroutput[WORKER_OUTPUT] = json.dumps({
                "recording": State.recorder.recording.to_json(), "feature_items": sorted(State.feature_items),
                "collected_files": sorted(map(str, State.collected_files)), "deselected": State.deselected})
        return
    target = os.environ.get(RECORDING_ENV)
    if target and is_xdist_controller(config):
        _write_merged_recording(Path(target))
    elif target and State.recorder is not None:
        data = State.recorder.recording.to_json()
        recording, problem = session_recording()
        data["complete"] = recording is not None
        data["problem"] = problem
        Path(target).write_text(json.dumps(data, indent=1), encoding="utf-8")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist controller: a worker finished; keep what its recorder saw and what it collected."""
    output = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
    if output:
        State.workers.append(json.loads(output))


def _write_merged_recording(target: Path) -> None:
    from infra.access import Recording

    recording = Recording()
    feature_items: set[str] = set()
    collected: set[Path] = set()
    for worker in State.workers:
        recording.absorb(Recording.from_json(worker["recording"]))
        feature_items |= set(worker["feature_items"])
        collected |= {Path(path) for path in worker["collected_files"]}
    State.expected_files = feature_test_files()
    problem = None
    if not State.workers:
        problem = "no xdist worker reported a recording"
    elif any(worker["deselected"] for worker in State.workers) or not State.expected_files <= collected:
        missing = sorted(str(path.relative_to(TESTS)) for path in State.expected_files - collected)
        problem = f"the run did not collect every feature test ({', '.join(missing[:5]) or 'some deselected'})"
    else:
        not_passed = sorted(nodeid for nodeid in feature_items if not State.outcomes.get(nodeid, False))
        if not_passed:
            problem = f"{len(not_passed)} feature test(s) failed or did not run, e.g. {not_passed[0]}"
    data = {**recording.to_json(), "complete": problem is None, "problem": problem}
    target.write_text(json.dumps(data, indent=1), encoding="utf-8")
