"""Who belongs to which segment: the thresholds and the one function that applies them.

- NEW: registered within `new_days` (default 7);
- ACTIVE: paid within `active_days` (default 30);
- DORMANT: paid before, but not within `dormant_days` (default 90);
- HIGH_VALUE: kept at least `high_value_fen` (default 100000 fen = ¥1000) of what they paid within
  `high_value_days` (default 365).

"Within N days" includes the moment exactly N days ago. A buyer who last paid between `active_days` and
`dormant_days` ago is in neither ACTIVE nor DORMANT (lapsing). Payment times count every paid order, a
refunded one too (the buyer did come and pay); money is net of refunds. The high-value window is counted
in whole UTC days of payment: the day `high_value_days` ago counts whole.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.segments.models import ACTIVE, DORMANT, HIGH_VALUE, NEW

MAX_WINDOW_DAYS = 365  # the most days `paid_by_day` keeps (and so the longest high-value window)


@dataclass(frozen=True)
class Thresholds:
    new_days: int = 7
    active_days: int = 30
    dormant_days: int = 90
    high_value_fen: int = 100_000
    high_value_days: int = 365
    version: int = 0  # 0: the defaults, never saved

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Thresholds:
        return cls(**{name: int(data[name]) for name in cls.__dataclass_fields__ if name in data})


@dataclass(frozen=True)
class Figures:
    """What the rules look at for one buyer (None: never paid)."""
    registered_at: datetime | None
    first_paid_at: datetime | None = None
    last_paid_at: datetime | None = None
    paid_by_day: dict[str, int] | None = None


def within(moment: datetime | None, days: int, now: datetime) -> bool:
    return moment is not None and now - moment <= timedelta(days=days)


def window_total(paid_by_day: dict[str, int] | None, days: int, now: datetime) -> int:
    """Fen kept of what was paid on the UTC days from `days` ago through today."""
    first_day = (now - timedelta(days=days)).date().isoformat()
    return sum(int(fen) for day, fen in (paid_by_day or {}).items() if day >= first_day)


def segments_of(figures: Figures, thresholds: Thresholds, now: datetime) -> set[str]:
    found = set()
    if within(figures.registered_at, thresholds.new_days, now):
        found.add(NEW)
    if within(figures.last_paid_at, thresholds.active_days, now):
        found.add(ACTIVE)
    if figures.last_paid_at is not None and not within(figures.last_paid_at, thresholds.dormant_days, now):
        found.add(DORMANT)
    if window_total(figures.paid_by_day, thresholds.high_value_days, now) >= thresholds.high_value_fen:
        found.add(HIGH_VALUE)
    return found


def definition(segment: str, thresholds: Thresholds) -> str:
    """The rule in words, as the console shows it."""
    t = thresholds
    return {
        NEW: f"registered within the last {t.new_days} days",
        ACTIVE: f"paid within the last {t.active_days} days",
        DORMANT: f"paid before, but not within the last {t.dormant_days} days",
        HIGH_VALUE: f"kept at least {t.high_value_fen} fen of what they paid in the last {t.high_value_days} days",
    }[segment]


def day_of(moment: datetime) -> str:
    return moment.date().isoformat()


def kept_days(paid_by_day: dict[str, int], now: datetime) -> dict[str, int]:
    """`paid_by_day` without the days no window can reach any more (and without days netted to nothing)."""
    oldest: date = (now - timedelta(days=MAX_WINDOW_DAYS + 1)).date()
    return {day: fen for day, fen in paid_by_day.items() if day >= oldest.isoformat() and fen != 0}
