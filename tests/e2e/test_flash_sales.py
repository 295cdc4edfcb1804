"""A flash sale over real HTTP against `make run`, twice: 200 buyers, each firing duplicates, race for 50 units
over 5 pool shards; exactly 50 are sold, nobody gets more than the limit, no shard goes below zero, everyone else
is told SOLD_OUT or LIMIT_REACHED. The unpaid orders expire after the sale's short payment timeout, their units
are sold again to the next wave, and once the sale ends and those expire too, every unit is back in regular stock.

The pool shards are read straight from the stack's embedded DynamoDB (port picked by the test).
"""
from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.test_checkout_flash_sale import TABLE_PREFIX, Stack, eventually, in_parallel

BUYERS = 200
UNITS = 50
SHARDS = 5
REGULAR = 30  # units left in regular stock beside the sale
PAYMENT_TIMEOUT = 20  # seconds: long enough for the race on a shared 2-core machine, short enough to wait for


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FlashStack(Stack):
    def pool(self, sale_id: str) -> list[dict[str, int]]:
        import boto3

        client = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{self.dynamodb_port}",
                              region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local")
        shards = []
        for shard in range(SHARDS):
            item = client.get_item(TableName=f"{TABLE_PREFIX}flash_pools", ConsistentRead=True,
                                   Key={"pool_key": {"S": f"{sale_id}#{shard}"}})["Item"]
            shards.append({name: int(item[name]["N"]) for name in ("available", "reserved", "sold", "returned")})
        return shards

    def staff(self) -> str:
        status, login = self.request("POST", "/admin/login", {"username": "admin", "password": "admin"})
        assert status == 200, login
        return login["token"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = FlashStack(tmp_path_factory.mktemp("flash-sales"), extra_env={"MALL_LOCAL_SCHEDULE_SECONDS": "1"})
    running.wait_ready()
    yield running
    assert running.stop() == 0, running.output()


@pytest.fixture(scope="module")
def buyers(stack):
    made = in_parallel(BUYERS, lambda i: stack.buyer(f"flash-crowd-{i:03d}"))
    failed = [b for b in made if isinstance(b, BaseException)]
    assert not failed, f"expected every buyer to log in and add an address, got {failed[:3]}"
    return made


RETRIES = 8


def flash_order(stack, buyer, sale: dict, key: str):
    """As a client does: a 503 (the shop busy, or DynamoDB's answer lost) is sent again with the same key."""
    token, _, address_id = buyer
    body = {"address_id": address_id, "flash_sale_id": sale["sale_id"],
            "items": [{"sku_id": sale["sku_id"], "quantity": 1}]}
    for _ in range(RETRIES):
        status, answer = stack.request("POST", "/orders", body, token=token, headers={"Idempotency-Key": key},
                                       timeout=60)
        if status != 503:
            return status, answer
        time.sleep(0.5 + random.random())
    return status, answer


def race(stack, buyers, sale: dict, tag: str) -> list[tuple[int, int, dict, str]]:
    """Each buyer fires two orders with keys of their own and, every fourth buyer, the first key again."""
    shots = [(i, f"{tag}-{i:03d}-a") for i in range(len(buyers))] + \
        [(i, f"{tag}-{i:03d}-b") for i in range(len(buyers))] + \
        [(i, f"{tag}-{i:03d}-a") for i in range(0, len(buyers), 4)]
    answers = in_parallel(len(shots), lambda n: flash_order(stack, buyers[shots[n][0]], sale, shots[n][1]))
    errors = [a for a in answers if isinstance(a, BaseException)]
    assert not errors, f"expected every request answered, got {errors[:3]}"
    return [(shots[n][0], status, body, shots[n][1]) for n, (status, body) in enumerate(answers)]


def judge(stack, sale: dict, answers, expected_orders: int) -> dict[str, tuple[int, str]]:
    """The race's outcome: the distinct orders (order id -> (buyer, key)), after checking every rule."""
    statuses = Counter(status for _, status, _, _ in answers)
    assert set(statuses) <= {201, 409}, f"expected only 201 and 409, got {dict(statuses)}: " \
        f"{[body for _, status, body, _ in answers if status not in (201, 409)][:3]}"
    codes = Counter(body["error"]["code"] for _, status, body, _ in answers if status == 409)
    assert set(codes) <= {"SOLD_OUT", "LIMIT_REACHED"}, f"unexpected refusals {dict(codes)}"
    orders: dict[str, tuple[int, str]] = {}
    for buyer, status, body, key in answers:
        if status == 201:
            orders.setdefault(body["order_id"], (buyer, key))
            assert body["flash_sale_id"] == sale["sale_id"] and body["items"][0]["price"] == sale["sale_price"]
    assert len(orders) == expected_orders, f"expected {expected_orders} orders, got {len(orders)}; refusals {codes}"
    per_buyer = Counter(buyer for buyer, _ in orders.values())
    assert max(per_buyer.values()) == 1, "a buyer got more than the per-buyer limit of 1"
    by_key = defaultdict(set)
    for _, status, body, key in answers:
        if status == 201:
            by_key[key].add(body["order_id"])
    assert all(len(ids) == 1 for ids in by_key.values()), "a repeated Idempotency-Key made a second order"
    shards = stack.pool(sale["sale_id"])
    assert all(shard["available"] >= 0 for shard in shards), f"a shard went below zero: {shards}"
    assert sum(shard["reserved"] for shard in shards) == expected_orders, f"reserved units != orders: {shards}"
    return orders


@pytest.mark.parametrize("round_", range(2))
def test_two_hundred_buyers_race_for_fifty_units_and_expired_units_sell_again(stack, buyers, round_):
    staff = stack.staff()
    product = stack.new_product([UNITS + REGULAR], price=19900)
    sku_id = product["skus"][0]["sku_id"]
    now = datetime.now(UTC)
    status, sale = stack.request("POST", "/admin/flash-sales", {
        "sku_id": sku_id, "sale_price": 990, "stock": UNITS, "per_user_limit": 1, "shards": SHARDS,
        "starts_at": iso(now - timedelta(seconds=1)), "ends_at": iso(now + timedelta(hours=1)),
        "payment_timeout_seconds": PAYMENT_TIMEOUT}, token=staff)
    assert status == 201, sale
    assert stack.inventory(sku_id)["available"] == REGULAR

    started = time.monotonic()
    answers = race(stack, buyers, sale, f"r{round_}-w1")
    took = time.monotonic() - started
    assert took < PAYMENT_TIMEOUT, f"the race took {took:.1f} s, longer than the payment timeout: inconclusive"
    orders = judge(stack, sale, answers, UNITS)
    assert sum(shard["available"] for shard in stack.pool(sale["sale_id"])) == 0
    status, shown = stack.request("GET", f"/marketing/flash-sales/{sale['sale_id']}")
    assert status == 200 and (shown["remaining"], shown["status"]) == (0, "SOLD_OUT"), shown

    # nobody pays: the sweeper cancels every order after the sale's own timeout, units and quotas come back
    def units_back() -> bool:
        return sum(shard["available"] for shard in stack.pool(sale["sale_id"])) == UNITS
    assert eventually(units_back, timeout=PAYMENT_TIMEOUT + 30), f"units not back: {stack.pool(sale['sale_id'])}"
    token_of = {i: buyers[i][0] for i in range(BUYERS)}
    for order_id, (buyer, _) in list(orders.items())[:5]:
        status, order = stack.request("GET", f"/orders/{order_id}", token=token_of[buyer])
        assert (order["status"], order["cancel_reason"]) == ("CANCELLED", "TIMEOUT"), order

    # the next wave buys the same units again: the first wave's buyers got their quota back too
    wave = [buyers[i] for i in range(0, BUYERS, 2)]
    second = race(stack, wave, sale, f"r{round_}-w2")
    judge(stack, sale, second, UNITS)

    # ending the sale returns nothing now (all reserved); once the second wave expires every unit is regular stock
    status, ended = stack.request("POST", f"/admin/flash-sales/{sale['sale_id']}/end", token=staff)
    assert status == 200 and (ended["status"], ended["reserved"], ended["returned"]) == ("ENDED", UNITS, 0), ended

    def all_regular() -> bool:
        return stack.inventory(sku_id)["available"] == UNITS + REGULAR
    assert eventually(all_regular, timeout=PAYMENT_TIMEOUT + 30), \
        f"expected {UNITS + REGULAR} units in regular stock, got {stack.inventory(sku_id)}, {stack.pool(sale['sale_id'])}"
    shards = stack.pool(sale["sale_id"])
    assert [s["available"] + s["reserved"] + s["sold"] for s in shards] == [0] * SHARDS
    assert sum(s["returned"] for s in shards) == UNITS, f"every unit returned exactly once: {shards}"
