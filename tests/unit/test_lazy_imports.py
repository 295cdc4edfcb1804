"""A per-feature function imports only its own feature, and a plain read imports no validation machinery."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import app
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("chalicelib", "pydantic", "jwt", "ulid")))))
"""


def modules_loaded_by(features: str) -> list[str]:
    env = {**os.environ, "MALL_FEATURES": features}
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout)


def test_each_feature_function_imports_no_other_feature():
    for feature, may_use in {
        "members": set(), "catalog": set(), "cart": {"catalog"},
        # prices from the catalog and the buyer's level, coupon and points; buys the cart, ships to an address
        "checkout": {"catalog", "cart", "members", "marketing"},
        "marketing": set(),
        "admin": {"catalog", "checkout"},  # the catalog and orders consoles (notify's pages import it per request)
        "notify": set(),  # its handlers import what they use when they run
    }.items():
        loaded = modules_loaded_by(feature)
        features_loaded = {name.split(".")[1] for name in loaded if name.startswith("chalicelib.")} - {"core"}
        assert features_loaded <= {feature} | may_use, (feature, sorted(features_loaded))


def test_the_catalog_function_starts_without_pydantic_jwt_or_ulid():
    loaded = modules_loaded_by("catalog")
    assert not [name for name in loaded if not name.startswith("chalicelib")], loaded


def test_a_lambda_cold_start_that_logs_nothing_imports_no_powertools():
    probe = ("import json, sys, app\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.startswith('aws_lambda_powertools'))))")
    env = {**os.environ, "MALL_FEATURES": "catalog", "AWS_LAMBDA_FUNCTION_NAME": "micromall-catalog"}
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True)
    assert json.loads(result.stdout) == [], result.stdout
