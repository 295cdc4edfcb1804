"""One custom domain over the feature stages: `https://api.shop.example/catalog/products/{id}`.

Each feature stage is its own REST API (Chalice makes one per stage). API Gateway
joins them under one domain by base-path mappings: one per first path segment a
feature's routes use (`catalog`; `auth` and `me` for members), each pointing at the
feature's API. API Gateway strips the base path before matching a route, which is
why feature stages set MALL_BASE_PATHS (app.py registers their routes without it):
the public URLs are the same as the all-in-one `dev` stage's.

The mappings are derived from the app (infra.apps), the API ids from Chalice's
deploy records (`.chalice/deployed/<stage>.json`), so a new feature's stage joins
the domain on the next `python -m infra domain --deploy` after its `chalice deploy`.
Chalice's own `api_gateway_custom_domain` maps one base path per stage and deletes
the shared domain with any one stage, hence this stack.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.stages import API_GATEWAY_STAGE, APP_NAME, CHALICE_DIR, all_features


def mappings() -> dict[str, str]:
    """Base path -> the feature stage that serves it."""
    from infra.apps import shape

    owners: dict[str, str] = {}
    for feature in all_features():
        for base_path in shape(feature).base_paths:
            if base_path in owners:
                raise ValueError(f"base path {base_path!r} is used by both {owners[base_path]} and {feature}: "
                                 "each first path segment must belong to one feature")
            owners[base_path] = feature
    return dict(sorted(owners.items()))


def deployed_rest_api_ids(chalice_dir: Path = CHALICE_DIR) -> dict[str, str]:
    """Stage -> REST API id, from Chalice's records of the stages deployed from this checkout."""
    ids = {}
    for feature in all_features():
        path = chalice_dir / "deployed" / f"{feature}.json"
        if not path.exists():
            continue
        for resource in json.loads(path.read_text(encoding="utf-8")).get("resources", []):
            if resource.get("resource_type") == "rest_api":
                ids[feature] = resource["rest_api_id"]
    return ids


def mapping_resource_name(base_path: str) -> str:
    return "".join(part.capitalize() for part in base_path.replace("_", "-").split("-")) + "Mapping"


def render_domain(domain_name: str, certificate_arn: str, rest_api_ids: dict[str, str] | None = None
                  ) -> dict[str, Any]:
    rest_api_ids = deployed_rest_api_ids() if rest_api_ids is None else rest_api_ids
    owners = mappings()
    missing = sorted({stage for stage in owners.values() if stage not in rest_api_ids})
    if missing:
        from infra.cloud import InfraError

        raise InfraError(f"stage(s) not deployed from this checkout: {', '.join(missing)} "
                         "(`chalice deploy --stage <stage>` first)")
    resources: dict[str, Any] = {"Domain": {
        "Type": "AWS::ApiGateway::DomainName",
        "Properties": {"DomainName": domain_name, "RegionalCertificateArn": certificate_arn,
                       "EndpointConfiguration": {"Types": ["REGIONAL"]}, "SecurityPolicy": "TLS_1_2"}}}
    for base_path, stage in owners.items():
        resources[mapping_resource_name(base_path)] = {
            "Type": "AWS::ApiGateway::BasePathMapping",
            "Properties": {"DomainName": {"Ref": "Domain"}, "BasePath": base_path,
                           "RestApiId": rest_api_ids[stage], "Stage": API_GATEWAY_STAGE}}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{APP_NAME}: {domain_name} over the feature stages (python -m infra domain)",
        "Resources": resources,
        "Outputs": {
            "RegionalDomainName": {"Value": {"Fn::GetAtt": ["Domain", "RegionalDomainName"]},
                                   "Description": "point the domain's DNS (CNAME or alias) here"},
            "RegionalHostedZoneId": {"Value": {"Fn::GetAtt": ["Domain", "RegionalHostedZoneId"]}},
        },
    }


def deploy_domain(domain_name: str, certificate_arn: str, *, region: str | None = None, say=print) -> None:
    from infra.cloud import Waits, apply_stack, session_for

    session = session_for(region)
    cfn = session.client("cloudformation")
    name = f"{APP_NAME}-prod-domain"
    body = json.dumps(render_domain(domain_name, certificate_arn), separators=(",", ":"))
    say(f"stack {name} ({domain_name}) in {session.region_name}:")
    apply_stack(cfn, name, body, [], [{"Key": "app", "Value": APP_NAME}], say, Waits())
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]}
    say(f"point {domain_name} (CNAME or alias) at {outputs.get('RegionalDomainName')}")
