"""`python -m infra deploy|destroy --stage <stage>`: the environment's tables and queues on CloudFormation.

deploy: create or update the stack `micromall-<env>-data` rendered from the models
(infra.template), record where it lives in `.chalice/stacks/<env>.json` (partition,
region, account, stream ARNs, queues), write the stream ARNs into every stage of
the environment in `.chalice/config.json` and render their policies with concrete
ARNs. Then `chalice deploy --stage <stage>`.

destroy: delete the stack and its tables. Tables are retained by the stack
(DeletionPolicy Retain), so this is the one command that deletes them, and it
refuses while any table or queue holds data unless told twice: `--delete-data`
and `--confirm <stack name>`. A table that holds data gets a final on-demand
backup before it goes.
"""
from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.stages import (
    APP_NAME,
    environment,
    stage_names,
    stages_of_environment,
    table_prefix,
    write_stages,
)

Say = Callable[[str], None]


class InfraError(RuntimeError):
    """The command cannot go on; the message says why and what to do."""


def _chalice_dir() -> Path:
    from infra import stages

    return stages.CHALICE_DIR


def stack_name(env: str) -> str:
    return f"{APP_NAME}-{env}-data"


@dataclass
class Waits:
    """How long to poll CloudFormation and DynamoDB (tests poll moto without delay)."""
    delay: int = 5
    attempts: int = 720

    def config(self) -> dict[str, int]:
        return {"Delay": self.delay, "MaxAttempts": self.attempts}


def session_for(region: str | None):
    import boto3

    session = boto3.session.Session(region_name=region)
    if not session.region_name:
        raise InfraError("no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION")
    return session


def _stack(cfn, name: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def check_stage(stage: str) -> str:
    if stage not in stage_names():
        raise InfraError(f"unknown stage {stage!r}; stages: {', '.join(stage_names())}")
    return environment(stage)


# --- deploy -----------------------------------------------------------------------------

def deploy(stage: str, *, region: str | None = None, chalice_dir: Path | None = None, say: Say = print,
           waits: Waits | None = None) -> dict[str, Any]:
    from infra.template import render

    chalice_dir = chalice_dir or _chalice_dir()
    env = check_stage(stage)
    waits = waits or Waits()
    session = session_for(region)
    cfn = session.client("cloudformation")
    name, prefix = stack_name(env), table_prefix(env)
    template = render(prefix, env=env)
    body = json.dumps(template, separators=(",", ":"))
    source = template_source(session, env, name, body, say)
    parameters = [{"ParameterKey": "TablePrefix", "ParameterValue": prefix}]
    tags = [{"Key": "app", "Value": APP_NAME}, {"Key": "environment", "Value": env}]

    say(f"stack {name} (tables and queues of environment {env!r}) in {session.region_name}:")
    apply_stack(cfn, name, source, parameters, tags, say, waits)

    stack = _stack(cfn, name)
    record = _record(session, stack, template)
    path = _write_record(env, record, chalice_dir)
    changed = write_stages(chalice_dir)
    say(f"recorded {path.relative_to(chalice_dir.parent)}; updated "
        f"{', '.join(p.name for p in changed) or 'nothing else'}")
    _report_missing_secrets(session, env, say)
    say(f"next: chalice deploy --stage {stage}")
    return record


DIRECT_UPLOAD_LIMIT = 51_200  # bytes of TemplateBody CloudFormation takes; larger templates go through S3


def template_source(session, env: str, name: str, body: str, say: Say) -> dict[str, str]:
    """`TemplateBody` when it fits a direct upload, else `TemplateURL` of the template put in the environment's
    template bucket (created once, private, versioned by content: the key is the template's digest)."""
    import hashlib

    if len(body.encode("utf-8")) <= DIRECT_UPLOAD_LIMIT:
        return {"TemplateBody": body}
    account = session.client("sts").get_caller_identity()["Account"]
    region = session.region_name
    bucket = f"{APP_NAME}-{env}-templates-{account}-{region}"[:63]
    s3 = session.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception:  # noqa: BLE001 - missing (or not yet ours): create it; a name taken by another account fails here
        say(f"  creating the template bucket {bucket} ...")
        config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **config)
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
    key = f"{name}/{hashlib.sha256(body.encode('utf-8')).hexdigest()}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"), ContentType="application/json")
    say(f"  template ({len(body):,} bytes, over the {DIRECT_UPLOAD_LIMIT:,} of a direct upload) in s3://{bucket}/{key}")
    suffix = "" if region == "us-east-1" else f".{region}"
    return {"TemplateURL": f"https://{bucket}.s3{suffix}.amazonaws.com/{key}"}


