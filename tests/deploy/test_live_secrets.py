"""Every function whose code can read a secret may read it: the test suites run the sandbox providers, so a live
provider's secrets reach the policies only through `live_secrets`, and a function missing one fails in live mode
(a buyer's cancel closing the trade, the sweeper, a refund). Which secrets a function can read is found by
following its code from its entry points (infra/secrets_reach.py), not from a hand list."""
from __future__ import annotations

import json
from functools import cache

import pytest

from chalicelib.core import config
from infra.access import secrets_named_in_code
from infra.policy import load_target, resource_arn
from infra.secrets_reach import secrets_reached
from infra.stages import (
    CHALICE_DIR,
    environment,
    feature_settings,
    policy_file,
    stage_features,
    stage_functions,
    stage_names,
)

PROVIDER_SECRETS = {"wechatpay_merchant_private_key", "wechatpay_apiv3_key", "wechatpay_platform_keys",
                    "alipay_app_private_key", "alipay_public_key"}


@cache
def reached(feature: str) -> dict[str, set[str]]:
    return secrets_reached(feature)


def readable_parameters(stage: str, function: str) -> set[str]:
    policy = json.loads((CHALICE_DIR / policy_file(stage, function)).read_text())
    resources = set()
    for statement in policy["Statement"]:
        if "ssm:GetParameter" in statement["Action"]:
            named = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            resources |= {resource for resource in named if ":parameter/" in resource}
    return resources


@pytest.mark.parametrize("stage", stage_names())
def test_each_function_may_read_every_secret_its_code_can_read(stage):
    env, target = environment(stage), load_target(environment(stage))
    missing = []
    for function in stage_functions(stage):
        needed = set().union(*(reached(feature).get(function, set()) for feature in stage_features(stage)))
        granted = readable_parameters(stage, function)
        missing += [f"{policy_file(stage, function)}: {name}" for name in sorted(needed)
                    if resource_arn(f"parameter/{name}", env, target) not in granted]
    assert not missing, "functions that would fail in live mode; add the secrets to live_secrets in " \
                        "functions/<function>/settings.json and run `python -m infra stages`:\n" + "\n".join(missing)


@pytest.mark.parametrize("feature", config.ALL_FEATURES)
def test_live_secrets_name_only_secrets_the_functions_code_can_read(feature):
    for function, names in feature_settings(feature).live_secrets.items():
        extra = set(names) - reached(feature).get(function, set())
        assert not extra, f"{feature}/{function} is granted secrets its code never reads: {sorted(extra)}"


def test_the_walk_finds_every_secret_the_code_names():
    found = set().union(*(secrets for feature in config.ALL_FEATURES for secrets in reached(feature).values()))
    assert found == set(secrets_named_in_code())


@pytest.mark.parametrize("feature, function", [
    ("checkout", "api_handler"),  # a buyer's cancel closes the provider trade
    ("checkout", "checkout_sweeper"),  # so does the expiry of an unpaid order
    ("admin", "api_handler"),  # staff cancel, approve and retry refunds
    ("payments", "api_handler"),
    ("payments", "payments_reconciler"),
])
def test_every_function_that_closes_trades_or_refunds_reaches_the_provider_secrets(feature, function):
    assert PROVIDER_SECRETS <= reached(feature)[function]


@pytest.mark.parametrize("feature, function", [("cart", "api_handler"), ("catalog", "api_handler"),
                                               ("checkout", "checkout_order_stream")])
def test_functions_that_never_pay_reach_no_provider_secret(feature, function):
    assert not PROVIDER_SECRETS & reached(feature)[function]
