"""Keyed reads of several features gathered into one BatchGetItem: one round trip where a request's reads
do not depend on each other's answers (a checkout's key, address, SKU cards, member account and coupon).

Each feature asks through its own function (`members.service.ask_address`, `catalog.reads.ask_sku_cards`,
...): it adds its keys with `ReadBatch.ask` and hands back a callable that, once the batch has run, shapes
its own items and raises its own errors. The batch knows tables and keys, never what an item means, so
no feature reads another's tables.

`run` is `core.db.get_items`: each key read consistently or not as its feature asked (per table, as
DynamoDB allows: ask one table one way), UnprocessedKeys asked again with jittered backoff and, still
unanswered after `db.BATCH_GET_ATTEMPTS`, 503 BUSY. A batch of more than 100 keys takes one call per 100.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chalicelib.core.db import BATCH_GET_LIMIT, get_items


class ReadBatch:
    """Keys asked by several features, read together by `run`, answered to each asker."""

    def __init__(self) -> None:
        self._wanted: list[tuple[type, tuple, bool]] = []
        self._found: list[Any] | None = None

    def ask(self, model: type, key: tuple, *, consistent: bool) -> Callable[[], Any]:
        """Add one item's key ((hash,) or (hash, range)); the answer is a callable giving, after `run`,
        what a GetItem would have: the item, or None."""
        if self._found is not None:
            raise RuntimeError("this batch has run: ask every key before running it")
        slot = len(self._wanted)
        self._wanted.append((model, key, consistent))
        return lambda: self._answer(slot)

    def run(self, *, sleep: Callable[[float], None] = time.sleep) -> None:
        """Read every key asked: one BatchGetItem per 100 keys, none when nothing was asked."""
        found: list[Any] = []
        for start in range(0, len(self._wanted), BATCH_GET_LIMIT):
            found.extend(get_items(self._wanted[start:start + BATCH_GET_LIMIT], sleep=sleep))
        self._found = found

    def _answer(self, slot: int) -> Any:
        if self._found is None:
            raise RuntimeError("the batch has not run yet: run it before reading its answers")
        return self._found[slot]
