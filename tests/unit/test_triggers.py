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
    import boto3

    from chalicelib.core import config

    urls = boto3.client("sqs").list_queues(QueueNamePrefix=config.table_prefix()).get("QueueUrls", [])
    assert sorted(url.rsplit("/", 1)[1] for url in urls) == [config.table_prefix() + q for q in stream_dead_letter_queues()]
