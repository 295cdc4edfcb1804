"""Distinct visitors per day and funnel step: exact per day, estimated over a range.

A sighting is (day, step, visitor): "this visitor reached this step on this day". Per day it is counted
once, exactly: a marker `seen#<day>#<step>#<visitor>` is put with `attribute_not_exists` in the
transaction that adds 1 to the day's `<step>` counter (counters.commit). The markers a batch would
write are first looked up in one BatchGetItem, so a visitor already counted today (most page views)
costs a read, not a failed transaction.

The same visitors also go into the day's HyperLogLog sketch of the step (sketch.py), which is what a
range of days is estimated from. Every sighting of the batch goes in, counted before or not: adding is
idempotent, so a sketch heals from a crash between a count and its sketch, and a sketch is rewritten
only when one of its registers grew, conditioned on the version read (a concurrent writer makes it merge
again).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from chalicelib.analytics import counters, sketch
from chalicelib.analytics.models import TOTALS, CounterRow, sketch_slot
from chalicelib.core import db
from chalicelib.core.errors import ServiceUnavailable

VISITORS, PRODUCT_VIEWERS, CART_ADDERS, ORDER_CREATORS, PAYERS = (
    "visitors", "product_viewers", "cart_adders", "order_creators", "payers")
REPEAT_BUYERS = "repeat_buyers"  # paid on the day for an order that was not their first
FUNNEL = (VISITORS, PRODUCT_VIEWERS, CART_ADDERS, ORDER_CREATORS, PAYERS)
STEPS = (*FUNNEL, REPEAT_BUYERS)
SKETCH_ATTEMPTS = 5


@dataclass(frozen=True)
class Sighting:
    day: str
    step: str
    visitor: str  # "u:<user_id>" for a buyer, "d:<device_id>" for a device without a buyer token

    @property
    def key(self) -> str:
        return f"seen#{self.day}#{self.step}#{self.visitor}"


def buyer(user_id: str) -> str:
    return f"u:{user_id}"


def device(device_id: str) -> str:
    return f"d:{device_id}"


def record(sightings: Iterable[Sighting]) -> int:
    """Counts the sightings not counted before and adds every one to its day's sketch; returns those counted now."""
    unique = list(dict.fromkeys(sightings))
    if not unique:
        return 0
    present = counters.marks_present(s.key for s in unique)
    facts = [counters.Fact(s.key).add(s.day, TOTALS, s.step, 1) for s in unique if s.key not in present]
    counted = len(counters.commit(facts, looked_up=True))
    add_to_sketches(unique)
    return counted


def add_to_sketches(sightings: list[Sighting]) -> None:
    members: dict[tuple[str, str], set[str]] = defaultdict(set)
    for sighting in sightings:
        members[(sighting.day, sketch_slot(sighting.step))].add(sighting.visitor)
    stored = counters.read_rows(members, consistent=True)
    for row, visitors in members.items():
        _merge_into(row, visitors, stored.get(row))


def _merge_into(row: tuple[str, str], visitors: set[str], current: dict | None) -> None:
    for _ in range(SKETCH_ATTEMPTS):
        registers = sketch.decode(current.get("registers") if current else None)
        if not sketch.add(registers, sorted(visitors)):
            return  # every visitor was in it already
        version = int(current.get("version", 0)) if current else 0
        if _write(row, registers, version):
            return
        current = counters.read_rows([row], consistent=True).get(row)
    raise ServiceUnavailable(f"the sketch {row} is changing fast, retry shortly", code="BUSY")


def _write(row: tuple[str, str], registers: bytearray, version: int) -> bool:
    from pynamodb.exceptions import UpdateError

    condition = CounterRow.version == version if version else CounterRow.version.does_not_exist()
    try:
        CounterRow(*row).update(actions=[CounterRow.registers.set(sketch.encode(registers)),
                                         CounterRow.version.set(version + 1)], condition=condition)
        return True
    except UpdateError as exc:
        if db.condition_failed(exc):
            return False
        raise
