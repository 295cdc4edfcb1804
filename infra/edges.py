"""What `chalice package` cannot say itself, merged into each stage's template (`--merge-template`).

- API Gateway's Gateway Responses: the answers API Gateway gives without the function
  (throttling, an unknown route, a function that failed, timed out or was throttled)
  keep the mall's error shape `{"error": {"code", "message"}}`. Throttling answers 503
  with `Retry-After`, as the mall itself does when DynamoDB throttles; an unknown route
  is a JSON 404 (API Gateway's own answer is a 403 "Missing Authentication Token").
- The event source mapping settings of each stream trigger (`infra.triggers`): bounded
  retries, bisecting a failing batch, a maximum record age, the on-failure dead-letter
  queue and partial-batch responses.

`python -m infra package --stage S` writes the merge file and runs `chalice package` with
it; tests/deploy lints and inspects what comes out.
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


def write_merge_template(stage: str, directory: Path) -> Path:
    path = directory / f"merge-{stage}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merge_template(stage), indent=2) + "\n", encoding="utf-8")
    return path
