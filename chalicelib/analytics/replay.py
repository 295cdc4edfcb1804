"""Counting the past: the facts of orders as they stand now, each counted once together with the live stream's.

The backfill reads orders (through checkout's `history.orders_placed_between`) and names each fact exactly as the
orders stream does (chalicelib/analytics/orders.py): `order#<id>#created`, `order#<id>#paid`,
`refund#<out_refund_no>`, `buyer#<user_id>`, `seen#<day>#<step>#<visitor>`. Whichever of the stream and the
backfill commits a fact's marker first counts it; the other finds the marker and adds nothing.

- **Placed**: the order counts on its creation day with the status it has now. Its marker is put with the markers
  of every version it went through (`order#<id>#v2` .. `v<version>`, all or none), so a status move of those
  versions that the stream delivers later is skipped, and a move after them is counted from the status seen
  here. When the stream counted the order's placing first, the order is the stream's. When it counted only moves
  (the order was placed before analytics counted), they add up to -1 in the status the first of them left and +1
  in the status now: the backfill counts the order +1 in that first status, which the move's marker keeps.
- **Paid, refunded, first payment, the funnel's steps**: the stream's own facts, from the order's current image.

**Markers expire** after MARK_DAYS (models.py). A fact of a day the live stream was already counting
(`live_since` on) is guarded by its marker only while that marker may still exist: facts of the last
MARK_DAYS - 2 days (`fresh_from` on; 2 days spare for time zones and TTL). Facts in between are left to the live
count (`left_to_live`) and never counted twice. An order placed before `live_since` that changed since also keeps
its status out unless it is that recent: the stream may have counted its moves, and their markers may be gone.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.analytics import counters, distinct, sink
from chalicelib.analytics.counters import Fact
from chalicelib.analytics.days import day_of
from chalicelib.analytics.models import TOTALS
from chalicelib.analytics.orders import Batch, as_time, repeat_buyers, settled_refunds


@dataclass(frozen=True)
class Window:
    live_since: str  # the first shop day the live stream counted orders on
    fresh_from: str  # facts of this day on: any live marker of theirs still exists

    def countable(self, day: str) -> bool:
        return day < self.live_since or day >= self.fresh_from


@dataclass
class Tally:
    orders_read: int = 0
    counted: int = 0
    already_counted: int = 0
    left_to_live: int = 0

    def as_adds(self) -> dict[str, int]:
        return {"orders_read": self.orders_read, "counted": self.counted, "already_counted": self.already_counted,
                "left_to_live": self.left_to_live}


def replay(orders: list[dict[str, Any]], window: Window) -> Tally:
    """Counts the facts of `orders` (plain images) that nobody counted before; returns what became of them."""
    batch, tally = Batch(), Tally(orders_read=len(orders))
    placed: dict[str, Fact] = {}  # a placed fact's key -> the same fact without its status
    for order in orders:
        fact, without_status = _placed(batch, order, window)
        placed[fact.key] = without_status
        if order.get("paid_at"):
            batch.paid(order)
        for refund in settled_refunds({}, order):
            batch.refunded(order, refund)
    facts = [fact for fact in batch.facts if window.countable(fact_day(fact))]
    tally.left_to_live = len(batch.facts) - len(facts)
    counted = counters.commit(facts)
    counted += _placed_after_live_moves(facts, counted, placed)
    tally.counted = len(counted)
    tally.already_counted = len(facts) - len(counted)
    payments = [payment for payment in batch.payments if window.countable(payment[2])]
    sightings = [s for s in batch.sightings + repeat_buyers(payments, counted) if window.countable(s.day)]
    distinct.record(sightings)
    keys = {fact.key for fact in counted}
    events = [event for event in batch.events if event["event_id"] in keys]
    if events:
        sink.current().put(events)
    return tally


def _placed(batch: Batch, order: dict[str, Any], window: Window) -> tuple[Fact, Fact]:
    """Adds the order's placed fact to the batch: with its status now and its versions' markers when no live move
    of it can have lost its marker, else without its status. Returns it, and it without its status."""
    batch.created(order)
    fact = batch.facts[-1]
    status = f"status#{order['status']}"
    without_status = replace(fact, adds=defaultdict(dict, {
        row: {name: delta for name, delta in deltas.items() if name != status} for row, deltas in fact.adds.items()}))
    changed_while_live = day_of(as_time(order.get("updated_at") or order["created_at"])) >= window.live_since
    if fact_day(fact) >= window.fresh_from or not changed_while_live:
        fact.also_marks = tuple(f"order#{order['order_id']}#v{version}" for version in range(2, _version(order) + 1))
        return fact, without_status
    batch.facts[-1] = without_status  # the stream may have counted its moves, and their markers may be gone
    return without_status, without_status


def _placed_after_live_moves(facts: list[Fact], counted: list[Fact], placed: dict[str, Fact]) -> list[Fact]:
    """Orders whose status could not go in because the stream counted one of their moves first (never their
    placing: those are left as they are). The live moves add up to -1 in the status the first of them left and +1
    in the status now, so the order counts +1 in that first status, which its marker keeps (`note`)."""
    done = {fact.key for fact in counted}
    missed = [fact for fact in facts if fact.also_marks and fact.key not in done]
    if not missed:
        return []
    present = counters.marks_present([mark for fact in missed for mark in fact.marks], consistent=True)
    fallbacks = []
    for fact in missed:
        if fact.key in present:
            continue  # the stream counted its placing: everything after is the stream's
        without_status = placed[fact.key]
        first_move = next((present[mark] for mark in fact.also_marks if mark in present), {})
        if first_move.get("note"):
            without_status.add(fact_day(fact), TOTALS, f"status#{first_move['note']}", 1)
        fallbacks.append(without_status)
    return counters.commit(fallbacks, looked_up=True)


def _version(order: dict[str, Any]) -> int:
    return int(order.get("version") or 1)


def fact_day(fact: Fact) -> str:
    """The shop day a fact counts on: every row it moves is of that day."""
    if fact.day:
        return fact.day
    return min(day for day, _ in fact.rows())
