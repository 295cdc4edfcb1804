"""Segments as the console reads and tunes them: thresholds, each segment's snapshot, a segment's members.

Reads never scan: a segment list is a few GetItems, a members page one Query of the segment's partition,
then one BatchGetItem of those buyers' facts and one of their profiles (through members' roster). Answers
are plain dicts; `chalicelib.segments.views` only documents them.
"""
from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PutError

from chalicelib.core import clock, config
from chalicelib.core.db import batch_get, condition_failed, get_or_none, until_committed
from chalicelib.core.errors import BadRequest, NotFound
from chalicelib.core.masking import mask_name
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.segments import rules
from chalicelib.segments.models import (
    SEGMENTS,
    THRESHOLDS_KEY,
    BuyerFactsModel,
    SegmentMemberModel,
    SegmentSettingsModel,
    SegmentSnapshotModel,
)
from chalicelib.segments.rules import Thresholds

DEFAULT_REFRESH_MINUTES = 60
NAMES = {"NEW": "新客", "ACTIVE": "活跃客", "DORMANT": "沉睡客", "HIGH_VALUE": "高价值客"}


def refresh_minutes() -> int:
    """MALL_SEGMENTS_REFRESH_MINUTES: how old a computation may grow before the schedule redoes it (0: every run)."""
    return max(0, config.env_int("MALL_SEGMENTS_REFRESH_MINUTES", DEFAULT_REFRESH_MINUTES))


# --- thresholds -------------------------------------------------------------------------

def current_thresholds() -> Thresholds:
    return _thresholds_of(get_or_none(SegmentSettingsModel, THRESHOLDS_KEY))


def _thresholds_of(saved: SegmentSettingsModel | None) -> Thresholds:
    return Thresholds() if saved is None else Thresholds.of(saved.attribute_values)


def thresholds_view() -> dict[str, Any]:
    return _thresholds_view(get_or_none(SegmentSettingsModel, THRESHOLDS_KEY))


def _thresholds_view(saved: SegmentSettingsModel | None) -> dict[str, Any]:
    return {**_thresholds_of(saved).as_dict(), "updated_at": _iso(saved.updated_at) if saved else None,
            "updated_by": saved.updated_by if saved else None, "refresh_minutes": refresh_minutes()}


def save_thresholds(new: Thresholds, *, actor: str) -> dict[str, Any]:
    """Replace the thresholds (version + 1); the next scheduled run recomputes every segment with them."""
    if new.dormant_days < new.active_days:
        raise BadRequest("dormant_days must be at least active_days (a buyer cannot be active and dormant at once)",
                         code="INVALID_THRESHOLDS")

    def attempt() -> dict[str, Any] | None:
        read = get_or_none(SegmentSettingsModel, THRESHOLDS_KEY)
        read_version = int(read.version or 0) if read is not None else 0
        item = SegmentSettingsModel(THRESHOLDS_KEY, new_days=new.new_days, active_days=new.active_days,
                                    dormant_days=new.dormant_days, high_value_fen=new.high_value_fen,
                                    high_value_days=new.high_value_days, version=read_version + 1,
                                    updated_at=clock.now(), updated_by=actor)
        condition = SegmentSettingsModel.name.does_not_exist() if read is None else \
            SegmentSettingsModel.version == read_version
        try:
            item.save(condition=condition)
        except PutError as exc:
            if condition_failed(exc):
                return None
            raise
        return _thresholds_view(item)

    return until_committed(attempt)


# --- segments ---------------------------------------------------------------------------

def require_segment(segment: str) -> str:
    if segment not in SEGMENTS:
        raise NotFound(f"no segment {segment!r}; segments: {', '.join(SEGMENTS)}", code="SEGMENT_NOT_FOUND")
    return segment


def snapshot(segment: str) -> SegmentSnapshotModel | None:
    return get_or_none(SegmentSnapshotModel, segment, consistent=False)


def segment_list() -> dict[str, Any]:
    """Each segment's rule under the current thresholds, its size and when it was computed (and with what)."""
    saved = get_or_none(SegmentSettingsModel, THRESHOLDS_KEY)
    thresholds = _thresholds_of(saved)
    snapshots = {row.segment: row for row in batch_get(SegmentSnapshotModel, [(name,) for name in SEGMENTS])}
    items = []
    for segment in SEGMENTS:
        row = snapshots.get(segment)
        computed_with = Thresholds.of(row.thresholds) if row is not None else None
        items.append({"segment": segment, "name": NAMES[segment], "definition": rules.definition(segment, thresholds),
                      "size": int(row.size) if row is not None else 0,
                      "computed_at": _iso(row.computed_at) if row is not None else None,
                      "computed_with": computed_with.as_dict() if computed_with is not None else None,
                      # the thresholds changed since: the next scheduled run recomputes it
                      "stale": computed_with is None or computed_with.version != thresholds.version})
    return {"thresholds": _thresholds_view(saved), "items": items}


def members_after(segment: str, after: str | None, limit: int) -> list[str]:
    """Up to `limit` user ids of the segment's members after `after`, in user_id order (one Query)."""
    condition = SegmentMemberModel.user_id > after if after else None
    return [row.user_id for row in SegmentMemberModel.query(segment, range_key_condition=condition, limit=limit,
                                                            page_size=limit)]


def members_page(segment: str, cursor: str | None, limit: int) -> dict[str, Any]:
    """A page of the segment's members with their figures; nicknames masked as every console list masks them."""
    from chalicelib.members import roster

    require_segment(segment)
    after = decode_cursor(cursor)
    condition = SegmentMemberModel.user_id > after if after else None
    rows = list(SegmentMemberModel.query(segment, range_key_condition=condition, limit=limit + 1,
                                         page_size=limit + 1))
    page = rows[:limit]
    user_ids = [row.user_id for row in page]
    facts = {row.user_id: row for row in batch_get(BuyerFactsModel, [(user_id,) for user_id in user_ids])}
    profiles = roster.live_profiles(user_ids)
    thresholds, now = current_thresholds(), clock.now()
    row_of = snapshot(segment)
    return {"segment": segment, "computed_at": _iso(row_of.computed_at) if row_of is not None else None,
            "items": [_member(row, facts.get(row.user_id), profiles.get(row.user_id), thresholds, now) for row in page],
            "next_cursor": encode_cursor(page[-1].user_id) if len(rows) > limit else None}


def _member(row: SegmentMemberModel, facts: BuyerFactsModel | None, profile: Any, thresholds: Thresholds,
            now) -> dict[str, Any]:
    return {
        "user_id": row.user_id,
        "nickname": mask_name(profile.nickname) if profile is not None else None,
        "account_deleted": profile is None,  # since the last refresh; the next one drops the buyer
        "registered_at": _iso(profile.registered_at) if profile is not None else None,
        "joined_at": _iso(row.joined_at),
        "first_paid_at": _iso(facts.first_paid_at) if facts else None,
        "last_paid_at": _iso(facts.last_paid_at) if facts else None,
        "paid_orders": int(facts.paid_orders or 0) if facts else 0,
        "refunded_orders": int(facts.refunded_orders or 0) if facts else 0,
        "paid_total": int(facts.paid_total or 0) if facts else 0,
        "high_value_window_total": rules.window_total(facts.paid_by_day, thresholds.high_value_days, now)
        if facts else 0,
    }


def _iso(moment) -> str | None:
    return clock.iso(moment) if moment is not None else None
