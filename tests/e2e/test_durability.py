"""`kill -9` of `make run` mid-flash-sale loses no acknowledged order or payment, and stock still matches the orders.

Buyers order and pay over real HTTP while the whole stack's process group is
SIGKILLed (no signal handler, no final save). The stack is then started again
on the same data directory, as a developer would after a crash, and every order
and payment the API acknowledged is read back, with the inventory row checked
against every order the shop holds.
"""
from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from urllib.parse import quote

import pytest

from tests.e2e.test_checkout_flash_sale import Stack

STOCK = 400
BUYERS = 6


def shop_until_stopped(stack: Stack, buyer: tuple, sku_id: str, stop: threading.Event, acked: dict, paid: set,
                       lock: threading.Lock) -> None:
    token, _, address_id = buyer
    for n in range(10**6):
        if stop.is_set():
            return
        try:
            status, order = stack.order(token, address_id, {sku_id: 1 + n % 2}, key=f"{token[-12:]}-{n}")
            if status != 201:
                continue
            with lock:
                acked[order["order_id"]] = (token, 1 + n % 2)
            if n % 2 == 0:
                status, result = stack.request("POST", "/payments/sandbox/pay", {"order_id": order["order_id"]},
                                               token=token)
                if status == 200 and result.get("status") == "PAID":
                    with lock:
                        paid.add(order["order_id"])
        except (OSError, http.client.HTTPException):  # a reply cut off mid-body by the kill is an IncompleteRead
            return  # the stack is gone: what it acknowledged before is all that counts


def all_orders(stack: Stack, staff: str) -> list[dict]:
    orders, cursor = [], None
    while True:
        status, page = stack.request("GET", "/admin/orders?limit=50" + (f"&cursor={quote(cursor)}" if cursor else ""),
                                     token=staff)
        assert status == 200, page
        orders += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return orders


@pytest.mark.parametrize("round_number", range(2))
def test_kill_9_mid_sale_loses_no_acknowledged_order_or_payment(tmp_path, round_number):
    env = {"MALL_ORDER_PAYMENT_TIMEOUT": "3600"}
    stack = Stack(tmp_path, extra_env=env).wait_ready()
    acked: dict[str, tuple[str, int]] = {}
    paid: set[str] = set()
    try:
        sku_id = stack.new_product([STOCK])["skus"][0]["sku_id"]
        buyers = [stack.buyer(f"crash-{round_number}-{n}") for n in range(BUYERS)]
        stop, lock = threading.Event(), threading.Lock()
        threads = [threading.Thread(target=shop_until_stopped, args=(stack, buyer, sku_id, stop, acked, paid, lock))
                   for buyer in buyers]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while (len(acked) < 40 + 30 * round_number or len(paid) < 8) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(stack.process.pid, signal.SIGKILL)  # mid-flight: requests are still arriving
        stack.process.wait()
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        if stack.process.poll() is None:
            os.killpg(stack.process.pid, signal.SIGKILL)
    assert len(acked) >= 40 and len(paid) >= 8, (len(acked), len(paid), stack.output()[-3000:])

    restarted = Stack(tmp_path, extra_env=env).wait_ready()
    try:
        for order_id, (token, _) in acked.items():
            status, order = restarted.request("GET", f"/orders/{order_id}", token=token)
            assert status == 200, f"acknowledged order {order_id} is gone after kill -9: {order}\n" + \
                restarted.output()[-4000:]
            if order_id in paid:
                assert order["status"] == "PAID", f"acknowledged payment of {order_id} is gone: {order['status']}"
        staff = restarted.request("POST", "/admin/login", {"username": "admin", "password": "admin"})[1]["token"]
        units = {"PENDING_PAYMENT": 0, "PAID": 0}
        for order in all_orders(restarted, staff):
            for line in order["items"]:
                if line["sku_id"] == sku_id:
                    units[order["status"]] = units.get(order["status"], 0) + line["quantity"]
        inventory = restarted.inventory(sku_id)
        assert inventory["reserved"] == units["PENDING_PAYMENT"], (inventory, units)
        assert inventory["sold"] == units["PAID"], (inventory, units)
        assert sum(inventory.values()) == STOCK, inventory
    finally:
        assert restarted.stop() == 0, restarted.output()