# The data stack creates a role (Firehose's, for the raw events): CloudFormation asks to be told so.
CAPABILITIES = ["CAPABILITY_IAM"]


def apply_stack(cfn, name: str, source: str | dict[str, str], parameters: list, tags: list, say: Say,
                waits: Waits) -> None:
    """Create the stack, or update it; wait until it is done. `source`: the template's body, or
    {"TemplateBody": ...} / {"TemplateURL": ...}."""
    source = {"TemplateBody": source} if isinstance(source, str) else source
    existing = _stack(cfn, name)
    if existing and existing["StackStatus"] == "ROLLBACK_COMPLETE":
        raise InfraError(f"stack {name} failed its first creation (ROLLBACK_COMPLETE); delete it "
                         f"(`aws cloudformation delete-stack --stack-name {name}`) and deploy again")
    if existing is None:
        say("  creating ...")
        cfn.create_stack(StackName=name, Parameters=parameters, Tags=tags, Capabilities=CAPABILITIES, **source)
        cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=waits.config())
    elif _update(cfn, name, source, parameters, tags):
        say("  updating ...")
        cfn.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=waits.config())
    else:
        say("  no changes")


def _update(cfn, name: str, source: dict[str, str], parameters: list, tags: list) -> bool:
    from botocore.exceptions import ClientError

    try:
        cfn.update_stack(StackName=name, Parameters=parameters, Tags=tags, Capabilities=CAPABILITIES, **source)
        return True
    except ClientError as exc:
        if "No updates are to be performed" in str(exc):
            return False
        raise


