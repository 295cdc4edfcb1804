"""X-Ray traces through Powertools Tracer, built by the first invocation that is traced.

Active tracing (`xray` in every stage, infra.stages) makes Lambda and API Gateway record each
invocation; this module adds what only the code knows:

- a subsegment `## <function>` around every invocation, annotated `ColdStart`, `Service`,
  `route` (`POST /orders`) and every key the log lines carry (`logs.bind`: `buyer_id`, `staff`,
  `order_id`, any `*_id` path parameter), so X-Ray's console finds a buyer's or an order's traces;
- botocore patched, so each DynamoDB (and SSM, SQS, ...) call is a subsegment of its own.

Tracing is on where Powertools turns it on: in Lambda (`LAMBDA_TASK_ROOT` set), unless
`POWERTOOLS_TRACE_DISABLED` is true, and never under `sam local` or `chalice local`. The local
stack and the tests run outside Lambda, so it is off there: nothing is imported, nothing patched,
`annotate` does nothing.

Lazy: Powertools' Tracer imports the X-Ray SDK as it is built, even disabled. It is built by the
first traced invocation (not at import, not at all when tracing is off), so the init phase of a
cold start does not carry it.
"""
from __future__ import annotations

import os
from typing import Any

SERVICE_DEFAULT = "micromall"
PATCHED_MODULES = ("botocore",)  # PynamoDB and boto3 both call through botocore's client

_tracer: Any = None  # the Powertools Tracer, once a traced invocation built it
# An invocation's subsegment is open: annotations have somewhere to go. A process-wide flag is enough:
# a Lambda process runs one invocation at a time, and the threaded local server never traces.
_traced_invocation = False
_cold_start = True


def _truthy(name: str) -> bool:
    return (os.environ.get(name) or "").strip().lower() in {"1", "true", "yes", "on", "y", "t"}


def enabled() -> bool:
    """Powertools' own rule (Tracer._is_tracer_disabled), read without importing Powertools."""
    if _truthy("POWERTOOLS_TRACE_DISABLED"):
        return False
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not (os.environ.get("AWS_SAM_LOCAL")
                                                             or os.environ.get("AWS_CHALICE_CLI_MODE"))


def tracer() -> Any:
    """The Powertools Tracer, built (X-Ray SDK imported, botocore patched) on first use."""
    global _tracer
    if _tracer is None:
        from aws_lambda_powertools import Tracer

        _tracer = Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE_DEFAULT,
                         patch_modules=PATCHED_MODULES)
    return _tracer


def annotate(**keys: Any) -> None:
    """Annotates the current invocation's subsegment; nothing when this invocation is not traced."""
    if not _traced_invocation:
        return
    active = tracer()
    for key, value in keys.items():
        if isinstance(value, (str, int, float, bool)):
            active.put_annotation(key=key, value=value)


def _subsegment_name(event: Any) -> str:
    context = getattr(event, "lambda_context", None) or getattr(event, "context", None)
    name = getattr(context, "function_name", None) or "handler"
    return f"## {name}"


def _route(event: Any) -> str | None:
    request_context = getattr(event, "context", None)
    if isinstance(request_context, dict) and request_context.get("resourcePath"):
        return f"{getattr(event, 'method', '')} {request_context['resourcePath']}".strip()
    return None


def invocation_middleware(event: Any, get_response):
    """Chalice middleware for every event type: a traced invocation runs inside its own subsegment."""
    global _traced_invocation, _cold_start
    if not enabled():
        return get_response(event)
    active = tracer()
    cold, _cold_start = _cold_start, False
    with active.provider.in_subsegment(_subsegment_name(event)):
        _traced_invocation = True
        try:
            annotate(ColdStart=cold, Service=active.service)
            route = _route(event)
            if route:
                annotate(route=route)
            return get_response(event)
        finally:
            _traced_invocation = False
