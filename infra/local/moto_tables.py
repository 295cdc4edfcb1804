"""Moto's DynamoDB tables, made to cost what DynamoDB costs: work proportional to the request, not the table.

Pinned moto (see `infra.local.moto_pin`) does three things DynamoDB never does:
- a transaction deep-copies every table it touches, stream history included, once
  per item, and a cancelled one swaps the copies in for the live Table objects;
- a Query walks and sorts every item of the table, even for one partition;
- nothing tells a caller which items a request changed.

`install()` replaces those paths, once per process: a transaction keeps an undo
log of the items it touches and the stream records it adds, and a cancelled one
restores exactly those in place; a Query reads only its partition (base table, or
a global index kept up to date from the same change hooks); and every write
records the items it touched in the `ChangeSet`s open on its thread, which the
embedded server journals. Moto still evaluates every condition, update
expression and filter: only the candidate items and the bookkeeping change.
"""
from __future__ import annotations

import contextlib
import copy
import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import GlobalSecondaryIndex, Table

from infra.local.moto_pin import ORIGINALS, patch_once

_thread = threading.local()
TRANSACTION_OPERATIONS = {"ConditionCheck", "Put", "Delete", "Update"}


class ChangeSet:
    """The items touched while it is open on this thread, each with its state before the first touch."""

    def __init__(self) -> None:
        self._before: dict[tuple[int, Any, Any], tuple[Table, DynamoType, DynamoType | None, Item | None]] = {}
        self._stream_ends: dict[int, tuple[Any, int]] = {}

    def touch(self, table: Table, hash_key: DynamoType, range_key: DynamoType | None, *, in_place: bool) -> None:
        identity = (id(table), hash_key, range_key)
        if identity not in self._before:
            current = _stored(table, hash_key, range_key)
            # An update mutates the stored Item; a put or delete replaces or removes it, leaving it intact.
            self._before[identity] = (table, hash_key, range_key, copy.deepcopy(current) if in_place else current)
        shard = table.stream_shard
        if shard is not None and id(table) not in self._stream_ends:
            self._stream_ends[id(table)] = (shard, shard.starting_sequence_number + len(shard.items))

    def rollback(self) -> None:
        """Puts every touched item back as it was and drops the stream records added since."""
        for table, hash_key, range_key, before in reversed(list(self._before.values())):
            put_raw(table, hash_key, range_key, before)
        for shard, end in self._stream_ends.values():
            del shard.items[max(0, end - shard.starting_sequence_number):]

    def changes(self) -> list[tuple[Table, Item | None, Item | None]]:
        """(table, before, after) for every touched item that really changed."""
        changed = []
        for table, hash_key, range_key, before in self._before.values():
            after = _stored(table, hash_key, range_key)
            if after is before or (after is not None and before is not None and after == before):
                continue
            changed.append((table, before, after))
        return changed


