"""One custom domain joins the feature APIs: a base-path mapping per first path segment, each to its feature."""
from __future__ import annotations

import json

import pytest

from chalicelib.core import config
from infra.apps import shape
from infra.cloud import InfraError
from infra.domain import deployed_rest_api_ids, mappings, render_domain

CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"


def test_every_first_path_segment_maps_to_the_one_feature_that_owns_it():
    owners = mappings()
    for feature in config.ALL_FEATURES:
        for path, _ in shape(feature).routes:
            assert owners[path.lstrip("/").split("/", 1)[0]] == feature, path
    # notify and segments serve no URL of their own: their pages sit under /admin and /me, in those features' functions.
    assert set(owners.values()) == {feature for feature in config.ALL_FEATURES if shape(feature).routes}
    assert set(owners.values()) >= set(config.ALL_FEATURES) - {"notify", "segments"}


def test_the_domain_stack_maps_each_base_path_to_its_feature_api():
    ids = {feature: f"id-{feature}" for feature in config.ALL_FEATURES}
    template = render_domain("api.shop.example", CERTIFICATE, ids)
    rendered = {r["Properties"]["BasePath"]: r["Properties"] for r in template["Resources"].values()
                if r["Type"] == "AWS::ApiGateway::BasePathMapping"}
    assert {base: props["RestApiId"] for base, props in rendered.items()} == \
        {base: f"id-{feature}" for base, feature in mappings().items()}
    assert {props["Stage"] for props in rendered.values()} == {"api"}
    domain = template["Resources"]["Domain"]["Properties"]
    assert domain["EndpointConfiguration"] == {"Types": ["REGIONAL"]} and domain["SecurityPolicy"] == "TLS_1_2"


def test_the_domain_waits_for_every_feature_stage_to_be_deployed():
    ids = {feature: f"id-{feature}" for feature in config.ALL_FEATURES[1:]}
    with pytest.raises(InfraError, match=config.ALL_FEATURES[0]):
        render_domain("api.shop.example", CERTIFICATE, ids)


def test_rest_api_ids_come_from_chalices_deploy_records(tmp_path):
    deployed = tmp_path / "deployed"
    deployed.mkdir()
    (deployed / "catalog.json").write_text(json.dumps({"resources": [
        {"name": "api_handler", "resource_type": "lambda_function"},
        {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": "abc123"}]}))
    assert deployed_rest_api_ids(tmp_path) == {"catalog": "abc123"}
