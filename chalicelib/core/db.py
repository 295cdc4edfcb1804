"""Tables: what every model shares (configuration, one connection), batch reads, transactions.

A model's table name, region and endpoint come from configuration when its
module is imported, so the same models serve the cloud, the embedded local
DynamoDB and moto in tests. Every model registers itself, which is how the local
stack and the CloudFormation template find the tables without a hand-kept list.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from pynamodb.models import Model

from chalicelib.core import config
from chalicelib.core.errors import ServiceUnavailable

_registry: dict[str, type[Model]] = {}

M = TypeVar("M", bound=Model)

NEW_AND_OLD_IMAGES = "NEW_AND_OLD_IMAGES"  # stream view for tables whose changes drive events

THROTTLE_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException",
    "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable",
})


def connection_settings() -> dict[str, Any]:
    """Where and how every table is reached (PynamoDB Meta / Connection keywords)."""
    # A Lambda serves one request at a time, but the local stack serves many on threads through the same
    # client: botocore's default pool of 10 connections would make the 11th wait and log a warning.
    settings: dict[str, Any] = {"region": config.region(), "max_retry_attempts": 3,
                                "connect_timeout_seconds": 2, "read_timeout_seconds": 5, "max_pool_connections": 64}
    endpoint = config.dynamodb_endpoint()
    if endpoint:
        settings.update(host=endpoint, aws_access_key_id="local", aws_secret_access_key="local")
    return settings


@lru_cache(maxsize=1)
def connection():
    """The one PynamoDB Connection (one botocore client, safe to share between threads)
    behind every registered table and every transaction."""
    from pynamodb.connection import Connection

    return Connection(**connection_settings())


def table_meta(logical_name: str, **extra: Any) -> type:
    """A PynamoDB `Meta` for table `logical_name`, configured from the environment."""
    attrs: dict[str, Any] = {
        "table_name": config.table_name(logical_name),
        "billing_mode": "PAY_PER_REQUEST",
        "logical_name": logical_name,
        **connection_settings(),
    }
    attrs.update(extra)
    return type("Meta", (), attrs)


def index_meta(name: str, projection: type) -> type:
    """A PynamoDB index `Meta`: its name and projection (capacity follows the table's on-demand billing)."""
    return type("Meta", (), {"index_name": name, "projection": projection()})


def register(model: type[Model]) -> type[Model]:
    """Class decorator: make `model` one of the mall's tables, reached through the shared connection.

    PynamoDB gives each model its own Connection and so its own botocore client;
    creating one costs tens of milliseconds of a cold start, and a product page
    touches two tables. All registered tables share one client instead.
    """
    _registry[model.Meta.logical_name] = model
    table = model._get_connection()
    shared = connection()
    if table.connection is not shared:
        shared.add_meta_table(table.get_meta_table())
        table.connection = shared
    return model


def registered_models() -> Iterator[type[Model]]:
    return iter(list(_registry.values()))


def error_code(exc: BaseException) -> str | None:
    """The DynamoDB error code behind a botocore or PynamoDB exception, if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            if code:
                return code
        code = getattr(exc, "cause_response_code", None)
        if code:
            return code
        exc = getattr(exc, "cause", None) or exc.__cause__ or exc.__context__
    return None


def is_throttle(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLE_CODES


def is_connection_failure(exc: BaseException) -> bool:
    """DynamoDB could not be reached, or its answer was lost (timeouts, resets), anywhere in the cause chain.

    The outcome of a write is then unknown; the client is told to retry (503), which is
    safe because every write the mall makes is conditional or keyed by an idempotency record.
    """
    from botocore.exceptions import ConnectionError as BotocoreConnectionError
    from botocore.exceptions import HTTPClientError

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (BotocoreConnectionError, HTTPClientError)):
            return True
        exc = getattr(exc, "cause", None) or exc.__cause__ or exc.__context__
    return False


# --- reads ----------------------------------------------------------------------

def get_or_none(model: type[M], hash_key: Any, range_key: Any = None, *, consistent: bool = True) -> M | None:
    """One item by key, or None: PynamoDB raises DoesNotExist, and a missing item is rarely exceptional."""
    from pynamodb.exceptions import DoesNotExist

    try:
        return model.get(hash_key, range_key, consistent_read=consistent)
    except DoesNotExist:
        return None


BATCH_GET_LIMIT = 100  # keys per BatchGetItem
BATCH_GET_ATTEMPTS = 6


def batch_get(model: type[M], keys: Iterable[tuple], *, consistent: bool = False, sleep=time.sleep) -> list[M]:
    """Items for `keys` ((hash,) or (hash, range) tuples), one BatchGetItem per 100 keys; missing keys absent.

    PynamoDB's own batch_get re-asks for UnprocessedKeys in a tight loop; under
    throttling that makes things worse, so the retries here back off with jitter.
    """
    return [model.from_raw_data(raw) for raw in batch_get_raw(model, keys, consistent=consistent, sleep=sleep)]


def batch_get_raw(model: type[Model], keys: Iterable[tuple], *, consistent: bool = False,
                  sleep=time.sleep) -> list[dict[str, Any]]:
    """`batch_get`, answering DynamoDB's raw items: for a table whose attributes are named at run time."""
    serialized = [_serialize_key(model, key) for key in dict.fromkeys(keys)]  # DynamoDB refuses duplicates
    found: list[dict[str, Any]] = []
    for start in range(0, len(serialized), BATCH_GET_LIMIT):
        found.extend(_fetch_chunk(model, serialized[start:start + BATCH_GET_LIMIT], consistent, sleep))
    return found


def _fetch_chunk(model: type[Model], keys: list[dict], consistent: bool, sleep) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for attempt in range(BATCH_GET_ATTEMPTS):
        page, unprocessed = model._batch_get_page(keys, consistent_read=consistent, attributes_to_get=None)
        items.extend(page or [])
        if not unprocessed:
            return items
        keys = unprocessed
        sleep(random.uniform(0, 0.025 * 2**attempt))
    raise ServiceUnavailable("the shop is busy, retry shortly", code="BUSY")


def get_items(wanted: Sequence[tuple[type[Model], tuple, bool]], *, sleep=time.sleep) -> list[Any]:
    """Items of one or more tables by key, each `(model, (hash,) or (hash, range), consistent)`, in one
    BatchGetItem: what a GetItem each would return (the item or None), in their order, for one round trip.

    A table read consistently by one of them is read consistently for all of its keys. At most 100 keys;
    unprocessed keys are asked again with jittered backoff, as `batch_get` does.
    """
    if len(wanted) > BATCH_GET_LIMIT:
        raise ValueError(f"at most {BATCH_GET_LIMIT} keys in one BatchGetItem")
    shared = connection()
    typed = [(model, model.Meta.table_name,
              shared.get_identifier_map(model.Meta.table_name, *model._serialize_keys(*key))["Key"])
             for model, key, _ in wanted]
    request: dict[str, dict[str, Any]] = {}
    for (_, table, key), (_, _, consistent) in zip(typed, wanted, strict=True):
        entry = request.setdefault(table, {"Keys": [], "ConsistentRead": False})
        entry["ConsistentRead"] = entry["ConsistentRead"] or consistent
        if key not in entry["Keys"]:  # DynamoDB refuses a key asked twice
            entry["Keys"].append(key)
    found: dict[str, list[dict[str, Any]]] = {}
    for attempt in range(BATCH_GET_ATTEMPTS):
        answer = shared.dispatch("BatchGetItem", {"RequestItems": request})
        for table, items in (answer.get("Responses") or {}).items():
            found.setdefault(table, []).extend(items)
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            break
        sleep(random.uniform(0, 0.025 * 2**attempt))
    else:
        raise ServiceUnavailable("the shop is busy, retry shortly", code="BUSY")
    return [next((model.from_raw_data(item) for item in found.get(table, [])
                  if all(item.get(name) == value for name, value in key.items())), None)
            for model, table, key in typed]


def plain_map(raw: Any) -> dict[str, Any]:
    """A map attribute's value (a PynamoDB MapAttribute, a dict or nothing) as a plain dict."""
    if raw is None:
        return {}
    return dict(raw.as_dict() if hasattr(raw, "as_dict") else raw)


def _serialize_key(model: type[Model], key: tuple) -> dict:
    hash_value, range_value = model._serialize_keys(*key)
    serialized = {model._hash_key_attribute().attr_name: hash_value}
    if range_value is not None:
        serialized[model._range_key_attribute().attr_name] = range_value
    return serialized


# --- transactions -----------------------------------------------------------

CONDITION_FAILED = "ConditionalCheckFailed"  # a cancelled transaction item's code
RETRYABLE_CANCELLATIONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
TRANSACTION_ATTEMPTS = 5


def cancellation_codes(exc: BaseException) -> list[str | None]:
    """Cancellation codes of a cancelled transaction, one per item (None = that item was fine).

    The order is the order PynamoDB sent the items in, which groups them by kind
    (condition checks, deletes, puts, updates), not the order `build` added them.
    """
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return [reason.code if reason is not None else None for reason in reasons]


def condition_failed(exc: BaseException) -> bool:
    """Whether a write's condition failed: a single write's, or any item's of a cancelled transaction."""
    return error_code(exc) == "ConditionalCheckFailedException" or CONDITION_FAILED in cancellation_codes(exc)


def run_transaction(build: Callable[[Any], None], *, attempts: int = TRANSACTION_ATTEMPTS,
                    sleep: Callable[[float], None] = time.sleep) -> None:
    """Commit the items `build(tx)` adds to one TransactWriteItems, retrying conflicts.

    DynamoDB cancels a transaction that races another on the same item
    (TransactionConflict) or is throttled; those are retried with jittered
    backoff, rebuilding the items each time. A failed condition is the caller's
    business and is raised at once as PynamoDB's TransactWriteError; after the
    last retry the shop is busy (503 with Retry-After).
    """
    from pynamodb.exceptions import TransactWriteError
    from pynamodb.transactions import TransactWrite

    for attempt in range(attempts):
        try:
            with TransactWrite(connection=connection()) as tx:
                build(tx)
            return
        except TransactWriteError as exc:
            codes = set(cancellation_codes(exc)) - {None, "None"}
            retryable = (codes and codes <= RETRYABLE_CANCELLATIONS) or is_throttle(exc)
            if not retryable:
                raise
            if attempt == attempts - 1:
                raise ServiceUnavailable("the shop is busy, retry shortly", code="BUSY") from exc
            sleep(random.uniform(0, 0.05 * 2**attempt))


def commit_if_conditions_hold(build: Callable[[Any], None], *,
                              committed_already: Callable[[], bool] | None = None) -> bool:
    """`run_transaction(build)`; False instead of an error when one of its conditions failed
    (what was read changed before the commit), so the caller can re-read and decide.

    `committed_already` tells a lost race from a lost reply: botocore resends a write whose reply
    was lost, and the resend then fails the conditions its own first commit broke. The write
    stores a token of its own (a `last_change`); this reads it back, and True means the write is done.
    """
    from pynamodb.exceptions import TransactWriteError

    try:
        run_transaction(build)
        return True
    except TransactWriteError as exc:
        if not condition_failed(exc):
            raise
    return committed_already is not None and committed_already()


CHANGE_ATTEMPTS = 5
T = TypeVar("T")


def until_committed(attempt: Callable[[], T | None], *, attempts: int = CHANGE_ATTEMPTS,
                    gives_up: Callable[[], Exception] | None = None) -> T:
    """The one read-check-commit loop: `attempt()` reads, decides, and commits conditioned on what it read.

    It returns a result, raises (the check refused), or returns None when its condition
    failed because the item changed between the read and the commit; then it runs again
    on a fresh read. An item still changing after `attempts` reads raises `gives_up()`
    (default 503 BUSY).
    """
    for _ in range(attempts):
        result = attempt()
        if result is not None:
            return result
    if gives_up is not None:
        raise gives_up()
    raise ServiceUnavailable("the order is changing fast, retry shortly", code="BUSY")
