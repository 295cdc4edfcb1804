"""Checkout throughput and latency over real HTTP, beside the embedded DynamoDB's raw transaction rate.

What runs: the local stack exactly as `make run` starts it (`python -m infra.local` in a
subprocess: the embedded DynamoDB, the event pump and Chalice's local HTTP server in
one process), with its DynamoDB on a port chosen here, a fresh stack per level. This process is the load:
1, 8 and 32 client threads each POST /orders for one unit of one hot SKU, a new
Idempotency-Key per request, for a fixed time. Against the same embedded server,
the same thread counts send TransactWriteItems shaped like a 1-line checkout's
(the inventory update conditioned on stock, the order put, the idempotency put:
3 items) straight through boto3.

The two kinds of window run in the order checkout, raw, raw, checkout at each
level: any drift of the machine or the tables then weighs on both alike. Before
and after the windows, one call at a time, a checkout, a raw
transaction and the reads a checkout makes take turns: the cleanest overhead figure.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = (1, 8, 32)
WINDOW_SECONDS = float(os.environ.get("BENCH_CHECKOUT_SECONDS", "2"))
# With one request at a time in the embedded server, a client waits about clients x one commit; windows and
# warm-ups grow with the clients so that every level's windows hold many complete requests.
SECONDS_PER_CLIENT = 0.125
TARGET_RATIO = 1.5
TABLE_PREFIX = "micromall-local-"
SKU_STOCK = 10**6
ALONE_ROUNDS = 11


@dataclass
class Level:
    """One or more timed windows: `completed` operations ended inside them; `latencies` are those of
    every successful operation that started inside them, however late it ended (so slow ones count)."""
    clients: int
    seconds: float
    completed: int
    latencies: list[float]
    errors: int

    def __add__(self, other: Level) -> Level:
        return Level(self.clients, self.seconds + other.seconds, self.completed + other.completed,
                     self.latencies + other.latencies, self.errors + other.errors)

    @property
    def rate(self) -> float:
        return self.completed / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the stack ------------------------------------------------------------------

class Stack:
    """`python -m infra.local` in its own process group, stopped with Ctrl-C as a terminal would."""

    def __init__(self, schedule_seconds: str | None = "3600"):
        self.port, self.dynamodb_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dynamodb_url = f"http://127.0.0.1:{self.dynamodb_port}"
        self.clients: list = []  # boto3 clients on the embedded server, closed before it stops
        self.local_dir = local_dir = Path(tempfile.mkdtemp(prefix="micromall-bench-stack-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MALL_", "AWS_"))}
        env.update({"PORT": str(self.port), "MALL_LOCAL_DIR": str(local_dir),
                    "MALL_LOCAL_DYNAMODB_PORT": str(self.dynamodb_port)})
        if schedule_seconds is not None:
            # Hourly for throughput windows: the sweeper's sixteen queries would otherwise land inside them.
            env["MALL_LOCAL_SCHEDULE_SECONDS"] = schedule_seconds
        self._log = (local_dir / "stack.log").open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "infra.local"], cwd=ROOT, env=env,
                                        stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 120) -> Stack:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the local stack exited early ({self.process.returncode}), see {self._log.name}")
            try:
                if self.request("GET", "/health")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the local stack was not ready in {timeout:.0f} s, see {self._log.name}")

    def request(self, method: str, path: str, body=None, token: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict]:
        data = None if body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def stop(self) -> None:
        """Ctrl-C, and no more than a few seconds for it: the stack's data is thrown away, so its final
        compaction need not finish."""
        import shutil

        for client in self.clients:
            client.close()  # open keep-alive connections would hold the embedded server's shutdown
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        shutil.rmtree(self.local_dir, ignore_errors=True)


def expect(status: int, body, wanted: int, what: str) -> dict:
    if status != wanted:
        raise RuntimeError(f"{what}: expected {wanted}, got {status}: {body}")
    return body


def prepare_shop(stack: Stack, clients: int) -> dict:
    """A hot SKU for checkouts, another for raw transactions, and one buyer with an address per client."""
    staff = expect(*stack.request("POST", "/admin/login", {"username": "admin", "password": "admin"}), 200,
                   "admin login")["token"]
    category = expect(*stack.request("POST", "/admin/categories", {"name": "基准"}, token=staff), 201, "category")
    product = expect(*stack.request("POST", "/admin/products", {
        "title": "下单基准商品", "category_id": category["category_id"],
        "skus": [{"specs": {"款式": "下单"}, "price": 1990, "stock": SKU_STOCK},
                 {"specs": {"款式": "裸事务"}, "price": 1990, "stock": SKU_STOCK}]}, token=staff), 201, "product")
    buyers = []
    for n in range(clients):
        login = expect(*stack.request("POST", "/auth/login", {"code": f"dev:bench-{n}"}), 200, "buyer login")
        address = expect(*stack.request("POST", "/me/addresses", {
            "name": "张三", "phone": "13800138000", "province": "广东省", "city": "深圳市", "district": "南山区",
            "detail": "科技园 1 号"}, token=login["token"]), 201, "address")
        buyers.append((login["token"], address["address_id"]))
    shop = {"sku_id": product["skus"][0]["sku_id"], "raw_sku_id": product["skus"][1]["sku_id"], "buyers": buyers}
    if not checkout_operation(stack, shop, "first")(0, 0):  # an order for raw transactions to copy
        raise RuntimeError("the first checkout failed")
    return shop


# --- load -------------------------------------------------------------------------

def window_seconds(clients: int) -> float:
    return max(WINDOW_SECONDS, clients * SECONDS_PER_CLIENT)


def warmup_seconds(clients: int) -> float:
    return max(0.5, clients * SECONDS_PER_CLIENT / 2)


def run_level(clients: int, operation: Callable[[int, int], bool], seconds: float) -> Level:
    """`clients` threads call operation(client, n) back to back; a window of `seconds` after a warm-up."""
    records: list[list[tuple[float, float, bool]]] = [[] for _ in range(clients)]  # (began, ended, ok)
    start = threading.Barrier(clients + 1)
    stop = threading.Event()

    def client(index: int) -> None:
        start.wait()
        n = 0
        while not stop.is_set():
            began = time.perf_counter()
            try:
                ok = operation(index, n)
            except Exception:  # noqa: BLE001 - counted as an error; the run goes on
                ok = False
            records[index].append((began, time.perf_counter(), ok))
            n += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    time.sleep(warmup_seconds(clients))
    opened = time.perf_counter()
    time.sleep(seconds)
    closed = time.perf_counter()
    stop.set()
    for thread in threads:
        thread.join()
    done = [record for row in records for record in row]
    started = [(began, ended, ok) for began, ended, ok in done if opened <= began < closed]
    return Level(clients, closed - opened, sum(1 for _, ended, ok in done if ok and opened <= ended < closed),
                 [ended - began for began, ended, ok in started if ok], sum(1 for *_, ok in started if not ok))


def checkout_operation(stack: Stack, shop: dict, run_id: str) -> Callable[[int, int], bool]:
    def place(client: int, n: int) -> bool:
        token, address_id = shop["buyers"][client]
        status, _ = stack.request("POST", "/orders", {"address_id": address_id,
                                                       "items": [{"sku_id": shop["sku_id"], "quantity": 1}]},
                                  token=token, headers={"Idempotency-Key": f"bench-{run_id}-{client}-{n}"})
        return status == 201
    return place


def dynamodb_client(stack: Stack):
    import boto3
    from botocore.config import Config

    client = boto3.client("dynamodb", endpoint_url=stack.dynamodb_url, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local",
                          config=Config(max_pool_connections=max(CLIENTS) * 2, retries={"max_attempts": 1}))
    stack.clients.append(client)
    return client


def raw_transaction_operation(stack: Stack, shop: dict) -> Callable[[int, int], bool]:
    """A 1-line checkout's TransactWriteItems: copy a real order item, so the put is the same size."""
    client = dynamodb_client(stack)
    template = sample_order(client)
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000+0000", time.gmtime())

    def commit(thread: int, n: int) -> bool:
        order_id = f"RAW{uuid.uuid4().hex}"
        order = {**template, "order_id": {"S": order_id}}
        client.transact_write_items(TransactItems=[
            {"Update": {"TableName": f"{TABLE_PREFIX}inventory",
                        "Key": {"sku_id": {"S": shop["raw_sku_id"]}, "shard": {"N": "0"}},
                        "UpdateExpression": "ADD available :minus, reserved :one SET updated_at = :now",
                        "ConditionExpression": "available >= :one AND on_sale = :yes AND price = :price",
                        "ExpressionAttributeValues": {":minus": {"N": "-1"}, ":one": {"N": "1"},
                                                      ":now": {"S": now}, ":yes": {"BOOL": True},
                                                      ":price": {"N": "1990"}}}},
            {"Put": {"TableName": f"{TABLE_PREFIX}orders", "Item": order,
                     "ConditionExpression": "attribute_not_exists(order_id)"}},
            {"Put": {"TableName": f"{TABLE_PREFIX}idempotency",
                     "Item": {"id": {"S": f"raw#{order_id}"}, "status": {"S": "COMPLETED"},
                              "data": {"S": order_id}, "validation": {"S": "0" * 64},
                              "expiration": {"N": str(int(time.time()) + 86400)}},
                     "ConditionExpression": "attribute_not_exists(id)"}}])
        return True
    return commit


