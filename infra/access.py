"""What each feature touches in AWS, derived by watching it run.

`chalice`'s `autogen_policy` reads boto3 calls from the source and cannot see
PynamoDB's, so the mall's IAM policies are derived instead: while the test suites
drive the app (routes through `chalice.test.Client`, event handlers through the
event pump), a recorder (`infra/access_recorder.py`) sees every AWS call at botocore's
`_make_api_call` and every `core.config.secret` read, and gives each to the feature whose route or event
handler is on the stack. A call with no entry point on the stack (a test seeding
data through a service function) belongs to nobody: in the cloud it would run in
whichever function called it, and that function's own tests record it there.

Calls become IAM grants on logical resources:

    table/<logical>                      table actions (GetItem, Query, ...)
    table/<logical>/index/<index>        Query or Scan on an index
    table/<logical>/stream               read by a stream event handler (event source mapping)
    queue/<logical>                      SQS, by the name `core.events.queue_name` gives
    deliverystream/<logical>             Kinesis Data Firehose, by the name after the table prefix (`events`)
    parameter/<name>                     SSM parameter `<MALL_SSM_PREFIX>/<name>` (`core.config.secret`)
    key/pii                              the KMS key sealing buyers' personal data (`core.pii`)

Personal data is sealed through `core.pii.Envelope`, which caches data keys per process, and
tests seal under a local key: so a function's KMS needs are recorded where it seals or opens a
value (GenerateDataKey, Decrypt), whatever its cache or key held at that moment.

`infra/access.json` holds the grants per feature (written by `python -m infra access`);
`infra.policy` turns them into each stage's policy with concrete ARNs.
"""
from __future__ import annotations

import ast
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "infra" / "access.json"

# What Lambda's event source mappings call with the function's role.
STREAM_READ = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams")
QUEUE_READ = ("sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")

# TransactWriteItems / TransactGetItems are authorized item by item.
TRANSACT_ITEM_ACTIONS = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem",
                         "Delete": "dynamodb:DeleteItem", "ConditionCheck": "dynamodb:ConditionCheckItem",
                         "Get": "dynamodb:GetItem"}
# Batch APIs whose IAM action is the single-message one.
SQS_ACTIONS = {"SendMessageBatch": "sqs:SendMessage", "DeleteMessageBatch": "sqs:DeleteMessage",
               "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility"}

# Firehose's batch API is authorized as itself; a single put as PutRecord.
FIREHOSE_ACTIONS = ("PutRecord", "PutRecordBatch")

# The KMS calls core.pii makes, on the one key the data stack creates.
PII_KEY = "key/pii"
KMS_ACTIONS = ("GenerateDataKey", "Decrypt")

Grants = dict[str, set[str]]  # logical resource -> IAM actions
FunctionGrants = dict[str, Grants]  # Lambda function of a feature ("api_handler", or an event handler) -> grants


def merge(into: Grants, more: Grants) -> Grants:
    for resource, actions in more.items():
        into.setdefault(resource, set()).update(actions)
    return into


# --- from a botocore call to grants ---------------------------------------------------

@dataclass
class Names:
    """How physical names map back to logical ones in the process being recorded."""
    tables: dict[str, str]  # table name -> logical
    queue_prefix: str
    ssm_prefix: str | None

    @classmethod
    def current(cls) -> Names:
        from chalicelib.core import config
        from infra.tables import load_models

        return cls({model.Meta.table_name: model.Meta.logical_name for model in load_models()},
                   config.table_prefix(), config.env("MALL_SSM_PREFIX"))

    def table(self, name: str) -> str:
        return f"table/{self.tables.get(name, name)}"

    def queue(self, url_or_name: str) -> str:
        name = url_or_name.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        return f"queue/{name.removeprefix(self.queue_prefix)}"

    def delivery_stream(self, name: str) -> str:
        return f"deliverystream/{name.removeprefix(self.queue_prefix)}"

    def parameter(self, name: str) -> str:
        prefix = (self.ssm_prefix or "").rstrip("/")
        if prefix and name.startswith(prefix + "/"):
            name = name[len(prefix) + 1:]
        return f"parameter/{name.lstrip('/')}"


