"""Flash-sale edits racing what else moves a sale, with real threads against moto (each DynamoDB call atomic),
repeated: orders racing an edit that lowers the stock never oversell and the shards always add up to the cap;
orders racing an edit of the limit and the payment timeout are each placed under the old terms or the new, never a
mix; an edit racing the end, or other edits, leaves every unit counted once; and an edit whose reply was lost
(tests/faults.py) applies once."""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import timedelta

import pytest

from chalicelib.core import clock
from chalicelib.marketing.flash_views import FlashSaleEdit
from tests.checkout.conftest import Buyer, stock_of
from tests.checkout.test_races import outcome_of, race
from tests.faults import reply_lost_after_commit
from tests.marketing.flash import balanced, edit, flash_order, new_sale, quota, sale_row, totals
from tests.marketing.test_flash_races import buy, orders_of

ROUNDS = 4


@pytest.fixture(autouse=True)
def fresh_cache():
    from chalicelib.marketing import flash_stock

    flash_stock.forget_cached()
    yield
    flash_stock.forget_cached()


def editing(sale: dict, **fields):
    from chalicelib.marketing import flash_edits

    request = FlashSaleEdit.model_validate(fields)
    return lambda: flash_edits.edit_sale(sale["sale_id"], request, actor="boss")


def ending(sale: dict, *, after: float = 0.0):
    from chalicelib.marketing import flash_sales

    def end():
        time.sleep(after)  # the edit reads more before it commits: a head start lets either commit first
        return flash_sales.end_sale(sale["sale_id"])

    return end


def edit_applied(outcome) -> bool:
    return not isinstance(outcome, str)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_orders_racing_an_edit_that_lowers_stock_never_oversell(owner, shop, client, atomic_dynamodb, round_):
    sku = shop.sku(stock=40)
    sale = new_sale(owner, sku, stock=12, per_user_limit=1, shards=4)
    buyers = [Buyer(client, f"U-lower-{round_}-{n}") for n in range(10)]
    outcomes = race([*(buy(b, sale, f"lower-{round_}-{n}") for n, b in enumerate(buyers)), editing(sale, stock=6)])
    edited, placed = outcomes[-1], orders_of(outcomes[:-1])
    assert edit_applied(edited) or edited == "STOCK_BELOW_TAKEN", edited
    cap = 6 if edit_applied(edited) else 12
    assert set(o for o in outcomes[:-1] if isinstance(o, str)) <= {"SOLD_OUT"}, outcomes
    assert len(placed) == min(10, cap) if edit_applied(edited) else len(placed) == 10, (edited, len(placed))
    after = totals(sale["sale_id"])
    assert after["reserved"] == len(placed) <= cap, f"oversold: {after} for a cap of {cap}"
    assert after["available"] == cap - len(placed), "the shards hold the cap less what orders took"
    balanced(sale["sale_id"])
    assert stock_of(sku)["available"] == 40 - cap, "units taken back are regular stock again, once"


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_orders_racing_an_edit_of_the_terms_are_each_placed_under_the_old_or_the_new(owner, shop, client,
                                                                                      atomic_dynamodb, round_):
    from chalicelib.checkout.orders import load_order

    sale = new_sale(owner, shop.sku(stock=60), stock=50, per_user_limit=3, shards=4, payment_timeout_seconds=300)
    buyers = [Buyer(client, f"U-terms-{round_}-{n}") for n in range(4)]
    actions = [buy(b, sale, f"terms-{round_}-{n}-{k}") for n, b in enumerate(buyers) for k in range(3)]
    outcomes = race([*actions, editing(sale, per_user_limit=1, payment_timeout_seconds=60)])
    assert edit_applied(outcomes[-1]), outcomes[-1]
    assert set(o for o in outcomes[:-1] if isinstance(o, str)) <= {"LIMIT_REACHED"}, outcomes
    held = defaultdict(list)
    for view in orders_of(outcomes[:-1]):
        order = load_order(view.order_id)
        held[order.user_id].append(int((order.expires_at - order.created_at).total_seconds()))
    for buyer in buyers:
        timeouts = held[buyer.user_id]
        assert set(timeouts) <= {300, 60} and len(timeouts) <= 3, timeouts
        if 60 in timeouts:  # placed under the new terms: the buyer held nothing, and buys nothing more after
            assert timeouts == [60], f"{buyer.user_id} holds {timeouts}: an order mixed the old terms with the new"
        assert quota(sale["sale_id"], buyer.user_id) == len(timeouts)


