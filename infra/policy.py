"""Each stage's IAM policy, rendered from `infra/access.json` with concrete ARNs.

Every resource is named in full: a table, an index, a stream (with its label), a
queue, a parameter. Two `*` remain: the log-stream part of the stage's own log
groups, whose stream names Lambda picks at run time (`log-group:/aws/lambda/<fn>:*`),
and X-Ray's two write actions, which IAM cannot scope to a resource (active tracing,
`xray` in every stage, sends the function's segments with the function's role).

Region, account and stream labels are known only once the environment's stack
exists: `python -m infra deploy` records them in `.chalice/stacks/<env>.json` and
renders the policies again. Until then the policies name the local stack's
placeholders (account 000000000000, stream label `local`, as `core.events.stream_arn`
does): valid IAM that matches nothing in a real account, so a stage deployed
before its infrastructure fails closed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.stages import CHALICE_DIR, environment, lambda_name, ssm_prefix, stage_features, table_prefix
from infra.triggers import trigger_settings

PLACEHOLDER_ACCOUNT = "000000000000"
PLACEHOLDER_REGION = "us-east-1"
PLACEHOLDER_STREAM_LABEL = "local"
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
TRACE_ACTIONS = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")
MAX_INLINE_POLICY_CHARS = 10240  # IAM's limit for a role's inline policies, whitespace not counted


@dataclass(frozen=True)
class Target:
    """Where an environment is deployed."""
    partition: str = "aws"
    region: str = PLACEHOLDER_REGION
    account: str = PLACEHOLDER_ACCOUNT
    stream_arns: dict[str, str] = field(default_factory=dict)  # logical table -> stream ARN
    pii_key_arn: str | None = None  # the stack's KMS key for personal data (infra.template.pii_key_resources)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Target:
        return cls(record["partition"], record["region"], record["account"], dict(record.get("stream_arns", {})),
                   record.get("pii_key_arn"))


def record_path(env: str, chalice_dir: Path = CHALICE_DIR) -> Path:
    return chalice_dir / "stacks" / f"{env}.json"


def load_target(env: str, chalice_dir: Path = CHALICE_DIR) -> Target:
    path = record_path(env, chalice_dir)
    if not path.exists():
        return Target()
    return Target.from_record(json.loads(path.read_text(encoding="utf-8")))


def resource_arn(resource: str, env: str, target: Target) -> str:
    """The ARN of a logical resource (`table/orders/index/by_buyer`, `parameter/jwt_secret`, ...)."""
    kind, _, rest = resource.partition("/")
    head = f"arn:{target.partition}:{{service}}:{target.region}:{target.account}:"
    if kind == "table":
        table, _, sub = rest.partition("/")
        arn = head.format(service="dynamodb") + f"table/{table_prefix(env)}{table}"
        if sub == "stream":
            return target.stream_arns.get(table) or f"{arn}/stream/{PLACEHOLDER_STREAM_LABEL}"
        return f"{arn}/{sub}" if sub else arn
    if kind == "queue":
        return head.format(service="sqs") + f"{table_prefix(env)}{rest}"
    if kind == "deliverystream":  # Kinesis Data Firehose, named like the tables (infra.template.events_resources)
        return head.format(service="firehose") + f"deliverystream/{table_prefix(env)}{rest}"
    if kind == "parameter":
        return head.format(service="ssm") + f"parameter{ssm_prefix(env)}/{rest}"
    if kind == "key":  # key/pii: until the stack exists, a key id that matches no key (fails closed)
        return target.pii_key_arn or head.format(service="kms") + f"key/{PLACEHOLDER_STREAM_LABEL}-{rest}"
    raise ValueError(f"unknown kind of resource: {resource!r}")


def function_grants(stage: str, function: str, manifest=None) -> dict[str, set[str]]:
    """What one function of a stage may touch: for `api_handler`, the union over the stage's features.

    The live-only secrets come straight from the functions' settings as well as through the manifest
    (`python -m infra access` copies them there): a secret added to `live_secrets` is granted by the
    next `python -m infra stages`, without a run of every test suite.
    """
    from infra.access import load_manifest, merge
    from infra.stages import feature_settings

    manifest = load_manifest() if manifest is None else manifest
    grants: dict[str, set[str]] = {}
    for feature in stage_features(stage):
        if feature not in manifest:
            raise LookupError(f"infra/access.json has no entry for feature {feature!r}: run `python -m infra access`")
        merge(grants, manifest[feature].get(function, {}))
        live = feature_settings(feature).live_secrets.get(function, ())
        merge(grants, {f"parameter/{name}": {"ssm:GetParameter"} for name in live})
    return grants


def stage_grants(stage: str, manifest=None) -> dict[str, set[str]]:
    """The union over every function of the stage."""
    from infra.access import merge
    from infra.stages import stage_functions

    grants: dict[str, set[str]] = {}
    for function in stage_functions(stage):
        merge(grants, function_grants(stage, function, manifest))
    return grants


def render_policy(stage: str, function: str = "api_handler", target: Target | None = None,
                  manifest=None) -> dict[str, Any]:
    env = environment(stage)
    target = target or Target()
    logs = f"arn:{target.partition}:logs:{target.region}:{target.account}:log-group:/aws/lambda/"
    statements: list[dict[str, Any]] = [{
        "Sid": "OwnLogs", "Effect": "Allow", "Action": list(LOG_ACTIONS),
        "Resource": f"{logs}{lambda_name(stage, function)}:*",
    }, {"Sid": "Traces", "Effect": "Allow", "Action": list(TRACE_ACTIONS), "Resource": "*"}]
    failures = trigger_settings(function)
    if failures.kind == "stream" and failures.on_failure_queue:  # Lambda sends there with the function's role
        statements.append({"Sid": "OnFailureQueue", "Effect": "Allow", "Action": ["sqs:SendMessage"],
                           "Resource": resource_arn(f"queue/{failures.on_failure_queue}", env, target)})
    # One statement per set of actions, naming every resource it covers: a function that touches every table
    # (the dev stage's one function) stays within IAM's 10,240 characters of inline policy.
    by_actions: dict[tuple[str, ...], list[str]] = {}
    for resource, actions in sorted(function_grants(stage, function, manifest).items()):
        by_actions.setdefault(tuple(sorted(actions)), []).append(resource_arn(resource, env, target))
    for actions, resources in sorted(by_actions.items()):
        statements.append({"Sid": actions_id(actions), "Effect": "Allow", "Action": list(actions),
                           "Resource": resources[0] if len(resources) == 1 else resources})
    return {"Version": "2012-10-17", "Statement": statements}


def actions_id(actions: tuple[str, ...]) -> str:
    """`("dynamodb:GetItem", "dynamodb:Query")` -> `DynamodbGetItemQuery` (IAM Sids are alphanumeric)."""
    services: dict[str, list[str]] = {}
    for action in actions:
        service, name = action.split(":", 1)
        services.setdefault(service, []).append(name)
    return "".join(service[:1].upper() + service[1:] + "".join(names) for service, names in services.items())


def policy_text(policy: dict[str, Any]) -> str:
    return json.dumps(policy, indent=2) + "\n"


def policy_chars(policy: dict[str, Any]) -> int:
    """The size IAM counts against its limit: the document without whitespace."""
    return len(json.dumps(policy, separators=(",", ":")))