def _record(session, stack: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    from infra.template import dead_letter_resource_name, logical_table_of_resource, queue_resource_name

    identity = session.client("sts").get_caller_identity()
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    stream_arns, queues = {}, {}
    for resource_name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::DynamoDB::Table" and f"{resource_name}StreamArn" in outputs:
            stream_arns[logical_table_of_resource(resource)] = outputs[f"{resource_name}StreamArn"]
        if resource["Type"] == "AWS::SQS::Queue" and resource_name.endswith("Queue") \
                and not resource_name.endswith("DeadLetterQueue"):
            logical = resource["Properties"]["QueueName"]["Fn::Sub"].removeprefix("${TablePrefix}")
            assert queue_resource_name(logical) == resource_name
            dead = dead_letter_resource_name(logical)
            queues[logical] = {"url": outputs.get(f"{resource_name}Url"), "arn": outputs.get(f"{resource_name}Arn"),
                               "dead_letter_url": outputs.get(f"{dead}Url"), "dead_letter_arn": outputs.get(f"{dead}Arn")}
    return {"stack_name": stack["StackName"], "stack_id": stack["StackId"],
            "partition": identity["Arn"].split(":")[1], "region": session.region_name,
            "account": identity["Account"], "stream_arns": dict(sorted(stream_arns.items())),
            "pii_key_arn": outputs.get("PiiKeyArn"),
            "queues": dict(sorted(queues.items()))}


def _write_record(env: str, record: dict[str, Any], chalice_dir: Path) -> Path:
    from infra.policy import record_path

    path = record_path(env, chalice_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def required_parameters(env: str) -> list[str]:
    """SSM parameter names the environment's policies let its functions read."""
    from infra.policy import stage_grants
    from infra.stages import ssm_prefix

    names = set()
    for stage in stages_of_environment(env):
        names.update(resource.removeprefix("parameter/") for resource in stage_grants(stage)
                     if resource.startswith("parameter/"))
    return [f"{ssm_prefix(env)}/{name}" for name in sorted(names)]


def _report_missing_secrets(session, env: str, say: Say) -> None:
    ssm = session.client("ssm")
    wanted = required_parameters(env)
    missing = []
    for start in range(0, len(wanted), 10):  # GetParameters takes at most 10 names
        missing.extend(ssm.get_parameters(Names=wanted[start:start + 10])["InvalidParameters"])
    if missing:
        say("secrets not in SSM yet (the functions read them on first use; docs/DEPLOY.md#secrets):")
        for name in sorted(missing):
            say(f"  aws ssm put-parameter --type SecureString --name {name} --value ...")


# --- destroy ------------------------------------------------------------------------------

@dataclass
class Holding:
    kind: str  # "table" or "queue"
    name: str
    detail: str


def destroy(stage: str, *, delete_data: bool = False, confirm: str | None = None, region: str | None = None,
            chalice_dir: Path | None = None, say: Say = print, waits: Waits | None = None) -> int:
    """Delete the environment's stack and tables. Returns a process exit status (2: refused)."""
    from infra.template import render

    chalice_dir = chalice_dir or _chalice_dir()
    env = check_stage(stage)
    waits = waits or Waits()
    session = session_for(region)
    cfn, dynamodb, sqs = (session.client(service) for service in ("cloudformation", "dynamodb", "sqs"))
    name, prefix = stack_name(env), table_prefix(env)
    template = render(prefix)
    tables = [f"{prefix}{resource['Properties']['TableName']['Fn::Sub'].removeprefix('${TablePrefix}')}"
              for resource in template["Resources"].values() if resource["Type"] == "AWS::DynamoDB::Table"]
    tables = [table for table in tables if _table_exists(dynamodb, table)]
    stack = _stack(cfn, name)
    queues = _stack_queues(cfn, name) if stack else []
    if stack is None and not tables:
        say(f"nothing to destroy: no stack {name} and no {prefix}* tables")
        return 0

    holding = [Holding("table", table, "holds items") for table in tables if _table_has_items(dynamodb, table)]
    holding += [Holding("queue", url.rsplit("/", 1)[-1], f"{count} message(s)")
                for url in queues if (count := _queue_depth(sqs, url))]
    deployed = [stage for stage in stages_of_environment(env) if (chalice_dir / "deployed" / f"{stage}.json").exists()]
    if deployed:
        say(f"warning: stage(s) {', '.join(deployed)} still deployed; `chalice delete --stage <stage>` first "
            "or their handlers will fail on missing tables")
    if holding and not (delete_data and confirm == name):
        say(f"refusing to destroy {name}: these still hold data")
        for item in holding:
            say(f"  {item.kind} {item.name}: {item.detail}")
        say(f"to delete them anyway, say it twice: --delete-data --confirm {name}")
        return 2

    if stack is not None:
        say(f"deleting stack {name} ...")
        cfn.delete_stack(StackName=name)
        cfn.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=waits.config())
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d%H%M%S")
    holding_tables = {item.name for item in holding if item.kind == "table"}
    for table in tables:  # retained by the stack: deleted here, the ones with data after a final backup
        if table in holding_tables:
            backup = dynamodb.create_backup(TableName=table, BackupName=f"{table}-final-{stamp}")
            say(f"  backup of {table}: {backup['BackupDetails']['BackupArn']}")
        dynamodb.delete_table(TableName=table)
        say(f"  deleted table {table}")
    for table in tables:
        dynamodb.get_waiter("table_not_exists").wait(TableName=table, WaiterConfig=waits.config())

    from infra.policy import record_path

    record_path(env, chalice_dir).unlink(missing_ok=True)
    _forget_stream_arns(env, chalice_dir)
    write_stages(chalice_dir)
    say(f"destroyed environment {env!r}")
    return 0


def _table_exists(dynamodb, table: str) -> bool:
    try:
        dynamodb.describe_table(TableName=table)
        return True
    except dynamodb.exceptions.ResourceNotFoundException:
        return False


def _table_has_items(dynamodb, table: str) -> bool:
    # ItemCount in DescribeTable lags by hours; one Scan step is exact.
    return dynamodb.scan(TableName=table, Limit=1, Select="COUNT")["Count"] > 0


def _stack_queues(cfn, name: str) -> list[str]:
    paginator = cfn.get_paginator("list_stack_resources")
    return [resource["PhysicalResourceId"] for page in paginator.paginate(StackName=name)
            for resource in page["StackResourceSummaries"] if resource["ResourceType"] == "AWS::SQS::Queue"]


def _queue_depth(sqs, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
             "ApproximateNumberOfMessagesDelayed"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(attribute, 0)) for attribute in names)


def _forget_stream_arns(env: str, chalice_dir: Path) -> None:
    from infra.stages import config_text, read_config

    path = chalice_dir / "config.json"
    config = read_config(path)
    for stage in stages_of_environment(env):
        variables = config.get("stages", {}).get(stage, {}).get("environment_variables", {})
        for key in [key for key in variables if key.startswith("MALL_STREAM_ARN_")]:
            del variables[key]
    path.write_text(config_text(config), encoding="utf-8")
