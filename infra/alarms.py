"""CloudWatch alarms of an environment and the SNS topic they notify, rendered into its data stack.

Each alarm is about something an operator must act on (docs/RUNBOOK.md, "Alarms"):

- a function's `Errors` (an unhandled exception: the API function catches everything it
  expects, so one is a bug; an event handler's means a batch is being retried) and
  `Throttles` (its reserved concurrency is full: buyers get 503s);
- a stream trigger's `IteratorAge` (records waiting: the handler is failing or too slow);
- a dead-letter queue holding a message (`ApproximateNumberOfMessagesVisible` > 0);
- a stream trigger's on-failure queue receiving a message (`NumberOfMessagesSent` > 0 in 5 minutes): the
  cloud's count of dead-lettered batches. Lambda sends them itself, so the mall's code never sees them
  and cannot emit `DeadLettered` there (the local pump, which plays Lambda, does). Unlike the depth
  alarm, which stays in ALARM while letters wait, this one fires again for new failures after a quiet
  period. (SQS does not count what a queue's redrive policy moves into its dead-letter queue as sent,
  so a queue trigger's dead-letter queue has the depth alarm only.)
- each of the environment's REST APIs answering 5XX to more than 5 % of its requests (API
  Gateway's 5XXError by ApiName and Stage). Chalice names a stage's REST API after the app, and
  app.py names the app `MALL_API_NAME`, which each stage sets to `micromall-<stage>`
  (infra.stages.api_name): one alarm per stage's API, none watching another environment's;
- raw analytics events not reaching S3 (docs/RUNBOOK.md, "Raw events not delivered"): the delivery stream's
  `DeliveryToS3.Success` averaging below 1 (Firehose could not write its buffers to the bucket: a bucket
  policy, a key, a deleted bucket; it keeps retrying for 24 hours, then the records are lost), its
  `ThrottledRecords` above 0 (PutRecordBatch refused records for the stream's quota: the sink sends them again,
  and a lasting throttle is a quota to raise), and the mall's `RawEventsUndelivered` above 0 (events the sink
  still could not put after its retries: their messages or batches come back, then dead-letter);
- the mall's own `PaymentAnomaly` and `RefundFailed` metrics above 0. They are emitted with
  dimensions (provider, ...), so the alarm is a Metrics Insights query summing every
  dimension combination of the environment's namespace (POWERTOOLS_METRICS_NAMESPACE,
  `micromall/<env>`, set in each stage).

Missing data is not breaching: a quiet shop is not an alarm.
"""
from __future__ import annotations

from typing import Any

TOPIC = "AlarmTopic"
LAMBDA_PERIOD = 300
ITERATOR_AGE_LIMIT_MS = 5 * 60 * 1000
API_5XX_RATE = 0.05
FIREHOSE_PERIOD = 900  # the stream delivers every 5 minutes (its buffer interval): three deliveries an evaluation


def metrics_namespace(env: str) -> str:
    return f"micromall/{env}"


def _logical(name: str) -> str:
    import re

    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", name) if part)


def _alarm(description: str, threshold: float, **spec: Any) -> dict[str, Any]:
    properties = {
        "AlarmDescription": description,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": threshold,
        "EvaluationPeriods": spec.pop("evaluation_periods", 1),
        "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": TOPIC}],
        "OKActions": [{"Ref": TOPIC}],
        **spec,
    }
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}


