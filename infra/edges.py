"""What `chalice package` cannot say itself, merged into each stage's template (`--merge-template`).

- API Gateway's Gateway Responses: the answers API Gateway gives without the function
  (throttling, an unknown route, a function that failed, timed out or was throttled)
  keep the mall's error shape `{"error": {"code", "message"}}`. Throttling answers 503
  with `Retry-After`, as the mall itself does when DynamoDB throttles; an unknown route
  is a JSON 404 (API Gateway's own answer is a 403 "Missing Authentication Token").
- The event source mapping settings of each stream trigger (`infra.triggers`): bounded
  retries, bisecting a failing batch, a maximum record age, the on-failure dead-letter
  queue and partial-batch responses; and of each queue trigger, that its handler answers
  partial batch failures (without it Lambda deletes a batch's failed messages too).

Two ways to deploy them, the same settings either way:

- `python -m infra package --stage S --output DIR` runs `chalice package` with the merge
  file (tests/deploy lints and inspects what comes out), for `aws cloudformation deploy`;
- `python -m infra edges --stage S` right after `chalice deploy --stage S` (which has no
  merge option) puts the Gateway Responses on the stage's REST API (naming it
  `micromall-<stage>` if an older deploy left it "micromall"), redeploys its API stage and
  updates each stream and queue trigger's event source mapping.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RETRY_AFTER_SECONDS = 1
UNKNOWN_ROUTE = {"error": {"code": "NOT_FOUND", "message": "no such route"}}


def _template(code: str, message: str | None = None) -> str:
    """A mapping template for a body in the mall's shape; without `message`, API Gateway's own, quoted."""
    text = json.dumps(message) if message is not None else "$context.error.messageString"
    return '{"error": {"code": "' + code + '", "message": ' + text + "}}"


def _response(code: str, message: str | None = None, status: int | None = None,
              retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"ResponseTemplates": {"application/json": _template(code, message)}}
    if status is not None:
        response["StatusCode"] = str(status)
    if retry_after:  # a header value in a Gateway Response is a quoted literal
        response["ResponseParameters"] = {"Headers": {"Retry-After": f"'{RETRY_AFTER_SECONDS}'"}}
    return response


def gateway_responses() -> dict[str, dict[str, Any]]:
    """ResponseType -> the SAM GatewayResponses entry of the stage's REST API."""
    busy = "the shop is busy, retry shortly"
    return {
        # A stage's or account's request rate exceeded: the same answer as DynamoDB throttling in the function.
        "THROTTLED": _response("BUSY", busy, status=503, retry_after=True),
        "QUOTA_EXCEEDED": _response("BUSY", busy, status=503, retry_after=True),
        # No route matched: API Gateway says 403 "Missing Authentication Token", which misleads every client.
        "MISSING_AUTHENTICATION_TOKEN": _response(UNKNOWN_ROUTE["error"]["code"], UNKNOWN_ROUTE["error"]["message"],
                                                  status=404),
        "RESOURCE_NOT_FOUND": _response("NOT_FOUND", UNKNOWN_ROUTE["error"]["message"], status=404),
        # The function could not answer: throttled (its reserved concurrency is full), crashed, or timed out.
        # The request may be retried; a retried order is safe (Idempotency-Key).
        "DEFAULT_5XX": _response("UNAVAILABLE", "the shop could not answer, retry shortly", retry_after=True),
        "INTEGRATION_TIMEOUT": _response("TIMEOUT", "the shop took too long to answer, retry shortly",
                                         status=504, retry_after=True),
        "REQUEST_TOO_LARGE": _response("BODY_TOO_LARGE"),
        "DEFAULT_4XX": _response("BAD_REQUEST"),
    }


def merge_template(stage: str) -> dict[str, Any]:
    """The fragment `chalice package --merge-template` deep-merges into the stage's SAM template."""
    from infra.triggers import event_source_overrides

    resources: dict[str, Any] = {"RestAPI": {"Properties": {"GatewayResponses": gateway_responses()}}}
    for resource, overrides in event_source_overrides(stage).items():
        resources[resource] = {"Properties": {"Events": overrides}}
    return {"Resources": resources}


