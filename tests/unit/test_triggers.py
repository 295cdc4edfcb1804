"""Every trigger's settings: what the cloud's event source mappings and the local pump both read."""
from __future__ import annotations

from infra.triggers import DEFAULT, SCHEDULE, stream_dead_letter_queues, trigger_settings


def test_stream_triggers_retry_a_few_times_split_batches_and_name_their_dead_letter_queue():
    for handler, table in [("checkout_sales_counter", "orders"), ("catalog_search_indexer", "products")]:
        settings = trigger_settings(handler)
        assert settings.kind == "stream" and settings.source == table
        assert 1 <= settings.maximum_retry_attempts <= 10 and settings.bisect_batch_on_function_error
        assert settings.maximum_record_age_seconds <= 24 * 3600  # below the stream's retention
        assert settings.on_failure_queue == f"{handler}-dlq"


def test_schedules_are_not_retried_and_unknown_handlers_get_the_defaults():
    assert trigger_settings("checkout_sweeper") == SCHEDULE == trigger_settings("payments_reconciler")
    assert SCHEDULE.maximum_retry_attempts == 0 and SCHEDULE.on_failure_queue is None
    assert trigger_settings("no_such_handler") == DEFAULT


def test_the_dead_letter_queues_exist_in_the_test_aws_too(aws):
    """Every stream trigger's on-failure queue, and every handler's queue with its dead-letter queue and the
    redrive policy the template gives it."""
    import json

    import boto3

    from chalicelib.core import config
    from infra.template import MAX_RECEIVES, discovered_queues

    sqs = boto3.client("sqs")
    urls = sqs.list_queues(QueueNamePrefix=config.table_prefix()).get("QueueUrls", [])
    handler_queues = [q.logical_name for q in discovered_queues()]
    assert handler_queues, "no feature listens to a queue"
    expected = [*stream_dead_letter_queues(), *handler_queues, *(f"{q}-dlq" for q in handler_queues)]
    assert sorted(url.rsplit("/", 1)[1] for url in urls) == sorted(config.table_prefix() + q for q in expected)
    for queue in handler_queues:
        url = sqs.get_queue_url(QueueName=config.table_prefix() + queue)["QueueUrl"]
        policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]["RedrivePolicy"])
        assert policy["deadLetterTargetArn"].endswith(f":{config.table_prefix()}{queue}-dlq")
        assert int(policy["maxReceiveCount"]) == MAX_RECEIVES


def test_a_queue_trigger_reports_partial_batch_failures_and_its_package_says_so():
    from infra.triggers import event_source_overrides, queue_functions, queue_mapping_settings

    settings = trigger_settings("notify_sender")
    assert (settings.kind, settings.source, settings.on_failure_queue) == ("queue", "notify-sends", "notify-sends-dlq")
    assert settings.report_batch_item_failures
    assert queue_functions("notify") == ["notify_sender"] and "notify_sender" in queue_functions("dev")
    assert queue_mapping_settings(settings) == {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
    assert event_source_overrides("notify")["NotifySender"] == {
        "NotifySenderSqsEventSource": {"Properties": {"FunctionResponseTypes": ["ReportBatchItemFailures"]}}}
