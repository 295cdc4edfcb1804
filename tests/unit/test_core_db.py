"""Transactions retry what DynamoDB says to retry, and nothing else; throttling becomes 503."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model

from chalicelib.core import db
from chalicelib.core.errors import ServiceUnavailable
from tests.faults import failing_calls, throttled, transaction_cancelled


class Counter(Model):
    Meta = db.table_meta("core-counters")
    counter_id = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)


@pytest.fixture
def counters(aws):
    Counter.create_table(wait=True)
    Counter(counter_id="c", value=0).save()
    return db.connection().client


def increment(tx) -> None:
    tx.update(Counter(counter_id="c"), actions=[Counter.value.add(1)], condition=Counter.value < 10)


def test_transaction_conflicts_are_retried_until_the_transaction_commits(counters):
    naps: list[float] = []
    conflicts = [transaction_cancelled("TransactionConflict")] * 2
    with failing_calls(counters, "TransactWriteItems", conflicts) as calls:
        db.run_transaction(increment, sleep=naps.append)
    assert len(calls) == 3 and len(naps) == 2
    assert Counter.get("c").value == 1, "the retried transaction must apply exactly once"


def test_throttled_transactions_are_retried(counters):
    with failing_calls(counters, "TransactWriteItems", [throttled()]):
        db.run_transaction(increment, sleep=lambda _: None)
    assert Counter.get("c").value == 1


def test_a_failed_condition_is_not_retried_and_reaches_the_caller(counters):
    with failing_calls(counters, "TransactWriteItems", [transaction_cancelled("ConditionalCheckFailed")]) as calls:
        with pytest.raises(TransactWriteError) as raised:
            db.run_transaction(increment, sleep=lambda _: None)
    assert len(calls) == 1
    assert db.cancellation_codes(raised.value) == ["ConditionalCheckFailed"]
    assert Counter.get("c").value == 0


def test_endless_conflicts_end_in_service_unavailable_with_retry_after(counters):
    conflicts = [transaction_cancelled("TransactionConflict")] * db.TRANSACTION_ATTEMPTS
    with failing_calls(counters, "TransactWriteItems", conflicts):
        with pytest.raises(ServiceUnavailable) as raised:
            db.run_transaction(increment, sleep=lambda _: None)
    assert raised.value.status == 503 and raised.value.headers["Retry-After"] == "1"
    assert Counter.get("c").value == 0


def test_error_code_finds_the_dynamodb_code_behind_pynamodb_exceptions(counters):
    with failing_calls(counters, "TransactWriteItems", [throttled()]):
        with pytest.raises(Exception) as raised:
            db.run_transaction(increment, attempts=1, sleep=lambda _: None)
    assert db.is_throttle(raised.value)


def test_models_register_with_their_configured_table_names(aws):
    from infra.tables import load_models

    names = [model.Meta.table_name for model in load_models()]
    assert names and all(name.startswith("test-") for name in names)
    assert "test-idempotency" in names


def test_condition_failed_recognises_single_writes_and_transaction_items(counters):
    from pynamodb.exceptions import UpdateError

    with pytest.raises(UpdateError) as single:
        Counter(counter_id="c").update(actions=[Counter.value.add(1)], condition=Counter.value > 5)
    with pytest.raises(TransactWriteError) as transaction:
        db.run_transaction(lambda tx: tx.update(Counter(counter_id="c"), actions=[Counter.value.add(1)],
                                                condition=Counter.value > 5))
    with failing_calls(counters, "TransactWriteItems", [throttled()]):
        with pytest.raises(ServiceUnavailable) as busy:
            db.run_transaction(increment, attempts=1, sleep=lambda _: None)

    assert db.condition_failed(single.value)
    assert db.condition_failed(transaction.value)
    assert not db.condition_failed(busy.value.__cause__)


def test_get_items_reads_items_of_several_tables_in_one_call_as_getitems_would(aws, dynamodb_calls):
    from chalicelib.core.db import get_items
    from chalicelib.members.models import LevelTableModel, MemberAccountModel, UserModel

    now = datetime(2026, 1, 1, tzinfo=UTC)
    UserModel("U1", openid="o1", session_key="k", nickname="n", level=1, growth=0, points=0, created_at=now,
              last_login_at=now).save()
    MemberAccountModel("U1", growth=5, points=7, frozen=0, credited=0, debited=0, expired_through=0, shortfall=0,
                       version=1).save()
    dynamodb_calls.clear()
    user, missing, account, again, table = get_items([
        (UserModel, ("U1",), True), (UserModel, ("U-none",), True), (MemberAccountModel, ("U1",), True),
        (UserModel, ("U1",), False), (LevelTableModel, ("LEVELS",), False)])
    assert dynamodb_calls == ["BatchGetItem"], dynamodb_calls
    assert (user.user_id, user.openid, account.points, again.user_id) == ("U1", "o1", 7, "U1")
    assert missing is None and table is None


def test_a_read_batch_answers_each_asker_its_own_item_in_one_call_per_hundred_keys(aws, dynamodb_calls):
    from chalicelib.core.batch_reads import ReadBatch
    from chalicelib.members.models import LevelTableModel, MemberAccountModel

    for number in range(0, 150, 2):
        MemberAccountModel(f"U{number}", growth=number, points=0, frozen=0, credited=0, debited=0,
                           expired_through=0, shortfall=0, version=1).save()
    batch = ReadBatch()
    accounts = [batch.ask(MemberAccountModel, (f"U{number}",), consistent=True) for number in range(150)]
    table = batch.ask(LevelTableModel, ("LEVELS",), consistent=False)
    dynamodb_calls.clear()

    batch.run()

    assert dynamodb_calls == ["BatchGetItem", "BatchGetItem"], f"expected 151 keys in 2 calls, got {dynamodb_calls}"
    found = [account() for account in accounts]
    assert [int(item.growth) for item in found[::2]] == list(range(0, 150, 2)), "expected each asker its own item"
    assert found[1::2] == [None] * 75 and table() is None, "expected None for a key with no item, as GetItem"


def test_a_read_batch_is_asked_then_run_then_read_and_costs_nothing_when_nothing_was_asked(aws, dynamodb_calls):
    from chalicelib.core.batch_reads import ReadBatch
    from chalicelib.members.models import LevelTableModel

    batch = ReadBatch()
    table = batch.ask(LevelTableModel, ("LEVELS",), consistent=False)
    with pytest.raises(RuntimeError, match="not run yet"):
        table()
    batch.run()
    with pytest.raises(RuntimeError, match="has run"):
        batch.ask(LevelTableModel, ("OTHER",), consistent=False)
    empty = ReadBatch()
    dynamodb_calls.clear()
    empty.run()
    assert dynamodb_calls == [], f"expected no call for an empty batch, got {dynamodb_calls}"
