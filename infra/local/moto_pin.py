"""The moto internals the local stack replaces, pinned: an upgrade that changes them fails loudly, not quietly.

`infra.local.moto_tables`, `infra.local.moto_streams` and `infra.local.moto_serialize`
re-implement a few of moto's methods and rely on the shape of its Table, Item, StreamShard and
ShardIterator. The fingerprints below are sha256 digests of those methods'
source in the pinned version; `check_pinned()` refuses to patch anything else.
After upgrading moto: reread each method, adapt the patches, then update the
version and digests (`python -m infra.local.moto_pin` prints them).
"""
from __future__ import annotations

import hashlib
import inspect
import sys
import threading
from typing import Any

import moto
from moto.core.serialize import BaseJSONSerializer
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import StreamShard, Table
from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

PINNED_VERSION = "5.2.5"

RELIED_ON: dict[str, Any] = {
    "Table.put_item": Table.put_item,
    "Table.delete_item": Table.delete_item,
    "Table.get_item": Table.get_item,
    "Table.all_items": Table.all_items,
    "Table.query": Table.query,
    "DynamoDBBackend.update_item": DynamoDBBackend.update_item,
    "DynamoDBBackend.transact_write_items": DynamoDBBackend.transact_write_items,
    "StreamShard.add": StreamShard.add,
    "StreamShard.get": StreamShard.get,
    "ShardIterator.__init__": ShardIterator.__init__,
    "ShardIterator.get": ShardIterator.get,
    "DynamoDBStreamsBackend.get_records": DynamoDBStreamsBackend.get_records,
    "BaseJSONSerializer._serialize_type_structure": BaseJSONSerializer._serialize_type_structure,
}
# The unpatched methods, captured at import (before any patch), for the patches to call.
ORIGINALS: dict[str, Any] = dict(RELIED_ON)

FINGERPRINTS = {
    "Table.put_item": "de23933013ef8426",
    "Table.delete_item": "1594f7b07616c8cb",
    "Table.get_item": "b08e98fe37b7e583",
    "Table.all_items": "c80d2ee3c896acd0",
    "Table.query": "002b4d00be6df07c",
    "DynamoDBBackend.update_item": "218984588dd689a5",
    "DynamoDBBackend.transact_write_items": "81db2cb7d94e39c9",
    "StreamShard.add": "357dc6da267e5dd7",
    "StreamShard.get": "fa7e9a0d7b438c2f",
    "ShardIterator.__init__": "5842e50a95242ef8",
    "ShardIterator.get": "8932c0f7250e8996",
    "DynamoDBStreamsBackend.get_records": "db8c6cb04430c08f",
    "BaseJSONSerializer._serialize_type_structure": "36873909cd0aeb4d",
}


class UnknownMotoVersion(RuntimeError):
    """The installed moto is not the one the local stack's patches were written against."""


def fingerprint(function: Any) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def differences() -> list[str]:
    found = [] if moto.__version__ == PINNED_VERSION else [f"moto {moto.__version__} (pinned {PINNED_VERSION})"]
    found += [name for name, function in RELIED_ON.items() if FINGERPRINTS.get(name) != fingerprint(function)]
    return found


def check_pinned() -> None:
    changed = differences()
    if changed:
        raise UnknownMotoVersion("the local stack's moto patches do not know this moto: " + ", ".join(changed)
                                 + " (see infra/local/moto_pin.py)")


_applied: set[str] = set()
_apply_lock = threading.Lock()


def patch_once(name: str, replacements: dict[tuple[type, str], Any]) -> None:
    """Sets each (class, attribute) to its replacement, once per process, after checking the pin."""
    with _apply_lock:
        if name in _applied:
            return
        check_pinned()
        for (owner, attribute), replacement in replacements.items():
            setattr(owner, attribute, replacement)
        _applied.add(name)


def resources(backends: Any, attribute: str) -> dict[str, Any]:
    """Every backend's `attribute` dict (tables, queues) merged by name, across the accounts and regions in use."""
    found: dict[str, Any] = {}
    for account in list(backends.values()):
        for backend in list(account.values()):
            found.update(getattr(backend, attribute))
    return found


if __name__ == "__main__":
    print(f'PINNED_VERSION = "{moto.__version__}"')
    for name, function in RELIED_ON.items():
        print(f'    "{name}": "{fingerprint(function)}",')
    sys.exit(0)
