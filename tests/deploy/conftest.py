"""tests/deploy: stages, policies, packages and the infra commands, without AWS.

Packaging every stage is the slow part (Chalice builds the dependency layer once,
then reuses it), so it happens once per session in `packages`.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy import access_plugin
from tests.deploy.access_plugin import session_covers_feature_tests, session_recording


def pytest_configure(config):
    """Record the whole session's AWS calls: the plugin's hooks must see every test, not just tests/deploy's
    (a conftest's own runtest hooks only see the tests under it)."""
    if not config.pluginmanager.is_registered(access_plugin):
        config.pluginmanager.register(access_plugin, "micromall-access-recorder")


ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def endpoint():
    """A moto server on loopback, one per module: the infra commands run against it in their own processes."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def packages(tmp_path_factory) -> dict[str, Path]:
    """Stage -> the directory `chalice package` wrote (sam.json, deployment.zip, layer-deployment.zip)."""
    from infra.packaging import package_stages, project_copy
    from infra.stages import stage_names

    project = project_copy(tmp_path_factory.mktemp("project"))
    return package_stages(project, stage_names(), tmp_path_factory.mktemp("packages"))


@pytest.fixture(scope="session")
def sam(packages) -> dict[str, dict]:
    return {stage: json.loads((path / "sam.json").read_text()) for stage, path in packages.items()}


@pytest.fixture(scope="session")
def derived_access():
    """(grants per feature and function, problems) derived from this session's run, or from a run of the suites.

    In a run over all of tests/ the recorder already watched every feature test; a run of
    tests/deploy alone starts one (about as long as the feature suites take).
    """
    from chalicelib.core import config
    from infra.access import Recording, derive
    from infra.access_run import problems_with, run_recording

    recorded = os.environ.get(access_plugin.RECORDED_ENV)
    if recorded:  # what an earlier run of the suites (on xdist workers) recorded: `make test`
        data = json.loads(Path(recorded).read_text(encoding="utf-8"))
        if not data.get("complete"):
            pytest.fail(f"the recording in {recorded} is not complete: {data.get('problem')}")
        recording = Recording.from_json(data)
        return derive(recording, config.ALL_FEATURES), problems_with(recording, config.ALL_FEATURES)
    recording, why_not = session_recording()
    if recording is None and session_covers_feature_tests():
        pytest.skip(f"cannot derive what the features touch: {why_not}")
    if recording is None:
        data = run_recording()
        if not data.get("complete"):
            pytest.fail(f"the feature suites did not all pass under the recorder ({data.get('problem')}); "
                        f"fix them first:\n{data.get('pytest_tail', '')}")
        recording = Recording.from_json(data)
    return derive(recording, config.ALL_FEATURES), problems_with(recording, config.ALL_FEATURES)


def cfn_lint(*templates: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "cfn-lint"), *map(str, templates)], capture_output=True, text=True)
