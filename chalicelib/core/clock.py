"""The one clock. Code asks `clock.now()`; tests swap in a FrozenClock."""
from __future__ import annotations

import datetime as _dt
import threading

UTC = _dt.UTC


class SystemClock:
    def now(self) -> _dt.datetime:
        return _dt.datetime.now(UTC)

    def timestamp(self) -> float:
        return self.now().timestamp()


class FrozenClock(SystemClock):
    """A clock that moves only when told to."""

    def __init__(self, start: _dt.datetime | str = "2026-01-01T00:00:00Z"):
        if isinstance(start, str):
            start = parse_iso(start)
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> _dt.datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0, **delta: float) -> _dt.datetime:
        with self._lock:
            self._now += _dt.timedelta(seconds=seconds, **delta)
            return self._now

    def set(self, moment: _dt.datetime | str) -> None:
        with self._lock:
            self._now = (parse_iso(moment) if isinstance(moment, str) else moment).astimezone(UTC)


_current: SystemClock = SystemClock()


def now() -> _dt.datetime:
    return _current.now()


def timestamp() -> float:
    return _current.timestamp()


def use(clock: SystemClock) -> SystemClock:
    """Install `clock` as the mall's clock; returns the previous one."""
    global _current
    previous, _current = _current, clock
    return previous


def iso(moment: _dt.datetime) -> str:
    """ISO-8601 UTC with a Z and millisecond precision, as the API shows times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> _dt.datetime:
    moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time without a timezone: {text!r}")
    return moment.astimezone(UTC)
