"""Checkout races: limited stock is never oversold, one key makes one order, an expiry releases stock once.

Real threads, released together by a barrier, call the checkout services
against moto in-process, with each DynamoDB call atomic (`atomic_dynamodb`) as
real DynamoDB requests are; threads interleave between calls, where the races
live. Every race runs ROUNDS times: a race that passes once proves little.

Free-running threads rarely land every interleaving (a buyer's cancel nearly always
beats a sweep that first queries sixteen index partitions), so the decisive one is
also forced: one actor is held at its commit, holding a stale read of the order,
while another moves the order; then the held one commits and must change nothing.
"""
from __future__ import annotations

import threading
from collections import Counter

import pytest

from chalicelib.checkout import lifecycle, listing, service, statuses, sweeper
from chalicelib.checkout.inputs import OrderSubmission
from chalicelib.checkout.orders import load_order
from chalicelib.core.errors import MallError
from tests.checkout.conftest import Buyer, pay, stock_of

ROUNDS = 8


def outcome_of(action):
    """What `action` returned, or its MallError's code; any other exception as 'unexpected ...'."""
    try:
        return action()
    except MallError as exc:
        return exc.code
    except Exception as exc:  # noqa: BLE001 - any other exception fails the test with its repr
        return f"unexpected {exc!r}"


def race(actions) -> list:
    """Run every action at once; each outcome is what it returned, or its MallError's code."""
    outcomes: list = [None] * len(actions)
    start = threading.Barrier(len(actions))

    def run(index: int) -> None:
        start.wait()
        outcomes[index] = outcome_of(actions[index])

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    unexpected = [outcome for outcome in outcomes if isinstance(outcome, str) and outcome.startswith("unexpected")]
    assert not unexpected, f"expected only results and mall errors, got {unexpected}"
    return outcomes


def submission(buyer: Buyer, items: dict[str, int]) -> OrderSubmission:
    return OrderSubmission.model_validate({
        "address_id": buyer.address_id,
        "items": [{"sku_id": sku_id, "quantity": quantity} for sku_id, quantity in items.items()]})


def submit(buyer: Buyer, items: dict[str, int], key: str):
    request = submission(buyer, items)
    return lambda: service.submit_order(buyer.user_id, request, key)


def all_orders() -> list:
    page = listing.merchant_orders(None, None, 50)
    assert page.next_cursor is None, "expected every order of the test on one page"
    return page.items


def placed(outcomes: list) -> list:
    return [outcome for outcome in outcomes if not isinstance(outcome, str)]


def conserved(sku_id: str, total: int) -> dict[str, int]:
    stock = stock_of(sku_id)
    assert sum(stock.values()) == total, f"expected available + reserved + sold == {total}, got {stock}"
    return stock


# --- many buyers, limited stock -------------------------------------------------------

@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_buyers_racing_for_limited_stock_never_oversell(client, shop, atomic_dynamodb, round_number):
    sku_id = shop.sku(stock=8)
    buyers = [Buyer(client, f"U-racer-{n:02d}") for n in range(24)]

    outcomes = race([submit(buyer, {sku_id: 1}, f"race-key-{n:04d}") for n, buyer in enumerate(buyers)])

    refusals = Counter(outcome for outcome in outcomes if isinstance(outcome, str))
    assert len(placed(outcomes)) == 8 and refusals == {"OUT_OF_STOCK": 16}, \
        f"expected 8 orders and 16 OUT_OF_STOCK, got {len(placed(outcomes))} orders and {dict(refusals)}"
    assert conserved(sku_id, 8) == {"available": 0, "reserved": 8, "sold": 0}
    assert len(all_orders()) == 8, f"expected 8 orders stored, got {len(all_orders())}"


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_buyers_racing_for_two_skus_reserve_both_lines_or_neither(client, shop, atomic_dynamodb, round_number):
    plenty, scarce = shop.sku(stock=20), shop.sku(stock=9)
    buyers = [Buyer(client, f"U-racer-{n:02d}") for n in range(12)]

    outcomes = race([submit(buyer, {plenty: 1, scarce: 2}, f"race-key-{n:04d}") for n, buyer in enumerate(buyers)])

    refusals = Counter(outcome for outcome in outcomes if isinstance(outcome, str))
    assert len(placed(outcomes)) == 4 and refusals == {"OUT_OF_STOCK": 8}, \
        f"expected 4 orders (9 // 2) and 8 OUT_OF_STOCK, got {len(placed(outcomes))} and {dict(refusals)}"
    assert conserved(plenty, 20) == {"available": 16, "reserved": 4, "sold": 0}, \
        "expected the plentiful SKU reserved only for the 4 orders placed"
    assert conserved(scarce, 9) == {"available": 1, "reserved": 8, "sold": 0}