def _stored(table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
    """The stored item, or None; a key missing its range part (moto refuses that request) names none."""
    return table.get_item(hash_key, range_key) if (range_key is not None or not table.has_range_key) else None


@contextlib.contextmanager
def recording(change_set: ChangeSet) -> Iterator[ChangeSet]:
    stack = _open_change_sets()
    stack.append(change_set)
    try:
        yield change_set
    finally:
        stack.remove(change_set)


def _open_change_sets() -> list[ChangeSet]:
    if not hasattr(_thread, "change_sets"):
        _thread.change_sets = []
    return _thread.change_sets


def _before_write(table: Table, hash_key: DynamoType, range_key: DynamoType | None, *, in_place: bool) -> None:
    for change_set in _open_change_sets():
        change_set.touch(table, hash_key, range_key, in_place=in_place)


def put_raw(table: Table, hash_key: DynamoType, range_key: DynamoType | None, item: Item | None) -> None:
    """Sets one stored item (None removes it) without conditions, streams or change sets."""
    if item is None:
        partition = table.items.get(hash_key)
        if table.has_range_key and partition is not None:
            partition.pop(range_key, None)
        elif not table.has_range_key:
            table.items.pop(hash_key, None)
    elif table.has_range_key:
        table.items[hash_key][range_key] = item
    else:
        table.items[hash_key] = item
    index_of(table).touched.add((hash_key, range_key))


def item_from_json(table: Table, attributes: dict[str, Any]) -> Item:
    hash_key, range_key = key_of_attributes(table, attributes)
    return Item(hash_key, range_key, attributes)


def key_of_attributes(table: Table, attributes: dict[str, Any]) -> tuple[DynamoType, DynamoType | None]:
    range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
    return DynamoType(attributes[table.hash_key_attr]), range_key


# --- global index partitions ---------------------------------------------------------------


class IndexPartitions:
    """Primary keys of a table's items by the hash value of each single-attribute global index, kept lazily."""

    def __init__(self) -> None:
        self.touched: set[tuple[Any, Any]] = set()
        self._items_identity: int | None = None
        self._partitions: dict[str, dict[DynamoType, set]] = {}
        self._membership: dict[tuple[Any, Any], dict[str, DynamoType]] = {}
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict) -> IndexPartitions:
        # moto deep-copies a table for a backup; the copy's partitions are rebuilt from its own items on first use.
        return IndexPartitions()

    def candidates(self, table: Table, index_name: str, hash_value: DynamoType) -> list[Item]:
        with self._lock:
            self._sync(table)
            keys = list(self._partitions.get(index_name, {}).get(hash_value, ()))
        found = [table.get_item(*key) for key in keys]
        return _sorted_like_all_items([item for item in found if item is not None])

    def _sync(self, table: Table) -> None:
        if self._items_identity != id(table.items):  # first use, or moto replaced the items (a restore)
            self._items_identity = id(table.items)
            self._partitions = {name: defaultdict(set) for name in _hash_attributes(table)}
            self._membership = {}
            self.touched = {(item.hash_key, item.range_key) for item in Table.all_items(table)}
        while self.touched:
            self._reindex(table, self.touched.pop())

    def _reindex(self, table: Table, key: tuple[Any, Any]) -> None:
        for name, hash_value in self._membership.pop(key, {}).items():
            self._partitions[name][hash_value].discard(key)
        item = _stored(table, *key)
        if item is None:
            return
        membership = {}
        for name, attribute in _hash_attributes(table).items():
            value = item.attrs.get(attribute)
            if value is not None:
                self._partitions[name][value].add(key)
                membership[name] = value
        if membership:
            self._membership[key] = membership


def _hash_attributes(table: Table) -> dict[str, str]:
    """Global indexes whose partition is one attribute: index name -> attribute."""
    names = {}
    for index in table.global_indexes or []:
        hashes = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
        if len(hashes) == 1:
            names[index.name] = hashes[0]
    return names


def index_of(table: Table) -> IndexPartitions:
    partitions = table.__dict__.get("_mall_index_partitions")
    if partitions is None:
        partitions = table.__dict__.setdefault("_mall_index_partitions", IndexPartitions())
    return partitions


def _sorted_like_all_items(items: list[Item]) -> list[Item]:
    return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def _query_candidates(table: Table, hash_key: DynamoType | None, index_name: str | None,
                      hash_key_conditions: list | None) -> list[Item] | None:
    """The items a Query can match, or None when this shape of query is left to moto's full walk."""
    if not index_name:
        if hash_key is None:
            return None
        partition = table.items.get(hash_key)
        if partition is None:
            return []
        return _sorted_like_all_items(list(partition.values()) if table.has_range_key else [partition])
    index = next((i for i in table.global_indexes or [] if i.name == index_name), None)
    attribute = _hash_attributes(table).get(index_name)
    if not isinstance(index, GlobalSecondaryIndex) or attribute is None or len(hash_key_conditions or []) != 1:
        return None
    condition_attribute, value = hash_key_conditions[0]
    if condition_attribute != attribute:
        return None
    return index_of(table).candidates(table, index_name, value)


# --- the patched moto methods -----------------------------------------------------------------


