"""`functions/`: one folder per deployed production function, its settings and what it may touch.

    functions/<stage>/                  a feature's API function (`micromall-<stage>`)
    functions/<stage>-<handler>/        one of its event handlers (`micromall-<stage>-<handler>`)
        settings.json   kept by hand: memory, timeout, reserved concurrency (API), the secrets it
                        reads only against live providers, its trigger's settings (handlers), why
        function.json   written by `python -m infra stages`: what runs (the handler), what
                        triggers it (routes under its base paths, a stream, a schedule, with the
                        effective trigger settings), its sizing
        policy.json     written by `python -m infra stages`: its IAM policy (derived from what the
                        tests see it touch, infra.access), the same as `.chalice/policy-*.json`

The code stays in `chalicelib/` (Chalice packages only that, and each feature's function is
built from it); this folder is what a reader looks at to see every Lambda, what triggers it
and what it may touch, and where its sizing is changed. `infra.stages` and `infra.triggers`
read `settings.json`; a function without one runs on the defaults (`infra.stages.NEW_FEATURES`
sizes a planned feature until its folders are written by hand). The `dev` stage (everything in one
function) has no folders: it is sized in `infra.stages.DEV_SETTINGS`.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
API_FUNCTION = "api_handler"


def folder_name(stage: str, function: str = API_FUNCTION) -> str:
    return stage if function == API_FUNCTION else f"{stage}-{function}"


@cache
def settings(stage: str, function: str = API_FUNCTION) -> dict[str, Any]:
    """The function's settings.json ({} without one)."""
    path = FUNCTIONS / folder_name(stage, function) / "settings.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def handler_stage(handler: str) -> str | None:
    """The feature stage that deploys `handler` (its feature)."""
    from chalicelib.core import config
    from infra.apps import shape

    for feature in config.ALL_FEATURES:
        if any(described.name == handler for described in shape(feature).handlers):
            return feature
    return None


def trigger_overrides(handler: str) -> dict[str, Any]:
    """The `trigger` block of the handler's settings.json: what differs from its kind's defaults."""
    stage = handler_stage(handler)
    return dict(settings(stage, handler).get("trigger", {})) if stage else {}


def describe(stage: str, function: str) -> dict[str, Any]:
    """function.json: what runs, what triggers it, how it is sized (effective values)."""
    from dataclasses import asdict

    from infra.apps import shape
    from infra.stages import feature_settings, handler_sizing, lambda_name
    from infra.triggers import trigger_settings

    described = shape(stage)
    sized = feature_settings(stage)
    entry: dict[str, Any] = {"lambda": lambda_name(stage, function), "stage": stage}
    if function == API_FUNCTION:
        entry.update({"handler": "app.app", "memory": sized.memory, "timeout": sized.timeout,
                      "reserved_concurrency": sized.concurrency,
                      "trigger": {"kind": "api", "base_paths": list(described.base_paths),
                                  "routes": [f"{method} {path}" for path, method in described.routes]}})
    else:
        [handler] = [h for h in described.handlers if h.name == function]
        memory, timeout = handler_sizing(stage, function)
        trigger = {key: value for key, value in asdict(trigger_settings(function)).items() if value is not None}
        if handler.batch_size:
            trigger["batch_size"] = handler.batch_size
        entry.update({"handler": f"chalicelib.{stage}.routes.{function}", "memory": memory, "timeout": timeout,
                      "trigger": trigger})
    entry["live_secrets"] = sorted(sized.live_secrets.get(function, ()))
    entry["policy"] = "policy.json"
    return entry


def outputs(project: Path, policy_of) -> dict[Path, str]:
    """Every generated file under `project/functions/`; `policy_of(stage, function)` renders a policy's text."""
    from infra.stages import environment, stage_functions, stage_names

    files: dict[Path, str] = {}
    for stage in stage_names():
        if environment(stage) != "prod":
            continue
        for function in stage_functions(stage):
            folder = project / "functions" / folder_name(stage, function)
            files[folder / "function.json"] = json.dumps(describe(stage, function), indent=2, ensure_ascii=False) + "\n"
            files[folder / "policy.json"] = policy_of(stage, function)
    return files