def sample_order(client) -> dict:
    page = client.scan(TableName=f"{TABLE_PREFIX}orders", Limit=1)
    if not page["Items"]:
        raise RuntimeError("no order to copy")
    return page["Items"][0]


def http_floor(stack: Stack) -> Callable[[], object]:
    return lambda: stack.request("GET", "/health")


@dataclass
class Alone:
    """Median seconds of each kind of call made one at a time, the kinds taking turns."""
    orders: int
    medians: dict[str, float]

    def __getitem__(self, name: str) -> float:
        return self.medians[name]


def alone(stack: Stack, shop: dict, rounds: int = ALONE_ROUNDS) -> Alone:
    client = dynamodb_client(stack)
    place = checkout_operation(stack, shop, f"alone-{uuid.uuid4().hex[:8]}")
    commit = raw_transaction_operation(stack, shop)
    turns = iter(range(10**9))
    calls: dict[str, Callable[[], object]] = {
        "checkout": lambda: place(0, next(turns)),
        "TransactWriteItems": lambda: commit(0, 0),
        "BatchGetItem": lambda: client.batch_get_item(RequestItems={  # a checkout's reads by key, as it asks them
            f"{TABLE_PREFIX}idempotency": {"Keys": [{"id": {"S": "checkout#nobody#no-such-key"}}],
                                           "ConsistentRead": True},
            f"{TABLE_PREFIX}inventory": {"Keys": [{"sku_id": {"S": shop["sku_id"]}, "shard": {"N": "0"}}]}}),
        "GET /health": http_floor(stack),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            began = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - began)
    return Alone(count_items(client, "orders"), {name: statistics.median(t) for name, t in times.items()})


