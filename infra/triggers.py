"""What each event trigger does with a batch its handler fails: one description, read by the cloud and the local pump.

In AWS these are the event source mapping's settings (retry attempts, splitting a failing
batch, maximum record age, an on-failure destination, partial-batch responses). The local
event pump reads the same settings, so a failing record behaves the same on a laptop as in
the cloud.

Every stream trigger has an on-failure SQS queue `<handler>-dlq`: after its retries a
batch is split down to the failing record, and what still fails is described there (for a
DynamoDB stream, Lambda sends the batch's shard and sequence numbers, not the records) and
the shard moves on instead of blocking for the stream's 24 hours. `python -m infra redrive`
replays it. A queue trigger's dead-letter queue is its queue's redrive policy
(`<queue>-dlq`, infra.template). A schedule is not retried: the next tick runs anyway.

A handler gets the settings of its kind below, changed by the `trigger` block of its
`functions/<stage>-<handler>/settings.json` (infra.functions), which also says why.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import Any


@dataclass(frozen=True)
class TriggerSettings:
    maximum_retry_attempts: int = 2
    bisect_batch_on_function_error: bool = True
    maximum_record_age_seconds: int = 3600
    # Logical queue name (prefixed like every queue) that receives what still fails; None: dropped, with an error log.
    on_failure_queue: str | None = None
    report_batch_item_failures: bool = False
    kind: str | None = None  # "stream", "queue" or "schedule"; None: not an event handler of any feature
    source: str | None = None  # the logical table of a stream, the logical queue of a queue


DEFAULT = TriggerSettings()
# A schedule's run that fails is not retried (the next tick does the same work) and has nothing to split.
SCHEDULE = TriggerSettings(maximum_retry_attempts=0, bisect_batch_on_function_error=False,
                           maximum_record_age_seconds=60, kind="schedule")


def dead_letter_queue(handler_name: str) -> str:
    return f"{handler_name}-dlq"


@cache
def _handlers() -> dict[str, Any]:
    """Every event handler of every feature, by name (the app's shape does not change in a process)."""
    from chalicelib.core import config
    from infra.apps import shape

    return {handler.name: handler for feature in config.ALL_FEATURES for handler in shape(feature).handlers}


def defaults_for(handler: Any) -> TriggerSettings:
    if handler.kind == "schedule":
        return SCHEDULE
    if handler.kind == "queue":  # the queue's redrive policy moves a message after MAX_RECEIVES failed receives
        from infra.template import dead_letter_queue_name

        return replace(DEFAULT, on_failure_queue=dead_letter_queue_name(handler.source),
                       report_batch_item_failures=True, kind="queue", source=handler.source)
    return replace(DEFAULT, on_failure_queue=dead_letter_queue(handler.name), kind="stream", source=handler.source)


def trigger_settings(handler_name: str) -> TriggerSettings:
    """The settings of the trigger that invokes `handler_name` (a Chalice event handler's name)."""
    handler = _handlers().get(handler_name)
    if handler is None:
        return DEFAULT
    from infra.functions import trigger_overrides

    return replace(defaults_for(handler), **trigger_overrides(handler_name))


def stream_dead_letter_queues() -> list[str]:
    """Logical names of the on-failure queues of every stream trigger of every feature."""
    return sorted({settings.on_failure_queue for name in _handlers()
                   if (settings := trigger_settings(name)).kind == "stream" and settings.on_failure_queue})


def mapping_settings(settings: TriggerSettings, queue_arn: Any) -> dict[str, Any]:
    """The event source mapping's settings, as Lambda's API names them (UpdateEventSourceMapping)."""
    properties: dict[str, Any] = {
        "MaximumRetryAttempts": settings.maximum_retry_attempts,
        "BisectBatchOnFunctionError": settings.bisect_batch_on_function_error,
        "MaximumRecordAgeInSeconds": settings.maximum_record_age_seconds,
    }
    if settings.on_failure_queue:
        properties["DestinationConfig"] = {"OnFailure": {"Destination": queue_arn}}
    properties["FunctionResponseTypes"] = ["ReportBatchItemFailures"] if settings.report_batch_item_failures else []
    return properties


def stream_functions(stage: str) -> list[str]:
    from infra.stages import stage_functions

    return [function for function in stage_functions(stage) if trigger_settings(function).kind == "stream"]


def queue_functions(stage: str) -> list[str]:
    from infra.stages import stage_functions

    return [function for function in stage_functions(stage) if trigger_settings(function).kind == "queue"]


def queue_mapping_settings(settings: TriggerSettings) -> dict[str, Any]:
    """An SQS event source mapping's settings: retries and dead-lettering are the queue's (its redrive
    policy); what the mapping must be told is that the handler answers partial batch failures, or Lambda
    would delete every message of a batch that returned normally, the failed ones too."""
    return {"FunctionResponseTypes": ["ReportBatchItemFailures"] if settings.report_batch_item_failures else []}


def event_source_overrides(stage: str) -> dict[str, dict[str, Any]]:
    """SAM function resource -> {event name: {"Properties": ...}} for the stage's stream triggers.

    Chalice names a handler's function resource after the handler (`checkout_sales_counter`
    -> `CheckoutSalesCounter`) and its stream event `<Resource>DynamodbEventSource`.
    """
    from infra.stages import environment, table_prefix

    overrides: dict[str, dict[str, Any]] = {}
    for function in stream_functions(stage):
        settings = trigger_settings(function)
        resource = "".join(part.capitalize() for part in function.split("_"))
        queue = {"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:"
                            + table_prefix(environment(stage)) + (settings.on_failure_queue or "")}
        properties = mapping_settings(settings, queue)
        if "DestinationConfig" in properties:
            properties["DestinationConfig"]["OnFailure"]["Type"] = "SQS"
        if not properties["FunctionResponseTypes"]:
            del properties["FunctionResponseTypes"]
        overrides[resource] = {f"{resource}DynamodbEventSource": {"Properties": properties}}
    for function in queue_functions(stage):  # Chalice names a queue's event `<Resource>SqsEventSource`
        properties = queue_mapping_settings(trigger_settings(function))
        if properties["FunctionResponseTypes"]:
            resource = "".join(part.capitalize() for part in function.split("_"))
            overrides[resource] = {f"{resource}SqsEventSource": {"Properties": properties}}
    return overrides
