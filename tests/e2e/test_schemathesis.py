"""Schemathesis fuzzes every route of /openapi.json against the running stack: no server errors.

Each run goes through schemathesis's coverage, fuzzing and stateful phases (the stateful one chains
operations by the links it infers from the response schemas: an address into an order, an order into
its cancel), thousands of cases for a buyer and again for staff.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def run_schemathesis(stack, token: str, tmp_path: Path, label: str) -> subprocess.CompletedProcess:
    cli = Path(sys.executable).parent / "schemathesis"
    return subprocess.run(
        [str(cli), "run", f"{stack.url}/openapi.json", "--checks", "not_a_server_error",
         "--max-examples", "10", "--seed", "20261125", "--request-timeout", "10",
         "--header", f"Authorization: Bearer {token}", "--continue-on-failure", "--no-color",
         "--report-dir", str(tmp_path / label)],
        capture_output=True, text=True, timeout=900)


def assert_stateful_and_thousands_of_cases(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(r"✅ Stateful", result.stdout), "the stateful phase ran and passed:\n" + result.stdout[-3000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert cases and int(cases.group(1)) >= 2000 and cases.group(1) == cases.group(2), result.stdout[-3000:]


def test_no_route_answers_a_server_error_to_a_buyer(stack, tmp_path):
    token = stack.request("POST", "/auth/login", {"code": "dev:fuzzer"})[1]["token"]
    result = run_schemathesis(stack, token, tmp_path, "buyer")
    assert_stateful_and_thousands_of_cases(result)


def test_no_route_answers_a_server_error_to_staff(stack, tmp_path):
    status, login = stack.request("POST", "/admin/login", {"username": "admin", "password": "admin"})
    assert status == 200, login
    result = run_schemathesis(stack, login["token"], tmp_path, "staff")
    assert_stateful_and_thousands_of_cases(result)