@dataclass
class Measured:
    clients: int
    checkout: Level
    raw: Level
    first: Alone
    last: Alone


def measure(clients: int, extra: Callable[[Stack], None] | None = None) -> Measured:
    """One level on a stack of its own, so every level starts from the same tables."""
    stack = Stack().wait_ready()
    try:
        shop = prepare_shop(stack, clients)
        first = alone(stack, shop)
        place = checkout_operation(stack, shop, f"level-{clients}")
        commit = raw_transaction_operation(stack, shop)
        seconds = window_seconds(clients)
        opening = run_level(clients, place, seconds)
        raw = run_level(clients, commit, seconds) + run_level(clients, commit, seconds)
        checkout = opening + run_level(clients, place, seconds)
        last = alone(stack, shop)
        if extra is not None:
            extra(stack)
    finally:
        stack.stop()
    return Measured(clients, checkout, raw, first, last)


def count_items(client, table: str) -> int:
    pages = client.get_paginator("scan").paginate(TableName=f"{TABLE_PREFIX}{table}", Select="COUNT")
    return sum(page["Count"] for page in pages)


# --- the report section ------------------------------------------------------------

def checkout_section() -> str:
    started = time.perf_counter()
    levels = []
    for clients in CLIENTS:
        progress(f"{clients} client(s), {time.perf_counter() - started:.0f} s in")
        levels.append(measure(clients))
    progress(f"done in {time.perf_counter() - started:.0f} s")
    return render(levels, time.perf_counter() - started)


def progress(message: str) -> None:
    print(f"checkout bench: {message}", file=sys.stderr, flush=True)