def deployed_rest_api_id(stage: str, chalice_dir: Path) -> str | None:
    path = chalice_dir / "deployed" / f"{stage}.json"
    if not path.exists():
        return None
    for resource in json.loads(path.read_text(encoding="utf-8")).get("resources", []):
        if resource.get("resource_type") == "rest_api":
            return resource["rest_api_id"]
    return None


def apply_edges(stage: str, *, region: str | None = None, chalice_dir: Path | None = None,
                say=print) -> None:
    """After `chalice deploy --stage S`: Gateway Responses on its API, trigger settings on its mappings."""
    from infra.cloud import InfraError, _chalice_dir, check_stage, session_for
    from infra.policy import load_target, record_path, resource_arn
    from infra.stages import API_GATEWAY_STAGE, api_name, lambda_name
    from infra.triggers import mapping_settings, queue_functions, queue_mapping_settings, stream_functions, trigger_settings

    chalice_dir = chalice_dir or _chalice_dir()
    env = check_stage(stage)
    if not record_path(env, chalice_dir).exists():
        raise InfraError(f"environment {env!r} has no stack record: `python -m infra deploy --stage {stage}` first")
    rest_api_id = deployed_rest_api_id(stage, chalice_dir)
    if rest_api_id is None:
        raise InfraError(f"stage {stage} is not deployed from this checkout: `chalice deploy --stage {stage}` first")
    target = load_target(env, chalice_dir)
    session = session_for(region)
    apigateway, lambda_ = session.client("apigateway"), session.client("lambda")

    name = api_name(stage)
    if apigateway.get_rest_api(restApiId=rest_api_id)["name"] != name:
        # An API created before stages named their APIs (app.py, MALL_API_NAME) is "micromall", like every
        # other stage's; its 5XX alarm (infra.alarms) watches `name`.
        apigateway.update_rest_api(restApiId=rest_api_id, patchOperations=[
            {"op": "replace", "path": "/name", "value": name}])
        say(f"REST API {rest_api_id} renamed {name}")
    for response_type, response in gateway_responses().items():
        extra = {"statusCode": response["StatusCode"]} if "StatusCode" in response else {}
        headers = response.get("ResponseParameters", {}).get("Headers", {})
        apigateway.put_gateway_response(
            restApiId=rest_api_id, responseType=response_type, responseTemplates=response["ResponseTemplates"],
            responseParameters={f"gatewayresponse.header.{name}": value for name, value in headers.items()}, **extra)
    apigateway.create_deployment(restApiId=rest_api_id, stageName=API_GATEWAY_STAGE,
                                 description="gateway responses (python -m infra edges)")
    say(f"gateway responses on REST API {rest_api_id} ({len(gateway_responses())} types), stage redeployed")

    for function in stream_functions(stage):
        settings = trigger_settings(function)
        queue = resource_arn(f"queue/{settings.on_failure_queue}", env, target) if settings.on_failure_queue else None
        mappings = lambda_.list_event_source_mappings(FunctionName=lambda_name(stage, function))["EventSourceMappings"]
        if not mappings:
            raise InfraError(f"{lambda_name(stage, function)} has no event source mapping: `chalice deploy` first")
        for mapping in mappings:
            lambda_.update_event_source_mapping(UUID=mapping["UUID"], **mapping_settings(settings, queue))
        say(f"{lambda_name(stage, function)}: {settings.maximum_retry_attempts} retries, split batches, "
            f"records kept {settings.maximum_record_age_seconds} s, then {settings.on_failure_queue}")
    for function in queue_functions(stage):
        settings = queue_mapping_settings(trigger_settings(function))
        mappings = lambda_.list_event_source_mappings(FunctionName=lambda_name(stage, function))["EventSourceMappings"]
        if not mappings:
            raise InfraError(f"{lambda_name(stage, function)} has no event source mapping: `chalice deploy` first")
        for mapping in mappings:
            lambda_.update_event_source_mapping(UUID=mapping["UUID"], **settings)
        say(f"{lambda_name(stage, function)}: partial batch responses {settings['FunctionResponseTypes'] or 'off'}")


def write_merge_template(stage: str, directory: Path) -> Path:
    path = directory / f"merge-{stage}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merge_template(stage), indent=2) + "\n", encoding="utf-8")
    return path
