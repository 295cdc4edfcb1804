"""The local stack's own costs: checkout latency as the tables grow, and what an idle stack burns.

What runs: `python -m infra.local` in two subprocesses, exactly as `make run` starts it
(benchmarks.checkout.Stack), schedules at their own rates (the sweeper every minute,
the reconciler every 2). With every schedule forced to every 5 s instead, twelve times
the sweeper's work, one run here measured 3.5% of a core fresh and 3.4% holding 5,049
orders. One stack keeps about 20 orders; the other gets `BIG_ORDERS` more written
straight into its embedded DynamoDB (copies of a real order, with their own ids, buyers
and index attributes, so every index holds them too). Then one buyer on each checks out
one unit at a time, the two stacks taking turns (`ROUNDS` each, after a warm-up), so a
drift of a noisy machine weighs on both alike; the ratio is of the medians. Then each
stack is left alone and its process's CPU time and memory are read from /proc over
`IDLE_SECONDS`, fresh and holding the big tables.
"""
from __future__ import annotations

import os
import statistics
import time
import uuid
from dataclasses import dataclass

from benchmarks.checkout import TABLE_PREFIX, Stack, checkout_operation, dynamodb_client, prepare_shop, progress

BIG_ORDERS = int(os.environ.get("BENCH_BIG_ORDERS", "5000"))
ROUNDS = 21
IDLE_SECONDS = float(os.environ.get("BENCH_IDLE_SECONDS", "30"))
LATENCY_TARGET = 1.2
IDLE_TARGET = 0.03
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Largest:
    """One at a time, with the big tables: the largest writes the mall makes."""
    product_99_skus: float
    checkout_45_lines: float


@dataclass
class Idle:
    cpu_share: float  # of one core
    rss_before_mb: float
    rss_after_mb: float


def checkout_latencies(small: tuple[Stack, dict], big: tuple[Stack, dict]) -> tuple[float, float]:
    """Median one-at-a-time checkout on each stack, the two taking turns round by round."""
    places = [checkout_operation(stack, shop, f"turns-{uuid.uuid4().hex[:6]}") for stack, shop in (small, big)]
    for n in range(3):
        for place in places:
            place(0, 1000 + n)  # warm-up: first imports and connections
    times: list[list[float]] = [[], []]
    for n in range(ROUNDS):
        for index in ((0, 1) if n % 2 == 0 else (1, 0)):  # neither always goes first
            began = time.perf_counter()
            if not places[index](0, n):
                raise RuntimeError("a checkout failed")
            times[index].append(time.perf_counter() - began)
    return statistics.median(times[0]), statistics.median(times[1])


def largest_writes(stack: Stack, shop: dict) -> Largest:
    """A 99-SKU product (one 100-action transaction) and a 45-line checkout (93 actions)."""
    staff = stack.request("POST", "/admin/login", {"username": "admin", "password": "admin"})[1]["token"]
    category = stack.request("POST", "/admin/categories", {"name": "最大"}, token=staff)[1]["category_id"]
    skus = [{"specs": {"型号": f"{n}号"}, "price": 100 + n, "stock": 1000} for n in range(99)]
    began = time.perf_counter()
    status, product = stack.request("POST", "/admin/products", {"title": "九十九个规格", "category_id": category,
                                                                "skus": skus}, token=staff)
    product_seconds = time.perf_counter() - began
    if status != 201:
        raise RuntimeError(f"the 99-SKU product was refused: {status} {product}")
    token, address_id = shop["buyers"][0]
    lines = [{"sku_id": sku["sku_id"], "quantity": 1} for sku in product["skus"][:45]]
    began = time.perf_counter()
    status, order = stack.request("POST", "/orders", {"address_id": address_id, "items": lines}, token=token,
                                  headers={"Idempotency-Key": f"largest-{uuid.uuid4().hex[:8]}"})
    checkout_seconds = time.perf_counter() - began
    if status != 201:
        raise RuntimeError(f"the 45-line checkout was refused: {status} {order}")
    return Largest(product_seconds, checkout_seconds)


def fill_orders(stack: Stack, count: int) -> None:
    """`count` completed orders (copies of a real one, each with its own id, buyer and index shards), as a shop
    that has been selling for a while holds them: in the buyer, status and listing indexes, not in the sparse
    due index, which only unpaid and shipped orders occupy."""
    client = dynamodb_client(stack)
    template = client.scan(TableName=f"{TABLE_PREFIX}orders", Limit=1)["Items"][0]
    template = {name: value for name, value in template.items() if name not in ("due_shard", "due_at")}
    for start in range(0, count, 25):
        batch = []
        for n in range(start, min(count, start + 25)):
            order_id, buyer = f"01BENCH{uuid.uuid4().hex[:19].upper()}", f"U-bench-filler-{n % 500}"
            batch.append({"PutRequest": {"Item": {
                **template, "order_id": {"S": order_id}, "user_id": {"S": buyer}, "status": {"S": "COMPLETED"},
                "buyer_status": {"S": f"{buyer}#COMPLETED"}, "status_shard": {"S": f"COMPLETED#{n % 8}"},
                "listing_shard": {"S": f"ALL#{n % 8}"}}}})
        pending = {f"{TABLE_PREFIX}orders": batch}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def idle(stack: Stack, seconds: float = IDLE_SECONDS) -> Idle:
    settle(stack)
    rss_before, cpu_before, began = rss_mb(stack.process.pid), cpu_seconds(stack.process.pid), time.monotonic()
    time.sleep(seconds)
    cpu = cpu_seconds(stack.process.pid) - cpu_before
    return Idle(cpu / (time.monotonic() - began), rss_before, rss_mb(stack.process.pid))