@pytest.mark.parametrize("new_stock", [4, 15])
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_an_edit_racing_the_end_and_orders_leaves_every_unit_counted_once(owner, shop, client, atomic_dynamodb, pump,
                                                                         new_stock, round_):
    from chalicelib.checkout import lifecycle

    sku = shop.sku(stock=30)
    sale = new_sale(owner, sku, stock=10, per_user_limit=1, shards=4)
    buyers = [Buyer(client, f"U-edit-end-{round_}-{n}") for n in range(5)]
    outcomes = race([ending(sale, after=0.01 * round_), editing(sale, stock=new_stock),
                     *(buy(b, sale, f"edit-end-{new_stock}-{round_}-{n}") for n, b in enumerate(buyers))])
    ended, edited, placed = outcomes[0], outcomes[1], orders_of(outcomes[2:])
    assert ended.status == "ENDED" and ended.closed_at is not None, ended
    assert edit_applied(edited) or edited in {"SALE_ENDED", "STOCK_BELOW_TAKEN"}, edited
    assert set(o for o in outcomes[2:] if isinstance(o, str)) <= {"SALE_NOT_RUNNING", "SOLD_OUT"}, outcomes
    cap = new_stock if edit_applied(edited) else 10
    pump.drain()
    assert totals(sale["sale_id"]) == {"available": 0, "reserved": len(placed), "sold": 0,
                                       "returned": cap - len(placed)}
    balanced(sale["sale_id"])
    assert stock_of(sku)["available"] == 30 - len(placed)
    for order in placed:
        lifecycle.cancel_unpaid(order.order_id, "BUYER")
    pump.drain()
    pump.drain()
    assert stock_of(sku)["available"] == 30, "every unit back in regular stock, none twice"
    assert totals(sale["sale_id"])["returned"] == cap


@pytest.mark.parametrize("edit_first", [True, False])
def test_an_edit_and_the_end_held_between_read_and_commit_never_interleave(owner, shop, pump, monkeypatch,
                                                                          edit_first):
    """The decisive interleavings, forced: one holds a stale read while the other commits, then commits."""
    from chalicelib.marketing import flash_edits, flash_sales

    sku = shop.sku(stock=30)
    sale = new_sale(owner, sku, stock=10, per_user_limit=1, shards=4)
    held, first_read = (flash_sales, "load_sale") if not edit_first else (flash_edits, "_units_per_shard")
    real = getattr(held, first_read)
    meanwhile = [editing(sale, stock=15) if not edit_first else ending(sale)]

    def read_then_let_the_other_commit(*args):
        result = real(*args)
        if meanwhile:
            meanwhile.pop()()
        return result

    monkeypatch.setattr(held, first_read, read_then_let_the_other_commit)
    outcome = outcome_of(editing(sale, stock=15) if edit_first else ending(sale))
    if edit_first:  # the end committed between the edit's read and its commit: the edit reads again, refused
        assert outcome == "SALE_ENDED", outcome
    else:  # the edit committed between the end's read and its commit: the end closes the edited pool
        assert outcome.status == "ENDED" and outcome.stock == 15, outcome
    cap = 10 if edit_first else 15
    pump.drain()
    assert totals(sale["sale_id"]) == {"available": 0, "reserved": 0, "sold": 0, "returned": cap}
    assert stock_of(sku)["available"] == 30
    balanced(sale["sale_id"])


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_edits_racing_each_other_each_apply_whole(owner, shop, atomic_dynamodb, round_):
    sku = shop.sku(stock=30)
    sale = new_sale(owner, sku, stock=10, per_user_limit=1, shards=4)
    later = clock.iso(clock.now() + timedelta(hours=3))
    outcomes = race([editing(sale, stock=12), editing(sale, stock=14, per_user_limit=2),
                     editing(sale, ends_at=later), editing(sale, payment_timeout_seconds=120)])
    assert all(edit_applied(o) for o in outcomes), outcomes
    row = sale_row(sale["sale_id"])
    assert int(row.version) == 4, "four edits, each its own version"
    assert int(row.stock) in (12, 14) and stock_of(sku)["available"] == 30 - int(row.stock)
    assert (int(row.payment_timeout_seconds), clock.iso(row.ends_at)) == (120, later)
    assert int(row.per_user_limit) == 2
    balanced(sale["sale_id"])


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_raising_the_stock_of_a_sold_out_sale_while_the_crowd_keeps_asking_sells_only_the_units_added(
        owner, shop, client, atomic_dynamodb, pump, frozen_clock, round_):
    sku = shop.sku(stock=30)
    sale = new_sale(owner, sku, stock=2, per_user_limit=1, shards=2)
    assert [flash_order(Buyer(client, f"U-first-{round_}-{n}"), sale).status_code for n in range(2)] == [201, 201]
    pump.drain()
    frozen_clock.advance(seconds=2)
    crowd = [Buyer(client, f"U-again-{round_}-{n}") for n in range(12)]
    outcomes = race([*(buy(b, sale, f"again-{round_}-{n}") for n, b in enumerate(crowd)), editing(sale, stock=5)])
    assert edit_applied(outcomes[-1]), outcomes[-1]
    placed = orders_of(outcomes[:-1])
    assert Counter(o for o in outcomes[:-1] if isinstance(o, str)) == {"SOLD_OUT": 12 - len(placed)}
    assert len(placed) <= 3 and totals(sale["sale_id"])["reserved"] == 2 + len(placed)
    frozen_clock.advance(seconds=2)
    late = [flash_order(Buyer(client, f"U-late-{round_}-{n}"), sale).status_code for n in range(4)]
    assert late.count(201) == 3 - len(placed), "every added unit sells, none more"
    balanced(sale["sale_id"])
    assert stock_of(sku)["available"] == 25