def grants_of_call(service: str, operation: str, params: dict[str, Any], names: Names) -> Grants:
    """The IAM grants one API call needs. Raises LookupError for a call infra cannot map yet."""
    grants: Grants = {}

    def add(resource: str, action: str) -> None:
        grants.setdefault(resource, set()).add(action)

    if service == "dynamodb":
        if operation in ("TransactWriteItems", "TransactGetItems"):
            for item in params.get("TransactItems", []):
                for kind, body in item.items():
                    add(names.table(body["TableName"]), TRANSACT_ITEM_ACTIONS[kind])
        elif operation in ("BatchGetItem", "BatchWriteItem"):
            for table in params.get("RequestItems", {}):
                add(names.table(table), f"dynamodb:{operation}")
        elif "TableName" in params:
            resource = names.table(params["TableName"])
            if params.get("IndexName") and operation in ("Query", "Scan"):
                resource += f"/index/{params['IndexName']}"
            add(resource, f"dynamodb:{operation}")
        else:
            raise LookupError(f"dynamodb {operation}: no table to grant it on")
    elif service == "ssm" and operation in ("GetParameter", "GetParameters"):
        for name in params.get("Names") or [params["Name"]]:
            add(names.parameter(name), f"ssm:{operation}")
    elif service == "kms" and operation in KMS_ACTIONS:
        add(PII_KEY, f"kms:{operation}")
    elif service == "firehose" and operation in FIREHOSE_ACTIONS:
        add(names.delivery_stream(params["DeliveryStreamName"]), f"firehose:{operation}")
    elif service == "sqs" and ("QueueUrl" in params or "QueueName" in params):
        add(names.queue(params.get("QueueUrl") or params["QueueName"]), SQS_ACTIONS.get(operation, f"sqs:{operation}"))
    else:
        raise LookupError(f"{service} {operation}: infra.access does not map this call to IAM grants yet")
    return grants


# --- the recorder ---------------------------------------------------------------------

@dataclass
class FeatureRecord:
    functions: FunctionGrants = field(default_factory=dict)
    invoked: set[str] = field(default_factory=set)  # entry points that ran


def grants_json(functions: FunctionGrants) -> dict[str, dict[str, list[str]]]:
    return {function: {resource: sorted(actions) for resource, actions in sorted(grants.items())}
            for function, grants in sorted(functions.items())}


def grants_from_json(data: dict[str, dict[str, list[str]]]) -> FunctionGrants:
    return {function: {resource: set(actions) for resource, actions in grants.items()}
            for function, grants in data.items()}


@dataclass
class Recording:
    features: dict[str, FeatureRecord] = field(default_factory=lambda: defaultdict(FeatureRecord))
    unmapped: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {"features": {feature: {"functions": grants_json(rec.functions), "invoked": sorted(rec.invoked)}
                             for feature, rec in sorted(self.features.items())},
                "unmapped": sorted(self.unmapped)}

    def absorb(self, other: Recording) -> Recording:
        """Adds what another process's recorder saw (a pytest-xdist worker's share of the suites)."""
        for feature, record in other.features.items():
            mine = self.features[feature]
            for function, grants in record.functions.items():
                merge(mine.functions.setdefault(function, {}), grants)
            mine.invoked |= record.invoked
        self.unmapped |= other.unmapped
        return self

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Recording:
        recording = cls()
        for feature, rec in data["features"].items():
            recording.features[feature] = FeatureRecord(grants_from_json(rec["functions"]), set(rec["invoked"]))
        recording.unmapped = set(data["unmapped"])
        return recording


# --- what the app declares: event sources and live-only secrets --------------------------

def event_source_grants(feature: str) -> FunctionGrants:
    """What Lambda's event source mappings read with each handler's role: its stream or queue."""
    from infra.apps import shape

    functions: FunctionGrants = {}
    for handler in shape(feature).handlers:
        if handler.kind == "stream":
            functions[handler.name] = {f"table/{handler.source}/stream": set(STREAM_READ)}
        elif handler.kind == "queue":
            functions[handler.name] = {f"queue/{handler.source}": set(QUEUE_READ)}
    return functions