# --- one key, one order ---------------------------------------------------------------

@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_one_key_submitted_concurrently_yields_exactly_one_order(client, shop, atomic_dynamodb, round_number):
    sku_id = shop.sku(stock=50)
    alice = Buyer(client, "U-alice")

    outcomes = race([submit(alice, {sku_id: 3}, "double-tap-key")] * 8)

    assert all(not isinstance(outcome, str) for outcome in outcomes), f"expected 8 answers, got {outcomes}"
    order_ids = {outcome.order_id for outcome in outcomes}
    assert len(order_ids) == 1, f"expected every submit to answer the same order, got {order_ids}"
    assert [order.order_id for order in all_orders()] == list(order_ids), "expected exactly one stored order"
    assert conserved(sku_id, 50) == {"available": 47, "reserved": 3, "sold": 0}, "expected 3 units reserved once"


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_one_key_reused_concurrently_for_different_orders_creates_only_one(client, shop, atomic_dynamodb,
                                                                          round_number):
    sku_id = shop.sku(stock=50)
    alice = Buyer(client, "U-alice")

    outcomes = race([submit(alice, {sku_id: quantity}, "reused-key-01") for quantity in range(1, 9)])

    winners = placed(outcomes)
    refusals = Counter(outcome for outcome in outcomes if isinstance(outcome, str))
    assert len(winners) == 1 and refusals == {"IDEMPOTENCY_KEY_REUSED": 7}, \
        f"expected one order and 7 IDEMPOTENCY_KEY_REUSED, got {len(winners)} and {dict(refusals)}"
    quantity = winners[0].items[0].quantity
    assert len(all_orders()) == 1, "expected exactly one stored order"
    assert conserved(sku_id, 50) == {"available": 50 - quantity, "reserved": quantity, "sold": 0}


# --- the sweeper against itself and against status changes ----------------------------

def expire_all(frozen_clock) -> None:
    frozen_clock.advance(seconds=service.DEFAULT_PAYMENT_TIMEOUT + 1)


