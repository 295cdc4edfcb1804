"""`python -m infra create-owner`: the first owner of a deployed shop, against moto's server, in its own process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long owner password 1"


def environment(endpoint: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MALL_", "AWS_"))}
    return {**env, "MALL_DYNAMODB_ENDPOINT": endpoint, "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", **extra}


def run(endpoint: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra", *args], cwd=ROOT, env=environment(endpoint),
                          input=stdin, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def prod_tables(endpoint):
    subprocess.run([sys.executable, "-c", "from infra.tables import create_tables; create_tables()"], cwd=ROOT,
                   env=environment(endpoint, MALL_TABLE_PREFIX="micromall-prod-"), check=True, timeout=120)
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")


def staff_items(dynamodb) -> dict[str, dict]:
    return {item["username"]["S"]: item for item in dynamodb.scan(TableName="micromall-prod-staff")["Items"]}


def test_an_environment_without_tables_is_told_to_deploy_first(endpoint):
    result = run(endpoint, "create-owner", "--stage", "dev", stdin=PASSWORD + "\n")
    assert result.returncode == 1 and "python -m infra deploy --stage dev" in result.stderr, result.stderr


def test_the_password_is_never_an_argument(endpoint):
    result = run(endpoint, "create-owner", "--stage", "payments", "--password", PASSWORD)
    assert result.returncode == 2 and "unrecognized arguments" in result.stderr


def test_a_short_password_is_refused(endpoint, prod_tables):
    result = run(endpoint, "create-owner", "--stage", "payments", stdin="short\n")
    assert result.returncode == 1 and "at least 12 characters" in result.stderr
    assert staff_items(prod_tables) == {}


def test_the_first_owner_is_created_from_stdin_and_can_log_in(endpoint, prod_tables):
    result = run(endpoint, "create-owner", "--stage", "admin", "--username", "boss", stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    item = staff_items(prod_tables)["boss"]
    assert item["role"]["S"] == "owner" and PASSWORD not in str(item)

    check = ("import sys; from chalicelib.admin.passwords import verify_password; "
             "from chalicelib.admin.models import StaffAccount; "
             "sys.exit(0 if verify_password(sys.stdin.read(), StaffAccount.get('boss').password_hash) else 3)")
    verified = subprocess.run([sys.executable, "-c", check], cwd=ROOT, input=PASSWORD, capture_output=True, text=True,
                              env=environment(endpoint, MALL_TABLE_PREFIX="micromall-prod-"), timeout=60)
    assert verified.returncode == 0, verified.stderr


def test_a_second_owner_is_refused_once_the_shop_has_one(endpoint, prod_tables):
    result = run(endpoint, "create-owner", "--stage", "catalog", "--username", "other", stdin=PASSWORD + "\n")
    assert result.returncode == 1 and "already has 1 active owner" in result.stderr, result.stderr
    assert "other" not in staff_items(prod_tables)


def test_a_terminal_prompts_twice_without_echo(monkeypatch):
    from infra.cloud import InfraError
    from infra.owner import read_password

    class Terminal:
        def isatty(self):
            return True

    answers = iter([PASSWORD, PASSWORD, PASSWORD, "typo"])
    assert read_password(Terminal(), prompt=lambda text: next(answers)) == PASSWORD
    with pytest.raises(InfraError, match="differ"):
        read_password(Terminal(), prompt=lambda text: next(answers))
