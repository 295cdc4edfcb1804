"""`.chalice/config.json` and the policy files are what `python -m infra stages` renders, and they are tight."""
from __future__ import annotations

import json
import re
import shutil

import pytest

from chalicelib.core import config
from infra.access import load_manifest, secrets_named_in_code
from infra.apps import shape
from infra.functions import settings as settings_of
from infra.policy import MAX_INLINE_POLICY_CHARS, policy_chars
from infra.stages import (
    CHALICE_DIR,
    DEV_STAGE,
    feature_settings,
    lambda_name,
    policy_file,
    read_config,
    stage_functions,
    stage_names,
    stages_of_environment,
    write_stages,
)

ACCOUNT_CONCURRENCY = 1000  # a Lambda account's default limit
UNRESERVED_MINIMUM = 100  # Lambda keeps at least this much unreserved


@pytest.fixture(scope="module")
def stages() -> dict:
    return read_config()["stages"]


def policies():
    for stage in stage_names():
        for function in stage_functions(stage):
            path = CHALICE_DIR / policy_file(stage, function)
            assert path.exists(), f"no {path.name} for {stage}/{function}: run `python -m infra access`"
            yield stage, function, json.loads(path.read_text())


def test_config_and_policy_files_are_rendered_and_up_to_date(tmp_path):
    copy = tmp_path / ".chalice"
    shutil.copytree(CHALICE_DIR, copy, ignore=shutil.ignore_patterns("deployments", "deployed", "venv"))
    shutil.copytree(CHALICE_DIR.parent / "functions", tmp_path / "functions")  # function.json, policy.json
    changed = write_stages(copy)
    assert not changed, f"run `python -m infra stages`: out of date: {', '.join(p.name for p in changed)}"


@pytest.mark.parametrize("feature", config.ALL_FEATURES)
def test_every_feature_has_its_own_stage(stages, feature):
    stage = stages.get(feature)
    assert stage, f"no stage {feature!r} in .chalice/config.json: run `python -m infra access`"
    settings = feature_settings(feature)
    variables = stage["environment_variables"]
    assert variables["MALL_FEATURES"] == feature
    assert [path for path in variables["MALL_BASE_PATHS"].split(",") if path] == list(shape(feature).base_paths)
    assert variables["MALL_TABLE_PREFIX"] == "micromall-prod-" and variables["MALL_SSM_PREFIX"] == "/micromall/prod"
    assert (stage["lambda_memory_size"], stage["lambda_timeout"]) == (settings.memory, settings.timeout)
    assert stage["lambda_functions"]["api_handler"]["reserved_concurrency"] == settings.concurrency
    assert stage["autogen_policy"] is False and stage["iam_policy_file"] == policy_file(feature)
    for handler in shape(feature).handlers:
        assert stage["lambda_functions"][handler.name]["iam_policy_file"] == policy_file(feature, handler.name)
    assert settings_of(feature), f"size {feature!r} in functions/{feature}/settings.json (it runs on the defaults now)"


def test_dev_stage_serves_every_feature_in_one_function(stages):
    dev = stages[DEV_STAGE]
    assert dev["environment_variables"]["MALL_FEATURES"] == "all"
    assert "MALL_BASE_PATHS" not in dev["environment_variables"]
    assert dev["environment_variables"]["MALL_TABLE_PREFIX"] == "micromall-dev-"
    assert "reserved_concurrency" not in dev.get("lambda_functions", {}).get("api_handler", {})


def test_checkout_and_payments_are_sized_for_a_flash_sale():
    for feature in ("checkout", "payments"):
        settings = feature_settings(feature)
        assert settings.memory >= 1024 and settings.concurrency >= 150 and settings.timeout <= 29


def test_reserved_concurrency_leaves_the_account_its_unreserved_minimum(stages):
    reserved = sum(entry.get("reserved_concurrency", 0) for stage in stages_of_environment("prod")
                   for entry in stages[stage].get("lambda_functions", {}).values())
    assert reserved <= ACCOUNT_CONCURRENCY - UNRESERVED_MINIMUM, reserved


def test_no_policy_has_a_wildcard_resource_or_action():
    """The `*` allowed: the log-stream part of the function's own log group, and X-Ray's writes (no resource type)."""
    for stage, function, policy in policies():
        own_logs = re.escape(f":log-group:/aws/lambda/{lambda_name(stage, function)}:") + r"\*$"
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow" and set(statement) == {"Sid", "Effect", "Action", "Resource"}
            if statement["Sid"] == "Traces":
                assert statement["Action"] == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], statement
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            assert not [a for a in actions if "*" in a], (stage, function, statement)
            for resource in resources:
                assert "*" not in resource or re.search(own_logs, resource), (stage, function, resource)


def test_policies_fit_in_iam_inline_policy_limit():
    for stage, function, policy in policies():
        assert policy_chars(policy) <= MAX_INLINE_POLICY_CHARS, (stage, function, policy_chars(policy))


def test_every_secret_the_code_names_is_granted_and_no_other():
    """Every secret the code names is granted to some function, and every granted secret is named in the code."""
    named = secrets_named_in_code()
    granted = {resource.removeprefix("parameter/") for functions in load_manifest().values()
               for grants in functions.values() for resource in grants if resource.startswith("parameter/")}
    assert set(named) <= granted, f"secrets no function may read: {sorted(set(named) - granted)}"
    assert granted <= set(named), f"granted secrets no code names: {sorted(granted - set(named))}"


def test_live_only_secrets_are_declared_for_functions_that_exist():
    for feature in config.ALL_FEATURES:
        settings = feature_settings(feature)
        functions = {"api_handler", *(handler.name for handler in shape(feature).handlers)}
        assert set(settings.live_secrets) <= functions, (feature, sorted(settings.live_secrets))


def test_the_stages_command_checks_without_writing():
    from infra.__main__ import main

    before = (CHALICE_DIR / "config.json").read_text()
    assert main(["stages", "--check"]) == 0
    assert (CHALICE_DIR / "config.json").read_text() == before


def test_rendering_keeps_your_own_settings_and_drops_what_it_owns(tmp_path):
    copy = tmp_path / ".chalice"
    shutil.copytree(CHALICE_DIR, copy, ignore=shutil.ignore_patterns("deployments", "deployed", "venv"))
    config_path = copy / "config.json"
    edited = json.loads(config_path.read_text())
    payments = edited["stages"]["payments"]
    payments["environment_variables"].update(MALL_WECHATPAY_MCHID="1900000001", MALL_FEATURES="catalog")
    payments["tags"] = {"team": "pay"}
    payments["lambda_memory_size"] = 128
    config_path.write_text(json.dumps(edited))
    write_stages(copy)
    rendered = json.loads(config_path.read_text())["stages"]["payments"]
    assert rendered["environment_variables"]["MALL_WECHATPAY_MCHID"] == "1900000001"
    assert rendered["environment_variables"]["MALL_FEATURES"] == "payments"
    assert rendered["tags"] == {"team": "pay"} and rendered["lambda_memory_size"] == feature_settings("payments").memory