def sweep():
    return sweeper.sweep_due_orders()


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_two_sweepers_at_once_cancel_each_expired_order_and_release_its_stock_once(
        client, shop, frozen_clock, atomic_dynamodb, round_number):
    first, second = shop.sku(stock=10), shop.sku(stock=20)
    buyers = [Buyer(client, f"U-late-{n}") for n in range(3)]
    orders = [buyer.placed({first: 1, second: 2}) for buyer in buyers for _ in range(2)]
    assert stock_of(first) == {"available": 4, "reserved": 6, "sold": 0}
    expire_all(frozen_clock)

    reports = race([sweep, sweep])

    expired = sum(report.expired for report in reports)
    assert expired == 6, f"expected the two sweepers to expire 6 orders between them, got {reports}"
    stored = {order.order_id: (order.status, order.cancel_reason) for order in all_orders()}
    assert stored == {order["order_id"]: ("CANCELLED", "TIMEOUT") for order in orders}, \
        f"expected every order CANCELLED by TIMEOUT, got {stored}"
    assert conserved(first, 10) == {"available": 10, "reserved": 0, "sold": 0}, "expected each release applied once"
    assert conserved(second, 20) == {"available": 20, "reserved": 0, "sold": 0}, "expected each release applied once"


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_a_sweep_racing_a_late_payment_ends_paid_or_cancelled_never_both(client, shop, frozen_clock,
                                                                        atomic_dynamodb, round_number):
    sku_id = shop.sku(stock=10)
    order = Buyer(client, "U-late").placed({sku_id: 2})
    expire_all(frozen_clock)

    report, payment = race([sweep, lambda: pay(order["order_id"])])

    final = load_order(order["order_id"])
    stock = conserved(sku_id, 10)
    if final.status == statuses.PAID:
        assert payment.applied and report.expired == 0, f"expected only the payment applied, got {payment}, {report}"
        assert stock == {"available": 8, "reserved": 0, "sold": 2}, f"expected 2 units sold, got {stock}"
    else:
        assert (final.status, final.cancel_reason) == ("CANCELLED", "TIMEOUT"), \
            f"expected PAID or CANCELLED by TIMEOUT, got {final.status} {final.cancel_reason}"
        assert not payment.applied and report.expired == 1, f"expected only the expiry applied, got {payment}, {report}"
        assert stock == {"available": 10, "reserved": 0, "sold": 0}, f"expected 2 units released, got {stock}"


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_a_sweep_racing_the_buyers_cancel_releases_stock_once(client, shop, frozen_clock, atomic_dynamodb,
                                                              round_number):
    sku_id = shop.sku(stock=10)
    buyer = Buyer(client, "U-late")
    order = buyer.placed({sku_id: 2})
    expire_all(frozen_clock)

    report, cancel = race([sweep, lambda: lifecycle.cancel_unpaid(order["order_id"], statuses.BY_BUYER,
                                                                  user_id=buyer.user_id)])

    final = load_order(order["order_id"])
    assert final.status == statuses.CANCELLED, f"expected CANCELLED, got {final.status}"
    if final.cancel_reason == statuses.BY_BUYER:
        assert report.expired == 0 and not isinstance(cancel, str), f"expected only the buyer's cancel, got {cancel}"
    else:
        assert final.cancel_reason == statuses.BY_TIMEOUT, f"expected BUYER or TIMEOUT, got {final.cancel_reason}"
        assert report.expired == 1 and cancel == "INVALID_ORDER_STATUS", \
            f"expected the sweep to win and the buyer's cancel refused with 409, got {report}, {cancel}"
    assert conserved(sku_id, 10) == {"available": 10, "reserved": 0, "sold": 0}, "expected 2 units released once"


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_two_sweeps_a_payment_and_a_cancel_at_once_apply_exactly_one_move(client, shop, frozen_clock,
                                                                          atomic_dynamodb, round_number):
    sku_id = shop.sku(stock=10)
    buyer = Buyer(client, "U-late")
    order = buyer.placed({sku_id: 3})
    order_id = order["order_id"]
    expire_all(frozen_clock)

    first, second, payment, cancel = race([
        sweep, sweep, lambda: pay(order_id),
        lambda: lifecycle.cancel_unpaid(order_id, statuses.BY_BUYER, user_id=buyer.user_id)])

    moves = {"TIMEOUT": first.expired + second.expired, "PAID": int(payment.applied),
             "BUYER": int(not isinstance(cancel, str))}
    assert sum(moves.values()) == 1, f"expected exactly one move applied, got {moves}"
    final = load_order(order_id)
    applied = next(move for move, count in moves.items() if count)
    expected = ("PAID", None) if applied == "PAID" else ("CANCELLED", applied)
    assert (final.status, final.cancel_reason) == expected, \
        f"expected the order to show the move applied ({expected}), got {final.status} {final.cancel_reason}"
    want = {"available": 7, "reserved": 0, "sold": 3} if applied == "PAID" else \
        {"available": 10, "reserved": 0, "sold": 0}
    assert conserved(sku_id, 10) == want, f"expected stock {want} after {applied}"


# --- the same races with the interleaving forced: one actor holds a stale read ----------

class Gate:
    def __init__(self):
        self.reached = threading.Event()
        self.release = threading.Event()


@pytest.fixture
def hold_commit(monkeypatch):
    """`hold_commit(thread_name)`: that thread stops just before its next order move commits (it has read
    the order) until the test sets `release`; `reached` tells the test it got there. Events, no sleeps."""
    from chalicelib.core import db

    real_run = db.run_transaction
    held: dict[str, Gate] = {}

    def gated_run(build, **kwargs):
        gate = held.pop(threading.current_thread().name, None)
        if gate is not None:
            gate.reached.set()
            assert gate.release.wait(timeout=30), "the test never released the held commit"
        return real_run(build, **kwargs)

    # Order moves commit through db.commit_if_conditions_hold, which calls this module-level name.
    monkeypatch.setattr(db, "run_transaction", gated_run)

    def hold(thread_name: str) -> Gate:
        held[thread_name] = held.get(thread_name) or Gate()
        return held[thread_name]
    return hold