def _table_put_item(self: Table, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
    try:
        key = key_of_attributes(self, item_attrs)
    except (KeyError, IndexError, TypeError, AttributeError):
        key = None  # moto rejects it below with its own validation error
    if key is not None:
        _before_write(self, *key, in_place=False)
    try:
        return ORIGINALS["Table.put_item"](self, item_attrs, *args, **kwargs)
    finally:
        if key is not None:
            index_of(self).touched.add(key)


def _table_delete_item(self: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
    _before_write(self, hash_key, range_key, in_place=False)
    try:
        return ORIGINALS["Table.delete_item"](self, hash_key, range_key)
    finally:
        index_of(self).touched.add((hash_key, range_key))


def _backend_update_item(self: DynamoDBBackend, table_name: str, key: dict[str, Any], *args: Any,
                         **kwargs: Any) -> Item:
    table = self.get_table(table_name)
    hash_key = DynamoType(key[table.hash_key_attr]) if table.hash_key_attr in key else None
    range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr and table.range_key_attr in key else None
    if hash_key is not None:
        _before_write(table, hash_key, range_key, in_place=True)
    try:
        return ORIGINALS["DynamoDBBackend.update_item"](self, table_name, key, *args, **kwargs)
    finally:
        if hash_key is not None:
            index_of(table).touched.add((hash_key, range_key))


def _table_all_items(self: Table) -> list[Item]:
    override = getattr(_thread, "query_candidates", None)
    if override is not None and override[0] is self:
        return override[1]
    return ORIGINALS["Table.all_items"](self)


def _table_query(self: Table, hash_key: DynamoType | None, range_comparison: str | None, range_objs: list,
                 limit: int, exclusive_start_key: dict, scan_index_forward: bool, projection_expressions: Any,
                 index_name: str | None = None, consistent_read: bool = False, filter_expression: Any = None,
                 **kwargs: Any) -> Any:
    arguments = (self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
                 projection_expressions, index_name, consistent_read, filter_expression)
    candidates = _query_candidates(self, hash_key, index_name, kwargs.get("hash_key_conditions"))
    if candidates is None:
        return ORIGINALS["Table.query"](*arguments, **kwargs)
    _thread.query_candidates = (self, candidates)
    try:
        return ORIGINALS["Table.query"](*arguments, **kwargs)
    finally:
        _thread.query_candidates = None


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """Moto's transaction semantics (same checks, same error list), with an undo log instead of table copies."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    undo = ChangeSet()
    with recording(undo):
        targets: set[tuple[str, str]] = set()
        try:
            errors = [_transact_one(self, item, targets) for item in transact_items]
        except (MultipleTransactionsException, MockValidationException, TransactWriteSingleOpException):
            undo.rollback()
            raise
    if any(code is not None for code, _, _ in errors):
        undo.rollback()
        raise TransactionCanceledException(errors)


def _transact_one(backend: DynamoDBBackend, item: dict[str, Any], targets: set) -> tuple:
    if len(item) > 1:
        raise TransactWriteSingleOpException
    failed_item = None
    try:
        op_type, op = next(iter(item.items()))
        if op_type not in TRANSACTION_OPERATIONS:
            raise ValueError("Unsupported transaction operation")
        table_name = op["TableName"]
        names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        condition = op.get("ConditionExpression")
        if op_type == "Put":
            table = backend.get_table(table_name)
            key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = op["Item"][table.range_key_attr]
        else:
            key = op["Key"]
        target = (str(table_name), str(dict(sorted(key.items()))))
        if target in targets:
            raise MultipleTransactionsException()
        targets.add(target)
        current = backend.get_item(table_name, key)
        if condition is not None and not get_filter_expression(condition, names, values).expr(current):
            if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                failed_item = current.to_json()["Attributes"]
            raise ConditionalCheckFailed(item=failed_item)
        if op_type == "Put":
            backend.put_item(table_name, op["Item"], condition_expression=condition,
                             expression_attribute_names=names, expression_attribute_values=values)
        elif op_type == "Delete":
            backend.delete_item(table_name, key, condition_expression=condition,
                                expression_attribute_names=names, expression_attribute_values=values)
        elif op_type == "Update":
            backend.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                condition_expression=condition, expression_attribute_names=names,
                                expression_attribute_values=values)
        return (None, None, None)
    except (MultipleTransactionsException, MockValidationException):
        raise
    except ConditionalCheckFailed as failure:
        return ("ConditionalCheckFailed", str(failure.message), failed_item)
    except Exception as failure:  # noqa: BLE001 - moto reports any other failure as the item's cancellation reason
        return (type(failure).__name__, str(failure), failed_item)


def install() -> None:
    """Patches moto's classes in this process (idempotent); refuses a moto whose internals it does not know."""
    patch_once("tables", {
        (Table, "put_item"): _table_put_item, (Table, "delete_item"): _table_delete_item,
        (Table, "all_items"): _table_all_items, (Table, "query"): _table_query,
        (DynamoDBBackend, "update_item"): _backend_update_item,
        (DynamoDBBackend, "transact_write_items"): _transact_write_items})
