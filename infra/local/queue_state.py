"""The embedded SQS's messages, journaled like the tables: what a request added to or removed from each queue.

An SQS request can change queues it does not name (a receive past `maxReceiveCount`
moves the message to the dead-letter queue), so the change is found by comparing
every queue's message ids before and after the request: cheap for local queues,
which hold dead letters and small backlogs. A change is `["send", queue, message]`
or `["delete", queue, message_id]`; restoring sends the surviving messages again
(new ids, receive counts start over, as after a redrive).
"""
from __future__ import annotations

from typing import Any

QueueIds = dict[str, set[str]]


def _queues() -> dict[str, Any]:
    from moto.sqs.models import sqs_backends

    from infra.local.moto_pin import resources

    return resources(sqs_backends, "queues")


def message_ids() -> QueueIds:
    return {name: {message.id for message in queue._messages} for name, queue in _queues().items()}


def changes_since(before: QueueIds) -> list[list]:
    changes: list[list] = []
    for name, queue in _queues().items():
        held = before.get(name, set())
        current = {message.id: message for message in queue._messages}
        changes += [["send", name, _message_json(message)] for key, message in current.items() if key not in held]
        changes += [["delete", name, key] for key in held if key not in current]
    return changes


def _message_json(message: Any) -> dict:
    return {"id": message.id, "body": message.body, "attributes": message.message_attributes,
            "group_id": message.group_id, "deduplication_id": message.deduplication_id}


def apply(queues: dict[str, dict[str, dict]], changes: list[list]) -> None:
    for kind, name, payload in changes:
        if kind == "send":
            queues.setdefault(name, {})[payload["id"]] = payload
        else:
            queues.setdefault(name, {}).pop(payload, None)


def load(queues: dict[str, dict[str, dict]]) -> int:
    """Sends every kept message again into its queue (created if the code did not create it yet)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    from chalicelib.core import config

    restored = 0
    for name, messages in queues.items():
        if not messages:
            continue
        backend = next((b for a in sqs_backends.values() for b in a.values() if name in b.queues), None)
        if backend is None:
            backend = sqs_backends[DEFAULT_ACCOUNT_ID][config.region()]
            backend.create_queue(name)
        for message in messages.values():
            backend.send_message(name, message["body"], message_attributes=message["attributes"],
                                 group_id=message["group_id"], deduplication_id=message["deduplication_id"])
            restored += 1
    return restored
