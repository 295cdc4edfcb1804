"""functions/: a folder per production function, its settings the source of the stages, its policy the derived one."""
from __future__ import annotations

import json
import shutil

from infra import functions, stages
from infra.functions import FUNCTIONS, folder_name
from infra.stages import CHALICE_DIR, lambda_name, policy_file, stage_functions, stages_of_environment
from infra.triggers import trigger_settings


def production_functions() -> list[tuple[str, str]]:
    return [(stage, function) for stage in stages_of_environment("prod") for function in stage_functions(stage)]


def test_every_production_function_has_its_folder_and_nothing_else_has_one():
    expected = {folder_name(stage, function) for stage, function in production_functions()}
    assert {path.name for path in FUNCTIONS.iterdir() if path.is_dir()} == expected
    for name in expected:
        assert {path.name for path in (FUNCTIONS / name).iterdir()} == {"settings.json", "function.json", "policy.json"}


def test_a_folder_shows_what_runs_what_triggers_it_and_what_it_may_touch():
    for stage, function in production_functions():
        folder = FUNCTIONS / folder_name(stage, function)
        described = json.loads((folder / "function.json").read_text())
        assert described["lambda"] == lambda_name(stage, function)
        assert json.loads((folder / "policy.json").read_text()) == json.loads(
            (CHALICE_DIR / policy_file(stage, function)).read_text())
        if function == "api_handler":
            assert described["trigger"]["kind"] == "api"
            # notify's pages live under the members (`/me/subscriptions`) and admin base paths, segments' under admin:
            # their own functions serve only their meta routes; every other one serves routes of its own.
            assert described["trigger"]["routes"] or stage in ("notify", "segments"), (stage, described["trigger"])
        else:
            settings = trigger_settings(function)
            assert described["trigger"]["kind"] == settings.kind
            assert described["trigger"].get("on_failure_queue") == settings.on_failure_queue


def test_stages_are_written_from_the_settings_in_the_folders(tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(FUNCTIONS, project / "functions")
    shutil.copytree(CHALICE_DIR, project / ".chalice", ignore=shutil.ignore_patterns("deployments", "deployed"))
    settings_file = project / "functions" / "catalog" / "settings.json"
    catalog = json.loads(settings_file.read_text())
    settings_file.write_text(json.dumps({**catalog, "memory": 768, "reserved_concurrency": 120}))
    indexer_file = project / "functions" / "catalog-catalog_search_indexer" / "settings.json"
    indexer = json.loads(indexer_file.read_text())
    indexer_file.write_text(json.dumps({**indexer, "timeout": 90, "trigger": {"maximum_retry_attempts": 7}}))
    monkeypatch.setattr(functions, "FUNCTIONS", project / "functions")
    functions.settings.cache_clear()
    try:
        changed = stages.write_stages(project / ".chalice")
        config = json.loads((project / ".chalice" / "config.json").read_text())["stages"]["catalog"]
        assert config["lambda_memory_size"] == 768
        assert config["lambda_functions"]["api_handler"]["reserved_concurrency"] == 120
        assert config["lambda_functions"]["catalog_search_indexer"]["lambda_timeout"] == 90
        assert trigger_settings("catalog_search_indexer").maximum_retry_attempts == 7
        described = json.loads((project / "functions" / "catalog-catalog_search_indexer" / "function.json").read_text())
        assert described["timeout"] == 90 and described["trigger"]["maximum_retry_attempts"] == 7
        assert project / ".chalice" / "config.json" in changed
    finally:
        functions.settings.cache_clear()