def secrets_named_in_code(root: Path = ROOT / "chalicelib") -> dict[str, set[str]]:
    """Every `config.secret("<name>")` literal under chalicelib: name -> modules naming it."""
    named: dict[str, set[str]] = defaultdict(set)
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "secret"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "config"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                named[node.args[0].value].add(module)
    return dict(named)


def derive(recording: Recording, features: Iterable[str]) -> dict[str, FunctionGrants]:
    """Grants per feature and function: what it was seen calling, its event sources, its live-only secrets."""
    from infra.apps import API_FUNCTION, shape
    from infra.stages import feature_settings

    derived: dict[str, FunctionGrants] = {}
    for feature in features:
        functions: FunctionGrants = {API_FUNCTION: {}, **{h.name: {} for h in shape(feature).handlers}}
        record = recording.features.get(feature)
        for function, grants in (record.functions if record else {}).items():
            merge(functions.setdefault(function, {}), grants)
        for function, grants in event_source_grants(feature).items():
            merge(functions[function], grants)
        for function, names in feature_settings(feature).live_secrets.items():
            merge(functions.setdefault(function, {}), {f"parameter/{name}": {"ssm:GetParameter"} for name in names})
        for grants in functions.values():
            _may_open_what_it_reads(grants)
        derived[feature] = functions
    return derived


READ_ACTIONS = frozenset({"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"})


def _may_open_what_it_reads(grants: Grants) -> None:
    """A function that reads a table holding sealed personal data may need to open it: whether a test happened
    to read a sealed value through it (a data key the process had not cached yet) is chance, its grant is not."""
    sealed = sealed_tables()
    if any(resource in sealed and actions & READ_ACTIONS for resource, actions in grants.items()):
        merge(grants, {PII_KEY: {"kms:Decrypt"}})


@cache
def sealed_tables() -> frozenset[str]:
    """`table/<name>` of every table with an attribute sealed by core.pii, nested maps included."""
    from pynamodb.attributes import MapAttribute

    from chalicelib.core.pii import EncryptedUnicodeAttribute
    from infra.tables import load_models

    def holds_sealed(attributes) -> bool:
        for attribute in attributes.values():
            if isinstance(attribute, EncryptedUnicodeAttribute):
                return True
            if isinstance(attribute, MapAttribute) and type(attribute) is not MapAttribute \
                    and holds_sealed(type(attribute).get_attributes()):
                return True
            element = getattr(attribute, "element_type", None)
            if isinstance(element, type) and issubclass(element, MapAttribute) and holds_sealed(element.get_attributes()):
                return True
        return False

    return frozenset(f"table/{model.Meta.logical_name}" for model in load_models()
                     if holds_sealed(model.get_attributes()))


# --- the manifest ---------------------------------------------------------------------

def load_manifest(path: Path = MANIFEST) -> dict[str, FunctionGrants]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {feature: grants_from_json(functions) for feature, functions in data["features"].items()}


def manifest_text(derived: dict[str, FunctionGrants]) -> str:
    data = {
        "about": "What each feature's functions may touch, derived by `python -m infra access` from the test "
                 "suites (infra/access.py); the stage policies are rendered from it. Do not edit by hand.",
        "features": {feature: grants_json(functions) for feature, functions in sorted(derived.items())},
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def differences(expected: Grants, actual: Grants) -> tuple[list[str], list[str]]:
    """(granted but not needed, needed but not granted) as readable lines."""
    more, less = [], []
    for resource in sorted(set(expected) | set(actual)):
        extra = actual.get(resource, set()) - expected.get(resource, set())
        missing = expected.get(resource, set()) - actual.get(resource, set())
        more.extend(f"{action} on {resource}" for action in sorted(extra))
        less.extend(f"{action} on {resource}" for action in sorted(missing))
    return more, less
