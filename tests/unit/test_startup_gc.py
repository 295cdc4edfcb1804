"""The cyclic collector is off only while the app module loads, and what loaded is frozen out of its way.

A collector left off would let every request's garbage cycles pile up in a warm Lambda for its whole life;
one never frozen walks botocore's models and the routes on every full collection (README, "Cold starts").
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json
try:
    import app
    loaded = True
except Exception:
    loaded = False
print(json.dumps({"loaded": loaded, "enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""


def collector_after_import(features: str) -> dict:
    env = {**os.environ, "MALL_FEATURES": features}
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout)


def test_collector_is_back_on_after_a_function_loads_with_its_import_time_objects_frozen():
    state = collector_after_import("admin")

    assert state == {"loaded": True, "enabled": True, "frozen": state["frozen"]}
    assert state["frozen"] > 10_000  # botocore, chalice and the routes: the long-lived graph


def test_collector_is_back_on_when_the_app_fails_to_load():
    state = collector_after_import("no-such-feature")

    assert state["loaded"] is False
    assert state["enabled"] is True