def render(levels: list[Measured], took: float) -> str:
    rows = []
    for level in levels:
        checkout, raw = level.checkout, level.raw
        rows.append(f"| {level.clients} | {checkout.rate:.1f}/s | {ms(checkout.percentile(0.5))} "
                    f"| {ms(checkout.percentile(0.99))} | {checkout.errors} | {raw.rate:.1f}/s "
                    f"| {ms(raw.percentile(0.5))} | {ms(raw.percentile(0.99))} | {raw.errors} "
                    f"| **{raw.rate / checkout.rate:.2f}x** |")
    worst = max(level.raw.rate / level.checkout.rate for level in levels)
    verdict = "meets" if worst <= TARGET_RATIO else "MISSES"
    one_at_a_time = []
    for level in levels:
        for when, at in (("before", level.first), ("after", level.last)):
            reads = at["BatchGetItem"]
            one_at_a_time.append(
                f"| {plural(level.clients, 'client')}, {when} | {at.orders} | {ms(at['checkout'])} "
                f"| {ms(at['TransactWriteItems'])} | **{at['checkout'] / at['TransactWriteItems']:.2f}x** "
                f"| {ms(reads)} | {ms(at['GET /health'])} |")
    overheads = [at["checkout"] / at["TransactWriteItems"] for level in levels for at in (level.first, level.last)]
    biggest = max((level.last for level in levels), key=lambda at: at.orders)
    smallest = min((level.first for level in levels), key=lambda at: at.orders)
    growth = (biggest["TransactWriteItems"] - smallest["TransactWriteItems"]) \
        / max(1, biggest.orders - smallest.orders) * 100  # seconds per 100 orders
    levels_text = " / ".join(str(level.clients) for level in levels)
    windows = " / ".join(f"{window_seconds(level.clients):g}" for level in levels)
    warmups = " / ".join(f"{warmup_seconds(level.clients):g}" for level in levels)
    table, alone_table = "\n".join(rows), "\n".join(one_at_a_time)
    worst_alone = max((at for level in levels for at in (level.first, level.last)),
                      key=lambda at: at["checkout"] / at["TransactWriteItems"])
    alone_verdict = f"within the {TARGET_RATIO}x target" if max(overheads) <= TARGET_RATIO else \
        f"over the {TARGET_RATIO}x target at worst, with {worst_alone.orders} orders in the table"
    return f"""## Checkout: throughput and latency over real HTTP

What runs: the local stack as `make run` starts it, in a subprocess (`python -m infra.local`: the
embedded DynamoDB with its journal, the event pump and Chalice's local HTTP server share that one
process and its GIL; only the schedules are moved out of the way), a fresh stack for each level. The
benchmark process is the load: each client thread POSTs /orders for 1 unit of one hot SKU with a new
Idempotency-Key, back to back. Beside it, against the same embedded server, the same number of threads
send a 1-line checkout's TransactWriteItems straight through boto3 (3 items: the inventory update
conditioned on stock, on sale and price; a copy of a real order item; the idempotency record). At
each level the windows run checkout, raw, raw, checkout ({windows} s each for {levels_text} clients,
after warm-ups of {warmups} s), so the tables' growth weighs on both kinds alike. p50 and p99 are
over the requests started in a window. Section time {took:.0f} s.

| clients | checkouts | p50 | p99 | errors | raw TransactWriteItems | p50 | p99 | errors | raw / checkout |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
{table}

Target <= {TARGET_RATIO}x: {verdict} (worst {worst:.2f}x).

One call at a time, before and after each level's windows, the kinds taking turns (medians of {ALONE_ROUNDS}):

| stack | orders in the table | checkout over HTTP | 3-item TransactWriteItems | checkout / raw \
| a checkout's reads (1 BatchGetItem over its tables) | GET /health |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
{alone_table}

One at a time a checkout costs {min(overheads):.2f}-{max(overheads):.2f}x a raw transaction ({alone_verdict});
a transaction's cost changed by {ms(growth)} per 100 orders in the table between the smallest and the largest
stack here (the undo log touches only the transaction's own items). What a checkout adds is its one
batch of reads and its own work (HTTP, JWT, pydantic, PynamoDB), a fixed few milliseconds. Under load both kinds
queue on the embedded server's one lock (one request at a time, so more clients add waiting, not
throughput) and trade places within the noise (the raw threads' own boto3 work runs in the benchmark
process beside the load). None of this is DynamoDB's cost in AWS, where each call is a network round
trip of a few milliseconds and Lambda scales out.
"""


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


if __name__ == "__main__":
    print(checkout_section())
