"""Who is in which segment, at and around each threshold (the rules alone: no tables)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.core.clock import parse_iso
from chalicelib.segments.rules import Figures, Thresholds, kept_days, segments_of, window_total

NOW = parse_iso("2026-11-25T04:00:00Z")
DEFAULTS = Thresholds()
SECOND = timedelta(seconds=1)


def days_ago(days: float):
    return NOW - timedelta(days=days)


def paid(last_paid_at, by_day=None) -> Figures:
    return Figures(registered_at=days_ago(400), first_paid_at=last_paid_at, last_paid_at=last_paid_at,
                   paid_by_day=by_day or {})


def test_defaults_are_the_issues():
    assert (DEFAULTS.new_days, DEFAULTS.active_days, DEFAULTS.dormant_days, DEFAULTS.high_value_fen,
            DEFAULTS.high_value_days) == (7, 30, 90, 100_000, 365)


@pytest.mark.parametrize("registered_at, expected", [
    (days_ago(0), True), (days_ago(7), True), (days_ago(7) - SECOND, False), (days_ago(30), False)])
def test_new_is_registered_within_new_days_the_boundary_included(registered_at, expected):
    assert ("NEW" in segments_of(Figures(registered_at), DEFAULTS, NOW)) is expected


def test_a_buyer_who_never_paid_is_neither_active_nor_dormant_nor_high_value():
    assert segments_of(Figures(days_ago(100)), DEFAULTS, NOW) == set()


@pytest.mark.parametrize("last_paid_at, expected", [
    (days_ago(0), {"ACTIVE"}),
    (days_ago(30), {"ACTIVE"}),
    (days_ago(30) - SECOND, set()),  # lapsing: between active_days and dormant_days
    (days_ago(90), set()),
    (days_ago(90) - SECOND, {"DORMANT"}),
    (days_ago(1000), {"DORMANT"}),
])
def test_active_and_dormant_follow_the_last_payment(last_paid_at, expected):
    assert segments_of(paid(last_paid_at), DEFAULTS, NOW) == expected


def test_high_value_counts_the_money_kept_within_the_window_by_day_of_payment():
    last = days_ago(200)
    at_threshold = {days_ago(365).date().isoformat(): 60_000, days_ago(200).date().isoformat(): 40_000}
    assert "HIGH_VALUE" in segments_of(paid(last, at_threshold), DEFAULTS, NOW)
    one_fen_short = {**at_threshold, days_ago(200).date().isoformat(): 39_999}
    assert "HIGH_VALUE" not in segments_of(paid(last, one_fen_short), DEFAULTS, NOW)
    a_day_too_old = {days_ago(366).date().isoformat(): 60_000, days_ago(200).date().isoformat(): 40_000}
    assert "HIGH_VALUE" not in segments_of(paid(last, a_day_too_old), DEFAULTS, NOW)


def test_thresholds_move_every_boundary():
    tight = Thresholds(new_days=1, active_days=3, dormant_days=10, high_value_fen=500, high_value_days=2)
    assert segments_of(Figures(days_ago(2)), tight, NOW) == set()
    assert segments_of(paid(days_ago(3), {NOW.date().isoformat(): 500}), tight, NOW) == {"ACTIVE", "HIGH_VALUE"}
    assert segments_of(paid(days_ago(11), {days_ago(11).date().isoformat(): 500}), tight, NOW) == {"DORMANT"}


def test_days_beyond_any_window_and_days_netted_to_nothing_are_not_kept():
    kept = kept_days({days_ago(367).date().isoformat(): 100, days_ago(365).date().isoformat(): 100,
                      NOW.date().isoformat(): 0}, NOW)
    assert kept == {days_ago(365).date().isoformat(): 100}
    assert window_total(kept, 365, NOW) == 100 and window_total(kept, 364, NOW) == 0
