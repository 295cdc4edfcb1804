"""Counting facts exactly once: each fact's marker and the counters it moves, in one transaction.

A fact is something that happened once in the business (order X was paid, refund Y settled, tracking
request Z arrived, visitor V first viewed a product on day D), named by its `key`. Its marker is put with
`attribute_not_exists` in the same TransactWriteItems as the `ADD`s it makes, so however often a stream
record or a queue message is delivered, the counters move once: a redelivery's transaction fails its
marker's condition and writes nothing.

Facts of a batch are committed together while their markers and the rows they touch fit one transaction
(100 actions): a flash sale's batch of paid orders costs a few transactions, not one per order, and one
counter row takes one write per batch instead of one per order. Markers already there are looked up first
and left out; when a chunk still fails because some of its facts were counted meanwhile, the cancellation
names them, and the rest is committed again without them.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from chalicelib.analytics.models import MARK_DAYS, CounterRow, Mark
from chalicelib.core import clock, db

log = logging.getLogger("micromall.analytics")

TRANSACTION_ACTIONS = 100
Row = tuple[str, str]  # (day, slot)


@dataclass
class Fact:
    """A business fact and what it adds: `adds[(day, slot)][attribute] = delta`, `names[...]` = a string set."""
    key: str
    adds: dict[Row, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    names: dict[Row, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    keep_forever: bool = False  # a buyer's first payment: its marker never expires
    order_id: str | None = None  # kept on the marker (a first payment names its order)
    day: str | None = None
    note: str | None = None  # kept on the marker: a status move's old status
    # more markers put with it, all or none (a backfilled order's status claims its earlier versions' moves)
    also_marks: tuple[str, ...] = ()

    def add(self, day: str, slot: str, attribute: str, delta: int) -> Fact:
        if delta:
            row = self.adds[(day, slot)]
            row[attribute] = row.get(attribute, 0) + delta
        return self

    def name(self, day: str, slot: str, attribute: str, value: str | None) -> Fact:
        if value:
            self.names[(day, slot)][attribute] = value
        return self

    def rows(self) -> set[Row]:
        return set(self.adds) | set(self.names)

    @property
    def marks(self) -> tuple[str, ...]:
        return (self.key, *self.also_marks)


def commit(facts: Iterable[Fact], *, looked_up: bool = False) -> list[Fact]:
    """Count each fact not counted before; returns the facts counted now (the others were already).

    Markers that exist are looked up first (one BatchGetItem per 100, eventually consistent: a hint, the
    transaction's conditions decide), unless the caller just did (`looked_up`): a redelivered batch, or a
    returning buyer's first-payment fact, then costs a read instead of a cancelled transaction.
    """
    unique: dict[str, Fact] = {}
    for fact in facts:  # an item may appear once per transaction; the first fact of a key is the one
        unique.setdefault(fact.key, fact)
    present = set() if looked_up or not unique else set(marks_present(unique))
    counted: list[Fact] = []
    for chunk in _chunks([fact for key, fact in unique.items() if key not in present]):
        counted.extend(_commit_chunk(chunk))
    return counted


def _commit_chunk(chunk: list[Fact]) -> list[Fact]:
    """Commits the chunk; when some of its facts were counted meanwhile, the others again without them."""
    while chunk:
        counted_before = _commit(chunk)
        if counted_before is None:
            return chunk
        if not counted_before:  # the cancellation did not say which: each on its own
            return [fact for fact in chunk if _commit([fact]) is None]
        chunk = [fact for fact in chunk if fact.key not in counted_before]
    return []


def _chunks(facts: list[Fact]) -> list[list[Fact]]:
    """Consecutive facts whose markers and distinct rows fit one transaction."""
    chunks: list[list[Fact]] = []
    current: list[Fact] = []
    rows: set[Row] = set()
    marks = 0
    for fact in facts:
        mine = fact.rows()
        if current and marks + len(fact.marks) + len(rows | mine) > TRANSACTION_ACTIONS:
            chunks.append(current)
            current, rows, marks = [], set(), 0
        current.append(fact)
        rows |= mine
        marks += len(fact.marks)
    if current:
        chunks.append(current)
    return chunks


def _commit(facts: list[Fact]) -> set[str] | None:
    """None when committed; else the keys of the facts found counted before (empty: it cannot tell which)."""
    from pynamodb.exceptions import TransactWriteError
    from pynamodb.expressions.operand import Path

    adds: dict[Row, dict[str, int]] = defaultdict(dict)
    names: dict[Row, dict[str, str]] = defaultdict(dict)
    for fact in facts:
        for row, deltas in fact.adds.items():
            for attribute, delta in deltas.items():
                adds[row][attribute] = adds[row].get(attribute, 0) + delta
        for row, values in fact.names.items():
            names[row].update(values)
    expires = clock.now() + timedelta(days=MARK_DAYS)

    def build(tx: Any) -> None:
        for fact in facts:
            mark = Mark(fact.key, order_id=fact.order_id, day=fact.day, note=fact.note,
                        expires=None if fact.keep_forever else expires)
            tx.save(mark, condition=Mark.mark.does_not_exist())
            for also in fact.also_marks:
                tx.save(Mark(also, expires=None if fact.keep_forever else expires),
                        condition=Mark.mark.does_not_exist())
        for row in set(adds) | set(names):
            actions = [Path([attribute]).add(delta) for attribute, delta in adds.get(row, {}).items() if delta]
            actions += [Path([attribute]).set(value) for attribute, value in names.get(row, {}).items()]
            if actions:
                tx.update(CounterRow(*row), actions=actions)

    try:
        db.run_transaction(build)
        return None
    except TransactWriteError as exc:
        if not db.condition_failed(exc):
            raise
        if len(facts) == 1:
            log.info("fact %s was counted before", facts[0].key)
            return {facts[0].key}
        return _failed_markers(exc, facts)


def _failed_markers(exc: Exception, facts: list[Fact]) -> set[str]:
    """The facts whose marker's condition failed: PynamoDB sends a transaction's puts (the markers, in the
    order they were added) before its updates, and DynamoDB answers one reason per item in that order."""
    codes = db.cancellation_codes(exc)
    owners = [fact.key for fact in facts for _ in fact.marks]
    if len(codes) < len(owners):
        return set()
    return {key for key, code in zip(owners, codes[:len(owners)], strict=True) if code == db.CONDITION_FAILED}


# --- reading rows -------------------------------------------------------------------------

def read_rows(rows: Iterable[Row], *, consistent: bool = False) -> dict[Row, dict[str, Any]]:
    """The rows that exist among `rows`, each as plain values (numbers as int, binary as bytes)."""
    found = db.batch_get_raw(CounterRow, list(rows), consistent=consistent)
    return {(item["day"]["S"], item["slot"]["S"]): plain(item) for item in found}


def plain(item: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, typed in item.items():
        (kind, value), = typed.items()
        values[name] = int(value) if kind == "N" and "." not in value else float(value) if kind == "N" else value
    return values


def marks_present(keys: Iterable[str], *, consistent: bool = False) -> dict[str, dict[str, Any]]:
    """The markers that exist among `keys` (by default eventually consistent: a hint, a transaction decides)."""
    found = db.batch_get_raw(Mark, [(key,) for key in keys], consistent=consistent)
    return {item["mark"]["S"]: plain(item) for item in found}
