"""The flash-sale capacity model: the shard count that holds 10,000 reservations a second keeps every pool item
under DynamoDB's per-item write limit, never oversells, and the crowd after the sold-out flag writes nothing."""
from __future__ import annotations

import pytest

from benchmarks.flash_capacity import (
    ITEM_WCU_PER_SECOND,
    shards_for,
    shop_model,
    simulate_sale,
    smallest_holding,
)


def test_the_deploy_rule_gives_enough_shards_for_ten_thousand_reservations_a_second():
    run = simulate_sale(rate=10_000, shards=shards_for(10_000), stock=50_000, seconds=15)
    assert run.holds, f"expected {shards_for(10_000)} shards to hold, got peak {run.peak_item_wcu} WCU/item/s"
    assert run.peak_item_wcu <= ITEM_WCU_PER_SECOND and run.sold == 50_000 and run.lowest_shard == 0
    assert run.writes_after_flag == 0 and run.requests_after_flag > 0, "the crowd after the flag writes nothing"
    assert run.busy == 0


def test_too_few_shards_put_items_above_their_write_limit_but_still_never_oversell():
    run = simulate_sale(rate=10_000, shards=10, stock=50_000, seconds=10)
    assert run.items_over_limit > 0 and not run.holds
    assert run.sold == 50_000 and run.oversold == 0 and run.lowest_shard >= 0


def test_between_the_sell_out_and_the_flag_each_function_spends_at_most_one_write():
    run = simulate_sale(rate=10_000, shards=27, stock=20_000, seconds=6, functions=300)
    assert run.sold_out_at is not None
    assert run.writes_after_sell_out <= 300, run.writes_after_sell_out


@pytest.mark.parametrize("rate", [500, 2_000, 10_000])
def test_the_smallest_holding_shard_count_is_within_the_deploy_rule(rate):
    run = smallest_holding(rate, rate * 3, 5)
    assert run.shards <= shards_for(rate), f"{rate}/s: the model needs {run.shards}, the rule gives {shards_for(rate)}"


def test_the_shop_model_sizes_every_function_and_prices_a_month():
    shop = shop_model(orders_per_day=1_000_000, peak_factor=10)
    assert round(shop.peak_orders_per_second) == 116
    assert {"catalog", "cart", "checkout", "payments", "admin"} <= set(shop.concurrency)
    assert all(count >= 1 for count in shop.concurrency.values())
    assert shop.per_order_write_units > 0 and sum(shop.monthly.values()) > 0
    double = shop_model(orders_per_day=2_000_000, peak_factor=10)
    assert sum(double.monthly.values()) == pytest.approx(2 * sum(shop.monthly.values()))
