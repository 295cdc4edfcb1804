"""A per-feature function imports only its own feature, and no function's cold start loads pydantic or PyJWT.

The heaviest of what a cold start may import (README, "Cold starts"): pydantic (about a quarter of a
bare Chalice app's whole cold start), PyJWT, python-ulid. Not at import, and not on the request each
function's cold starts mostly answer (the bench's list, benchmarks/cold_start.py `first_requests`): those are
answered with runtime views (core/views.py) and bodies validated against committed schemas
(core/input_schemas.py).
"""
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
        # Handlers import their services when they run: at import a function loads its routes and core only.
        "members": set(), "catalog": set(), "cart": set(), "checkout": set(), "payments": set(),
        "marketing": set(), "groupbuy": set(), "admin": set(), "notify": set(), "segments": set(),
        "analytics": set(),
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


# Every function names its request and response models lazily ("package.module:Model"): importing it loads no
# pydantic.
def test_each_feature_function_is_imported_without_pydantic_jwt_or_ulid():
    from chalicelib.core.config import ALL_FEATURES

    for feature in ALL_FEATURES:
        loaded = modules_loaded_by(feature)
        assert not [name for name in loaded if name.startswith(("pydantic", "jwt", "ulid"))], (feature, loaded)


def test_a_buyers_order_list_loads_neither_order_submission_nor_other_features():
    """`GET /orders` needs the listing and the order views; submitting, pricing, the catalog, the cart, members
    and marketing load with `POST /orders`."""
    probe = """
import json, sys
from chalice.test import Client
import app
from chalicelib.core import auth
with Client(app.app) as client:
    answer = client.http.get("/orders", headers={"Authorization": "Bearer " + auth.issue_buyer_token("U-lazy")})
print(json.dumps([answer.status_code, sorted(m for m in sys.modules if m.startswith("chalicelib."))]))
"""
    env = {**os.environ, "MALL_FEATURES": "checkout", "MALL_JWT_SECRET": "lazy-imports-test-secret",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "MALL_DYNAMODB_ENDPOINT": "http://127.0.0.1:9"}  # nothing listens: the read fails, after the imports
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True)
    status, loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert status == 503, result.stdout  # the table could not be reached: a clear 503, after the imports
    features = {name.split(".")[1] for name in loaded} - {"core"}
    assert features == {"checkout"}, loaded
    assert "chalicelib.checkout.service" not in loaded and "chalicelib.checkout.pricing" not in loaded, loaded


NEVER_ON_A_FIRST_REQUEST = ("pydantic", "jwt", "ulid")


def test_no_functions_first_request_loads_pydantic_jwt_or_ulid():
    """Each function's representative first request (the bench's list), answered in a fresh process against the
    bench's tables in an embedded DynamoDB: a 2xx, with none of pydantic, PyJWT or python-ulid loaded."""
    env = {**os.environ, "BENCH_COLD_START_RUNS": "1"}
    for name in ("MALL_TABLE_PREFIX", "MALL_FEATURES", "MALL_DYNAMODB_ENDPOINT"):
        env.pop(name, None)
    result = subprocess.run([sys.executable, "-m", "benchmarks.run", "first-requests"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"function"')]
    assert len(answers) == 9, result.stdout[-3000:]
    for answer in answers:
        assert answer["status"] in (200, 201), answer
        loaded = [name for name in answer["heavy"] if name in NEVER_ON_A_FIRST_REQUEST]
        assert not loaded, f"{answer['function']} {answer['request']} loads {loaded}"