def actors(order_id: str, user_id: str) -> dict:
    return {"sweep": sweep, "pay": lambda: pay(order_id),
            "cancel": lambda: lifecycle.cancel_unpaid(order_id, statuses.BY_BUYER, user_id=user_id)}


WINNING_STATE = {"sweep": ("CANCELLED", "TIMEOUT"), "pay": ("PAID", None), "cancel": ("CANCELLED", "BUYER")}


def changed_nothing(actor: str, outcome) -> bool:
    if actor == "sweep":
        return outcome.expired == 0 and outcome.lost_races == 1
    if actor == "pay":
        return not outcome.applied
    return outcome == "INVALID_ORDER_STATUS"


@pytest.mark.parametrize("stale, first", [("sweep", "pay"), ("pay", "sweep"), ("sweep", "cancel"),
                                          ("cancel", "sweep"), ("pay", "cancel"), ("cancel", "pay")])
def test_a_move_committed_while_another_holds_a_stale_read_wins_and_the_stale_one_changes_nothing(
        client, shop, frozen_clock, hold_commit, stale, first):
    sku_id = shop.sku(stock=10)
    buyer = Buyer(client, "U-late")
    order_id = buyer.placed({sku_id: 2})["order_id"]
    expire_all(frozen_clock)
    moves = actors(order_id, buyer.user_id)
    gate = hold_commit(f"stale-{stale}")
    stale_outcome = []
    thread = threading.Thread(name=f"stale-{stale}", target=lambda: stale_outcome.append(outcome_of(moves[stale])))

    thread.start()
    assert gate.reached.wait(timeout=30), f"expected the {stale} to read the order and reach its commit"
    first_outcome = outcome_of(moves[first])
    gate.release.set()
    thread.join()

    assert not changed_nothing(first, first_outcome), f"expected the {first} applied, got {first_outcome}"
    final = load_order(order_id)
    assert (final.status, final.cancel_reason) == WINNING_STATE[first], \
        f"expected the {first} to win ({WINNING_STATE[first]}), got {final.status} {final.cancel_reason}"
    assert changed_nothing(stale, stale_outcome[0]), f"expected the stale {stale} to change nothing, got {stale_outcome}"
    want = {"available": 8, "reserved": 0, "sold": 2} if first == "pay" else {"available": 10, "reserved": 0, "sold": 0}
    assert conserved(sku_id, 10) == want, f"expected stock {want} after the {first} alone"


# --- one app instance serving two requests at once (the local stack's threaded server) --

def test_two_buyers_ordering_at_once_through_one_app_instance_each_get_their_own_order(app, client, shop,
                                                                                       monkeypatch):
    """Chalice keeps the request being served on the app (`current_request`); Lambda serves one request at a
    time, but the local stack's server serves many on threads. It turns the app into a `chalice.local`
    LocalChalice, whose `current_request` is per thread; this test does the same and races two buyers."""
    from chalice.app import RestAPIEventHandler
    from chalice.local import LocalChalice

    monkeypatch.setattr(app, "__class__", type("ThreadedLocalApp", (LocalChalice, app.__class__), {}))

    sku_id = shop.sku(stock=10)
    alice, bob = Buyer(client, "U-alice"), Buyer(client, "U-bob")
    both_arrived = threading.Barrier(2, timeout=30)
    dispatch = RestAPIEventHandler._main_rest_api_handler

    def dispatch_once_both_arrived(handler, event, context):
        both_arrived.wait()  # both requests are in the app; neither view has read its request yet
        return dispatch(handler, event, context)

    monkeypatch.setattr(RestAPIEventHandler, "_main_rest_api_handler", dispatch_once_both_arrived)

    answers = race([lambda: alice.order({sku_id: 1}, key="alice-key-0001"),
                    lambda: bob.order({sku_id: 2}, key="bob-key-00001")])

    got = [(a.status_code, a.data.get("user_id"), a.data["items"][0]["quantity"] if "items" in a.data else None)
           for a in answers]
    assert got == [(201, "U-alice", 1), (201, "U-bob", 2)], \
        f"expected alice's order of 1 and bob's order of 2, got {got}"
