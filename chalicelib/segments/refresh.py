"""The scheduled computation of the segments (and, in the same run, the grants' watchdog: segments/grants.py).

A run recomputes every segment when the last computation is older than MALL_SEGMENTS_REFRESH_MINUTES
(default 60) or the thresholds changed since it; otherwise it does nothing. Computing reads everything,
which a background job may and a request never does: every live account's registration (members' roster,
a Scan of users) and every buyer's facts (a Scan of buyer_facts), then each segment's current members
(a Query of its partition). It writes only the difference: the buyers who joined (`joined_at` = now) and
the deletions of those who left, then each segment's snapshot (size, computed_at, the thresholds used).

The schedule runs one at a time (its reserved concurrency is 1, infra/stages.py), and a run that did overlap
another would compute the same difference from the same data: a put or delete applied twice is the same
item. A run that dies half-way leaves some joins and leaves written: the next one finds the rest.

Memory grows with the buyers in segments (a few hundred bytes each: a million fits the function's 1 GB);
past that, split the scans (Scan's `Segment`/`TotalSegments`) and the segments over several runs.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core import clock
from chalicelib.segments import service
from chalicelib.segments.models import SEGMENTS, BuyerFactsModel, SegmentMemberModel, SegmentSnapshotModel
from chalicelib.segments.rules import Figures, Thresholds, segments_of

log = logging.getLogger("micromall.segments")

SCAN_PAGE = 1000


def due(thresholds: Thresholds, now: datetime) -> bool:
    """Whether the segments should be computed now: never were, thresholds changed, or older than the interval."""
    snapshots = [service.snapshot(segment) for segment in SEGMENTS]
    if any(row is None for row in snapshots):
        return True
    if any(Thresholds.of(row.thresholds).version != thresholds.version for row in snapshots):
        return True
    oldest = min(row.computed_at for row in snapshots)
    return now - oldest >= timedelta(minutes=service.refresh_minutes())


def refresh_if_due() -> dict[str, Any] | None:
    thresholds, now = service.current_thresholds(), clock.now()
    if not due(thresholds, now):
        return None
    return refresh(thresholds, now)


def refresh(thresholds: Thresholds | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Recompute every segment; returns {segment: {"size", "joined", "left"}}."""
    from chalicelib.members import roster

    thresholds, now = thresholds or service.current_thresholds(), now or clock.now()
    facts = {row.user_id: row for row in BuyerFactsModel.scan(page_size=SCAN_PAGE)}
    wanted: dict[str, set[str]] = {segment: set() for segment in SEGMENTS}
    for registration in roster.registrations():  # live accounts only: a deleted one is in no segment
        known = facts.get(registration.user_id)
        figures = Figures(registration.registered_at, known.first_paid_at if known else None,
                          known.last_paid_at if known else None, known.paid_by_day if known else None)
        for segment in segments_of(figures, thresholds, now):
            wanted[segment].add(registration.user_id)
    report = {segment: _rewrite(segment, wanted[segment], thresholds, now) for segment in SEGMENTS}
    log.info("segments computed: %s", {segment: counts["size"] for segment, counts in report.items()})
    return report


def _rewrite(segment: str, wanted: set[str], thresholds: Thresholds, now: datetime) -> dict[str, int]:
    current = {row.user_id for row in SegmentMemberModel.query(segment, attributes_to_get=["user_id"],
                                                                page_size=SCAN_PAGE)}
    joined, left = wanted - current, current - wanted
    with SegmentMemberModel.batch_write() as batch:
        for user_id in sorted(joined):
            batch.save(SegmentMemberModel(segment, user_id, joined_at=now))
        for user_id in sorted(left):
            batch.delete(SegmentMemberModel(segment, user_id))
    SegmentSnapshotModel(segment, size=len(wanted), computed_at=now, thresholds=thresholds.as_dict()).save()
    return {"size": len(wanted), "joined": len(joined), "left": len(left)}
