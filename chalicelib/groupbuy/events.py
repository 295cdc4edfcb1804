"""The events a group's end emits (the groupbuys table's stream), in a named, versioned shape.

`GroupEvent` is what a consumer (notifications, insights) reads: `type` is
`groupbuy.group.succeeded` or `groupbuy.group.failed`, `version` is the shape's
version (a field added keeps it; a field renamed or removed makes a new one).
It is derived from the stream record's images, so every consumer sees the same
event however often the record is delivered.

The settlement handler here is idempotent twice over: each order's settlement
is a move conditioned on the order's status (settlement.py), and the event's own
effects (its log line, its metric) happen once per group and outcome, behind a
conditional marker `effect#groupbuy#<group_id>#<status>`.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from chalicelib.core import clock, metrics
from chalicelib.core.db import condition_failed
from chalicelib.core.events import image
from chalicelib.core.models import IdempotencyRecord
from chalicelib.groupbuy.models import FAILED, SUCCEEDED

log = logging.getLogger("micromall.groupbuy")

EVENT_VERSION = 1
GROUP_SUCCEEDED = "groupbuy.group.succeeded"
GROUP_FAILED = "groupbuy.group.failed"
MARKER_TTL = timedelta(days=2)  # beyond a stream's 24 hours of redelivery


@dataclass(frozen=True)
class GroupEvent:
    """A group succeeded or failed. Members are named by user id; each buyer's order is theirs to read."""
    type: str  # GROUP_SUCCEEDED or GROUP_FAILED
    version: int
    group_id: str
    campaign_id: str
    leader_id: str
    product_id: str
    sku_id: str
    title: str
    group_size: int
    paid_members: int
    group_price: int  # fen
    closed_at: str  # ISO-8601 UTC

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def group_event(record: Any) -> GroupEvent | None:
    """The event a stream record carries: a group that just became SUCCEEDED or FAILED, else None."""
    old, new = image(record, "old") or {}, image(record, "new") or {}
    status = new.get("status")
    if status not in (SUCCEEDED, FAILED) or old.get("status") == status:
        return None
    return GroupEvent(type=GROUP_SUCCEEDED if status == SUCCEEDED else GROUP_FAILED, version=EVENT_VERSION,
                      group_id=new["group_id"], campaign_id=new["campaign_id"], leader_id=new["leader_id"],
                      product_id=new["product_id"], sku_id=new["sku_id"], title=new["title"],
                      group_size=int(new["group_size"]), paid_members=int(new["paid_members"]),
                      group_price=int(new["group_price"]), closed_at=_iso(new.get("closed_at")))


def _iso(value: Any) -> str:
    """closed_at as stored (PynamoDB's UTC format), in the API's ISO-8601 form."""
    if not value:
        return ""
    from pynamodb.attributes import UTCDateTimeAttribute

    return clock.iso(UTCDateTimeAttribute().deserialize(value))


def handle_group_records(records: Iterable[Any]) -> list[GroupEvent]:
    """Settle the groups that just ended and announce each once; returns the events seen in the batch."""
    from chalicelib.groupbuy.settlement import settle_group

    events = [event for event in (group_event(record) for record in records) if event is not None]
    for event in events:
        _announce_once(event)
        settle_group(event.group_id)  # the scheduled run settles whatever this leaves
    return events


def _announce_once(event: GroupEvent) -> bool:
    marker = IdempotencyRecord(f"effect#groupbuy#{event.group_id}#{event.type}",
                               expiration=clock.now() + MARKER_TTL, status="COMPLETED")
    try:
        marker.save(condition=IdempotencyRecord.id.does_not_exist())
    except Exception as exc:  # noqa: BLE001
        if not condition_failed(exc):
            raise
        return False  # announced by an earlier delivery
    log.info("%s v%d: group %s, %d of %d paid", event.type, event.version, event.group_id, event.paid_members,
             event.group_size)
    metrics.count("GroupSucceeded" if event.type == GROUP_SUCCEEDED else "GroupFailed")
    return True
