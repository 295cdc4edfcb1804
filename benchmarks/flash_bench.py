"""Flash-sale orders over real HTTP on the local stack, beside plain checkouts in the same run.

What runs: the local stack as `make run` starts it (benchmarks.checkout.Stack, schedules hourly so
the sweeper stays out of the windows). A sale of a large pool over 4 shards (it does not sell out
while measured) and a plain SKU; `CLIENTS` threads each POST /orders back to back, windows taking
turns plain, flash, flash, plain, so a drift of the machine weighs on both alike. Then a second sale
of `SMALL_STOCK` units is sold out by the same clients, and `AFTER` more requests are sent once the
first SOLD_OUT came back: the share of them that reached a reservation transaction is counted from
the stack's own `FlashReservationAttempts` metric lines (one per TransactWriteItems checkout/flash.py
attempts), read from the stack's log. Target 0.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from benchmarks.checkout import Level, Stack, checkout_operation, expect, prepare_shop, progress, run_level

CLIENTS = 8
BUYERS = 32  # per_user_limit 99 each: room for every order the windows can place
WINDOW_SECONDS = float(os.environ.get("BENCH_FLASH_SECONDS", "4"))
SMALL_STOCK = 40
AFTER = 400


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_sale(stack: Stack, staff: str, sku_id: str, stock: int) -> dict:
    now = datetime.now(UTC)
    return expect(*stack.request("POST", "/admin/flash-sales", {
        "sku_id": sku_id, "sale_price": 990, "stock": stock, "per_user_limit": 99, "shards": 4,
        "starts_at": iso(now - timedelta(seconds=1)), "ends_at": iso(now + timedelta(hours=2))}, token=staff),
        201, "flash sale")


def flash_operation(stack: Stack, shop: dict, sale: dict, run_id: str, answers: list | None = None):
    def place(client: int, n: int) -> bool:
        token, address_id = shop["buyers"][(client + n * CLIENTS) % len(shop["buyers"])]
        status, body = stack.request("POST", "/orders", {
            "address_id": address_id, "flash_sale_id": sale["sale_id"],
            "items": [{"sku_id": sale["sku_id"], "quantity": 1}]},
            token=token, headers={"Idempotency-Key": f"flash-{run_id}-{client}-{n}"})
        if answers is not None:
            answers.append((status, (body.get("error") or {}).get("code") if isinstance(body, dict) else None))
        return status == 201
    return place


def attempts_in_log(stack: Stack) -> int:
    stack._log.flush()
    return (stack.local_dir / "stack.log").read_text(errors="replace").count('"FlashReservationAttempts"')


def sold_out_crowd(stack: Stack, shop: dict, staff: str) -> tuple[int, int, int, int]:
    """(orders, their reservation attempts, requests after the first SOLD_OUT, those of them that attempted one)."""
    sale = new_sale(stack, staff, shop["sku_id"], SMALL_STOCK)
    start = attempts_in_log(stack)
    answers: list = []
    place = flash_operation(stack, shop, sale, f"out-{uuid.uuid4().hex[:6]}", answers)
    seen_sold_out = threading.Event()
    counter = iter(range(10**9))

    def client(index: int) -> None:
        while not seen_sold_out.is_set():
            place(index, next(counter))
            if any(code == "SOLD_OUT" for _, code in answers[-CLIENTS:]):
                seen_sold_out.set()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    orders = sum(1 for status, _ in answers if status == 201)
    before = attempts_in_log(stack)
    after: list = []
    late = flash_operation(stack, shop, sale, f"late-{uuid.uuid4().hex[:6]}", after)
    per_client = AFTER // CLIENTS
    threads = [threading.Thread(target=lambda i=i: [late(i, n) for n in range(per_client)]) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(0.5)
    if any(code != "SOLD_OUT" for _, code in after):
        raise RuntimeError(f"expected only SOLD_OUT after the sell-out, got {set(after)}")
    return orders, before - start, len(after), attempts_in_log(stack) - before


def flash_stack_section() -> str:
    progress("flash sale on the local stack")
    stack = Stack(schedule_seconds="3600").wait_ready()
    try:
        shop = prepare_shop(stack, BUYERS)
        staff = expect(*stack.request("POST", "/admin/login", {"username": "admin", "password": "admin"}), 200,
                       "admin login")["token"]
        sale = new_sale(stack, staff, shop["raw_sku_id"], 50_000)
        plain = checkout_operation(stack, shop, f"plain-{uuid.uuid4().hex[:6]}")
        flash = flash_operation(stack, shop, sale, f"flash-{uuid.uuid4().hex[:6]}")
        results: dict[str, Level] = {}
        for name, operation in (("plain", plain), ("flash", flash), ("flash", flash), ("plain", plain)):
            level = run_level(CLIENTS, operation, WINDOW_SECONDS)
            results[name] = results[name] + level if name in results else level
        orders, tries, late, attempted = sold_out_crowd(stack, shop, staff)
    finally:
        stack.stop()
    rows = "\n".join(f"| {label} | {level.rate:.0f} | {level.percentile(0.5) * 1000:.0f} ms | "
                     f"{level.percentile(0.99) * 1000:.0f} ms | {level.errors} |"
                     for label, level in (("plain checkout (1 line)", results["plain"]),
                                          ("flash-sale order", results["flash"])))
    share = attempted / late if late else float("nan")
    return f"""## Flash-sale orders on the local stack

{CLIENTS} clients POST /orders back to back on one local stack, windows of {WINDOW_SECONDS:g} s taking turns
(plain, flash, flash, plain; {BUYERS} buyers). Plain: one unit of a regular SKU. Flash: one unit of a
running sale (4 shards, a pool that does not run out). The embedded DynamoDB serves one request at a
time, so these are the stack's figures, not Lambda's.

| order | orders / s | p50 | p99 | errors |
| --- | ---: | ---: | ---: | ---: |
{rows}

Sell-out: a sale of {SMALL_STOCK} units sold {orders} orders in {tries} reservation attempts (the requests that
met the sell-out included); then {late} more requests were all answered
409 SOLD_OUT, and **{attempted}** of them reached a reservation transaction ({share:.1%}; target 0),
counted from the stack's own `FlashReservationAttempts` metric lines.
"""


if __name__ == "__main__":
    print(flash_stack_section())
