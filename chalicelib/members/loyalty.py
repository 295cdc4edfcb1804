"""A buyer's standing as other features need it: level and discount for pricing, points to spend."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)
from chalicelib.members import levels, points
from chalicelib.members.points import add_redemption

if TYPE_CHECKING:
    from chalicelib.core.batch_reads import ReadBatch
    from chalicelib.members.models import LevelTableModel, MemberAccountModel

__all__ = ["PricingAccount", "ask_pricing_account", "add_redemption"]


@dataclass(frozen=True)
class PricingAccount:
    level: int
    discount_percent: int
    growth: int
    points: int


def ask_pricing_account(batch: ReadBatch, user_id: str) -> Callable[[], PricingAccount]:
    """The buyer's level, discount and points, read in `batch` with other features' reads: the buyer's
    account (consistently: the points about to be spent) and the level table (eventually)."""
    model, key, consistent = points.account_key(user_id)
    account = batch.ask(model, key, consistent=consistent)
    model, key, consistent = levels.TABLE_KEY
    table = batch.ask(model, key, consistent=consistent)
    return lambda: _pricing_account(user_id, account(), table())


def _pricing_account(user_id: str, account_row: MemberAccountModel | None,
                     table_row: LevelTableModel | None) -> PricingAccount:
    account = points.account_or_empty(user_id, account_row)
    table, _ = levels.levels_in(table_row)
    growth = int(account.growth or 0)
    level = levels.level_for(growth, table)
    return PricingAccount(level=level.level, discount_percent=level.discount_percent, growth=growth,
                          points=int(account.points or 0))
