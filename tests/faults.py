"""Fault injection for DynamoDB: moto never throttles nor reports a TransactionConflict.

A botocore `before-call` hook that returns a response short-circuits the HTTP call,
so the client raises exactly what DynamoDB would have sent.
"""
from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager


class FakeHttpResponse:
    def __init__(self, status_code: int):
        self.status_code = status_code
        self.headers: dict[str, str] = {}
        self.content = b""
        self.raw = None


def transaction_cancelled(*reasons: str) -> dict:
    return {"Error": {"Code": "TransactionCanceledException",
                      "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons "
                                 f"[{', '.join(reasons)}]"},
            "CancellationReasons": [{"Code": code, "Message": code} for code in reasons]}


def throttled() -> dict:
    return {"Error": {"Code": "ProvisionedThroughputExceededException",
                      "Message": "The level of configured provisioned throughput for the table was exceeded."}}


@contextmanager
def failing_calls(client, operation: str, errors: list[dict]) -> Iterator[list[str]]:
    """The next len(errors) `operation` calls on `client` fail with `errors`, in order; later ones go through."""
    pending = list(errors)
    seen: list[str] = []

    def inject(model, params, **_):
        seen.append(model.name)
        if pending:
            return FakeHttpResponse(400), pending.pop(0)
        return None

    event = f"before-call.dynamodb.{operation}"
    client.meta.events.register(event, inject)
    try:
        yield seen
    finally:
        client.meta.events.unregister(event, inject)


@contextmanager
def reply_lost_after_commit(operation: str, *, resend: bool = True, skip: int = 0) -> Iterator[list[str]]:
    """The next `operation` call (after `skip` of them went through) reaches DynamoDB and commits, then its
    reply is lost on the way back.

    With `resend`, the SDK does what botocore does on a read timeout: it sends the very same
    request again, and the caller sees that answer (a conditional write then finds its own
    commit in its way). Without, the caller sees the timeout. Any client, any thread.
    """
    import botocore.client
    from botocore.exceptions import ReadTimeoutError

    real_call = botocore.client.BaseClient._make_api_call
    lost: list[str] = []
    passed: list[str] = []

    def call(client, operation_name, api_params):
        result = real_call(client, operation_name, api_params)
        if operation_name != operation or lost:
            return result
        if len(passed) < skip:
            passed.append(operation_name)
            return result
        lost.append(operation_name)
        if resend:
            return real_call(client, operation_name, api_params)
        raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/")

    botocore.client.BaseClient._make_api_call = call
    try:
        yield lost
    finally:
        botocore.client.BaseClient._make_api_call = real_call


@contextmanager
def unprocessed_keys(client, *, answers: int, keep: int = 1) -> Iterator[list[dict]]:
    """The next `answers` BatchGetItem answers on `client` keep `keep` of their items and give the keys of
    the rest back as UnprocessedKeys (with the table's ConsistentRead as asked), as DynamoDB does when a
    table's partition is busy or the answer would pass 16 MB; later answers go through. Yields each
    request's RequestItems, as sent, so a test sees what was asked again."""
    asked: list[dict] = []
    left = [answers]

    def record(params, model, **_):
        asked.append(copy.deepcopy(params["RequestItems"]))

    def hold_back(http_response, parsed, model, **_):
        if not left[0] or http_response.status_code != 200:
            return
        left[0] -= 1
        request, kept = asked[-1], 0
        for table, items in list((parsed.get("Responses") or {}).items()):
            held = []
            for item in list(items):
                if kept < keep:
                    kept += 1
                    continue
                items.remove(item)
                held.extend(key for key in request[table]["Keys"]
                            if all(item.get(name) == value for name, value in key.items()))
            if held:
                entry = {"Keys": held}
                if "ConsistentRead" in request[table]:
                    entry["ConsistentRead"] = request[table]["ConsistentRead"]
                parsed.setdefault("UnprocessedKeys", {})[table] = entry

    client.meta.events.register("before-parameter-build.dynamodb.BatchGetItem", record)
    client.meta.events.register("after-call.dynamodb.BatchGetItem", hold_back)
    try:
        yield asked
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.BatchGetItem", record)
        client.meta.events.unregister("after-call.dynamodb.BatchGetItem", hold_back)