def _metric(namespace: str, name: str, statistic: str, period: int, **dimensions: Any) -> dict[str, Any]:
    return {"Namespace": namespace, "MetricName": name, "Statistic": statistic, "Period": period,
            "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions.items()]}


def _insights(description: str, metric: str, env: str) -> dict[str, Any]:
    query = f'SELECT SUM({metric}) FROM "{metrics_namespace(env)}"'
    return _alarm(description, 0, Metrics=[{"Id": "total", "Expression": query, "Period": LAMBDA_PERIOD,
                                            "ReturnData": True}])


def alarm_resources(env: str, dead_letter_queues: dict[str, str]) -> dict[str, Any]:
    """The topic and every alarm of `env`; `dead_letter_queues` maps each DLQ's resource name to its logical name."""
    from infra.stages import API_GATEWAY_STAGE, api_name, lambda_name, stage_functions, stages_of_environment
    from infra.triggers import stream_dead_letter_queues, trigger_settings

    resources: dict[str, Any] = {TOPIC: {"Type": "AWS::SNS::Topic", "Properties": {
        "TopicName": {"Fn::Sub": "${TablePrefix}alarms"}, "KmsMasterKeyId": "alias/aws/sns"}}}
    for stage in stages_of_environment(env):
        for function in stage_functions(stage):
            name = lambda_name(stage, function)
            base = _logical(name)
            resources[f"{base}ErrorsAlarm"] = _alarm(
                f"{name}: unhandled errors (its log group has the exception)", 0,
                **_metric("AWS/Lambda", "Errors", "Sum", LAMBDA_PERIOD, FunctionName=name))
            resources[f"{base}ThrottlesAlarm"] = _alarm(
                f"{name}: invocations throttled (reserved concurrency full)", 0,
                **_metric("AWS/Lambda", "Throttles", "Sum", LAMBDA_PERIOD, FunctionName=name))
            if trigger_settings(function).kind == "stream":
                resources[f"{base}IteratorAgeAlarm"] = _alarm(
                    f"{name}: stream records wait over {ITERATOR_AGE_LIMIT_MS // 60000} minutes", ITERATOR_AGE_LIMIT_MS,
                    evaluation_periods=3, **_metric("AWS/Lambda", "IteratorAge", "Maximum", 60, FunctionName=name))
    on_failure_queues = set(stream_dead_letter_queues())
    for resource, logical in sorted(dead_letter_queues.items()):
        queue = {"Fn::GetAtt": [resource, "QueueName"]}
        resources[f"{resource}DepthAlarm"] = _alarm(
            f"{logical}: dead letters waiting (docs/RUNBOOK.md: find the cause, then python -m infra redrive)", 0,
            **_metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", LAMBDA_PERIOD, QueueName=queue))
        if logical in on_failure_queues:  # Lambda sends each batch it gives up on: the cloud's DeadLettered
            resources[f"{resource}DeadLetteredAlarm"] = _alarm(
                f"{logical}: a stream batch was dead-lettered in the last {LAMBDA_PERIOD // 60} minutes", 0,
                **_metric("AWS/SQS", "NumberOfMessagesSent", "Sum", LAMBDA_PERIOD, QueueName=queue))
    for stage in stages_of_environment(env):
        api = api_name(stage)
        resources[f"{_logical(api)}Api5xxAlarm"] = _alarm(
            f"{api}: the API answers 5XX to over {API_5XX_RATE:.0%} of requests", API_5XX_RATE,
            **_metric("AWS/ApiGateway", "5XXError", "Average", LAMBDA_PERIOD, ApiName=api, Stage=API_GATEWAY_STAGE))
    resources.update(raw_event_alarms(env))
    resources["PaymentAnomalyAlarm"] = _insights(
        "payments: an anomaly (amount mismatch, unknown order, ...): see the admin payments console", "PaymentAnomaly",
        env)
    resources["RefundFailedAlarm"] = _insights(
        "payments: a refund the provider refused (reconciliation retries; check the merchant platform)",
        "RefundFailed", env)
    return resources


def raw_event_alarms(env: str) -> dict[str, Any]:
    """The raw events' delivery stream (infra.template.events_resources) and the sink in front of it."""
    from infra.template import EVENTS_STREAM

    stream = {"Ref": EVENTS_STREAM}  # a delivery stream's Ref is its name
    return {
        "EventsDeliveryToS3Alarm": _alarm(
            "raw events: Firehose is not writing to the events bucket (its error log: /aws/kinesisfirehose/...events)",
            1, ComparisonOperator="LessThanThreshold", evaluation_periods=2,
            **_metric("AWS/Firehose", "DeliveryToS3.Success", "Average", FIREHOSE_PERIOD, DeliveryStreamName=stream)),
        "EventsThrottledRecordsAlarm": _alarm(
            "raw events: Firehose throttled records (the sink sends them again; raise the stream's quota if it lasts)",
            0, **_metric("AWS/Firehose", "ThrottledRecords", "Sum", LAMBDA_PERIOD, DeliveryStreamName=stream)),
        "RawEventsUndeliveredAlarm": _insights(
            "raw events: the sink gave up on events after its retries (their messages or batches come back)",
            "RawEventsUndelivered", env),
    }