def settle(stack: Stack, timeout: float = 90) -> None:
    """Until the pump has delivered what the last writes caused and the journal is folded into the snapshot."""
    data = stack.local_dir / "data"
    deadline = time.monotonic() + timeout
    time.sleep(3)
    while time.monotonic() < deadline:
        journal = data / "dynamodb.journal"
        if journal.exists() and journal.stat().st_size == 0 and not (data / "dynamodb.journal.compacting").exists():
            break
        time.sleep(0.5)
    time.sleep(2)


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def local_stack_section() -> str:
    started = time.perf_counter()
    small_stack = Stack(schedule_seconds=None)
    big_stack = Stack(schedule_seconds=None)
    try:
        small_stack.wait_ready()
        big_stack.wait_ready()
        progress("local stack: fresh idle")
        fresh_idle = idle(small_stack)
        small_shop, big_shop = prepare_shop(small_stack, 1), prepare_shop(big_stack, 1)
        progress(f"local stack: writing {BIG_ORDERS} orders")
        fill_orders(big_stack, BIG_ORDERS)
        settle(big_stack)
        small, big = checkout_latencies((small_stack, small_shop), (big_stack, big_shop))
        small_orders, big_orders = count_orders(small_stack), count_orders(big_stack)
        small_stack.stop()
        largest = largest_writes(big_stack, big_shop)
        progress("local stack: idle with the big tables")
        big_idle = idle(big_stack)
    finally:
        small_stack.stop()
        big_stack.stop()
    return render(small, small_orders, big, big_orders, largest, fresh_idle, big_idle, time.perf_counter() - started)


def count_orders(stack: Stack) -> int:
    client = dynamodb_client(stack)
    pages = client.get_paginator("scan").paginate(TableName=f"{TABLE_PREFIX}orders", Select="COUNT")
    return sum(page["Count"] for page in pages)


def render(small: float, small_orders: int, big: float, big_orders: int, largest: Largest, fresh: Idle,
           loaded: Idle, took: float) -> str:
    ratio = big / small
    worst_idle = max(fresh.cpu_share, loaded.cpu_share)
    return f"""## The local stack: checkout cost as tables grow, and an idle stack

What runs: `python -m infra.local` as `make run` starts it (embedded DynamoDB, event pump with the
schedules at their own rates, journal, Chalice's local server, one process), twice: one stack with small tables,
one after {BIG_ORDERS:,} more completed orders were written into it. One buyer on each checks out one unit at a
time, the two stacks taking turns, median of {ROUNDS} each, so the machine's drift weighs on both alike; then each
stack is left alone for {IDLE_SECONDS:g} s and its process's CPU time and resident memory are read from /proc.
Section time {took:.0f} s.

| orders in the table | checkout, one at a time |
| ---: | ---: |
| {small_orders:,} | {small * 1000:.1f} ms |
| {big_orders:,} | {big * 1000:.1f} ms |

Large / small: **{ratio:.2f}x** (target <= {LATENCY_TARGET}x: {"meets" if ratio <= LATENCY_TARGET else "MISSES"}).
A transaction keeps an undo log of the items it touches instead of deep-copying every table, and a
query reads its own partition (or its global index partition) instead of walking the table, so a
checkout's cost no longer grows with the orders held. With those {big_orders:,} orders, the largest writes
the mall makes, one at a time: a product with 99 SKUs (one 100-action transaction) took
{largest.product_99_skus * 1000:.0f} ms, and a 45-line checkout (93 actions) {largest.checkout_45_lines * 1000:.0f} ms.

| idle stack | CPU (share of one core) | resident memory, start -> end of the window |
| --- | ---: | ---: |
| fresh | {fresh.cpu_share * 100:.1f}% | {fresh.rss_before_mb:.0f} -> {fresh.rss_after_mb:.0f} MB |
| holding {big_orders:,} orders | {loaded.cpu_share * 100:.1f}% \
| {loaded.rss_before_mb:.0f} -> {loaded.rss_after_mb:.0f} MB |

Target below {IDLE_TARGET * 100:.0f}% of a core: {"meets" if worst_idle < IDLE_TARGET else "MISSES"}.
Moto still walks a whole index partition where DynamoDB would seek to the range condition: 5,000 orders
all waiting unpaid in the due index would cost each sweep a walk of them (one sweep a minute under `make run`).
Idle, the event pump polls each stream and queue once every 2 s and a write wakes it at once; the
schedules' sparse-index queries read only their index partitions; an empty GetRecords returns the
iterator it was given, and a superseded one is freed.
"""