def test_an_edit_whose_reply_was_lost_and_resent_applies_once(owner, shop, capsys):
    sku = shop.sku(stock=30)
    sale = new_sale(owner, sku, stock=10, per_user_limit=1)
    capsys.readouterr()
    with reply_lost_after_commit("TransactWriteItems") as lost:
        response = edit(owner, sale["sale_id"], stock=14, per_user_limit=2)
    assert lost and response.status_code == 200, response.data
    assert (response.data["stock"], response.data["per_user_limit"], response.data["version"]) == (14, 2, 1)
    assert stock_of(sku)["available"] == 16, "4 units moved, not 8"
    assert capsys.readouterr().out.count(f"flash sale {sale['sale_id']} edited by boss") == 1
    balanced(sale["sale_id"])


def test_an_edit_whose_reply_was_lost_is_503_and_sending_it_again_changes_nothing_more(owner, shop):
    sku = shop.sku(stock=30)
    sale = new_sale(owner, sku, stock=10, per_user_limit=1)
    with reply_lost_after_commit("TransactWriteItems", resend=False) as lost:
        response = edit(owner, sale["sale_id"], stock=6)
    assert lost and (response.status_code, response.data["error"]["code"]) == (503, "BUSY"), response.data
    assert stock_of(sku)["available"] == 24, "the edit committed; only its answer was lost"
    again = edit(owner, sale["sale_id"], stock=6)
    assert again.status_code == 200 and (again.data["stock"], again.data["version"]) == (6, 1), again.data
    assert stock_of(sku)["available"] == 24, "4 units given back, not 8"
    balanced(sale["sale_id"])


CONFLICT = ("TransactionConflict",)


def test_an_edit_that_keeps_meeting_transaction_conflicts_is_503_and_changes_nothing(owner, shop):
    from chalicelib.core import db
    from tests.faults import failing_calls, transaction_cancelled

    sku = shop.sku(stock=30)
    sale = new_sale(owner, sku, stock=10, shards=2)
    conflicts = [transaction_cancelled(*CONFLICT * 4)] * db.TRANSACTION_ATTEMPTS
    with failing_calls(db.connection().client, "TransactWriteItems", conflicts) as seen:
        response = edit(owner, sale["sale_id"], stock=12)
    assert (response.status_code, response.data["error"]["code"]) == (503, "BUSY"), response.data
    assert "Retry-After" in response.headers and len(seen) == db.TRANSACTION_ATTEMPTS
    assert int(sale_row(sale["sale_id"]).version) == 0 and stock_of(sku)["available"] == 20
    with failing_calls(db.connection().client, "TransactWriteItems", [transaction_cancelled(*CONFLICT * 4)]):
        assert edit(owner, sale["sale_id"], stock=12).status_code == 200, "one conflict is retried"
    assert stock_of(sku)["available"] == 18


def test_an_edit_overtaken_by_other_edits_every_time_it_reads_is_409_concurrent_edit(owner, shop, monkeypatch):
    from chalicelib.core.db import CHANGE_ATTEMPTS
    from chalicelib.marketing import flash_edits
    from chalicelib.marketing.flash_models import FlashSaleModel

    sale = new_sale(owner, shop.sku(stock=30), stock=10)
    real_units = flash_edits._units_per_shard
    overtaken = []

    def another_edit_commits_meanwhile(*args):
        FlashSaleModel(sale["sale_id"]).update(actions=[FlashSaleModel.version.add(1)])
        overtaken.append(1)
        return real_units(*args)

    monkeypatch.setattr(flash_edits, "_units_per_shard", another_edit_commits_meanwhile)
    response = edit(owner, sale["sale_id"], per_user_limit=2)
    assert (response.status_code, response.data["error"]["code"]) == (409, "CONCURRENT_EDIT"), response.data
    assert len(overtaken) == CHANGE_ATTEMPTS and int(sale_row(sale["sale_id"]).per_user_limit) == 1
