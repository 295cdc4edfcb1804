"""Member levels: five levels with a growth threshold and a member discount, set by the merchant.

A buyer's level is not stored: it is the highest level whose threshold their growth reaches,
judged on every read against the current table, so it follows growth both ways (a refund that
takes growth back can lower it) and follows the merchant's edits at once.
"""
from __future__ import annotations

from pynamodb.exceptions import PutError

from chalicelib.core import clock
from chalicelib.core.db import condition_failed, get_or_none, until_committed
from chalicelib.core.errors import BadRequest
from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)
from chalicelib.core.views import View
from chalicelib.members.models import LevelEntry, LevelTableModel

TABLE_ID = "LEVELS"
LEVEL_COUNT = 5


@dataclass(frozen=True)
class Level:
    level: int
    name: str
    growth_threshold: int  # yuan paid for completed orders
    discount_percent: int  # percent off every line


DEFAULT_LEVELS = (
    Level(1, "普通会员", 0, 0),
    Level(2, "白银会员", 500, 2),
    Level(3, "黄金会员", 2000, 5),
    Level(4, "铂金会员", 5000, 8),
    Level(5, "钻石会员", 20000, 12),
)


class LevelView(View):
    level: int
    name: str
    growth_threshold: int
    discount_percent: int


class LevelTable(View):
    levels: list[LevelView]
    version: int  # 0 while the defaults stand


def current_levels() -> tuple[list[Level], int]:
    """The levels in force and their version (0: the defaults, never saved)."""
    return levels_in(get_or_none(LevelTableModel, TABLE_ID, consistent=False))


TABLE_KEY = (LevelTableModel, (TABLE_ID,), False)  # the level table's item, for core.db.get_items


def levels_in(table: LevelTableModel | None) -> tuple[list[Level], int]:
    """The levels a read of the level table's item (None: never saved) holds, and their version."""
    if table is None:
        return list(DEFAULT_LEVELS), 0
    return [Level(int(e.level), e.name, int(e.growth_threshold), int(e.discount_percent)) for e in table.levels], \
        int(table.version)


def level_table() -> LevelTable:
    levels, version = current_levels()
    return LevelTable(levels=[LevelView(**vars(level)) for level in levels], version=version)


def level_for(growth: int, levels: list[Level]) -> Level:
    """The highest level whose threshold `growth` reaches (the first level's threshold is 0)."""
    reached = [level for level in levels if level.growth_threshold <= growth]
    return reached[-1] if reached else levels[0]


def replace_levels(levels: list[Level], *, actor: str) -> LevelTable:
    """Replace the table whole: five levels 1-5 in order, thresholds strictly increasing from 0, discounts
    0-100 percent and never lower at a higher level (400 INVALID_LEVELS otherwise)."""
    problem = _problem(levels)
    if problem:
        raise BadRequest(problem, code="INVALID_LEVELS")

    def attempt() -> LevelTable | None:
        existing = get_or_none(LevelTableModel, TABLE_ID)
        read_version = int(existing.version) if existing is not None else 0
        table = LevelTableModel(TABLE_ID, levels=[LevelEntry(**vars(level)) for level in levels],
                                version=read_version + 1, updated_at=clock.now(), updated_by=actor)
        condition = LevelTableModel.table_id.does_not_exist() if existing is None \
            else LevelTableModel.version == read_version
        try:
            table.save(condition=condition)
        except PutError as exc:
            if condition_failed(exc):
                return None
            raise
        return level_table_of(levels, read_version + 1)

    return until_committed(attempt)


def level_table_of(levels: list[Level], version: int) -> LevelTable:
    return LevelTable(levels=[LevelView(**vars(level)) for level in levels], version=version)


def _problem(levels: list[Level]) -> str | None:
    if [level.level for level in levels] != list(range(1, LEVEL_COUNT + 1)):
        return f"send exactly {LEVEL_COUNT} levels, numbered 1 to {LEVEL_COUNT} in order"
    if levels[0].growth_threshold != 0:
        return "level 1 starts at growth 0"
    thresholds = [level.growth_threshold for level in levels]
    if any(later <= earlier for earlier, later in zip(thresholds, thresholds[1:], strict=False)):
        return "growth thresholds must increase strictly from level to level"
    discounts = [level.discount_percent for level in levels]
    if any(not 0 <= discount <= 100 for discount in discounts):
        return "discount_percent is a percent off, 0-100"
    if any(later < earlier for earlier, later in zip(discounts, discounts[1:], strict=False)):
        return "a higher level cannot have a smaller discount"
    if any(not level.name.strip() for level in levels):
        return "every level needs a name"
    return None
